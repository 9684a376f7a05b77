// Two hosts, a link with 20 ms delay and 1 % loss each way, an echo server and a client.
import { test } from "node:test";
import assert from "node:assert/strict";
import { skipUnless, useTopology, waitForPort } from "dummynet/testing";

const link = `{ ends: [{ at: "a:eth0", address: 10.0.0.1/24 }, { at: "b:eth0", address: 10.0.0.2/24 }], impair: { delay: 20, loss: 1 } }`;
const server = `require("node:net").createServer((s) => s.pipe(s)).listen(7000)`;
const client = `const t = Date.now(), s = require("node:net").connect(7000, "10.0.0.2", () => s.write("hi"));
  s.on("data", () => { console.log(Date.now() - t); s.end(); });`;

test("the echo crosses a slow, lossy link in two round trips", async (t) => {
  if (!(await skipUnless(t, ["netem"]))) return; // skipped, naming netem, where the kernel lacks it
  const lab = await useTopology(t, { text: `{ hosts: { a: {}, b: {} }, links: [${link}] }` });
  await lab.host("b").runAsync([process.execPath, "-e", server], { daemon: true });
  await waitForPort(lab.host("b"), 7000, { timeout: 5000 });
  const reply = await lab.host("a").run([process.execPath, "-e", client], { timeout: 10_000 });
  assert.ok(Number(reply.stdout) >= 80, `connect + echo took ${reply.stdout} ms, expected 2 x 40 ms`);
});
