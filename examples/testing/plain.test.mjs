// The same test in plain JavaScript, for Node versions without `await using`:
// the network is removed in `finally`, then nothing of its owner may be left.
// Run: node --test plain.test.mjs   (as root, or with passwordless sudo)
import { test } from "node:test";
import assert from "node:assert/strict";
import { DummyNet } from "dummynet";
import { assertNothingLeft, skipUnless, waitForPort } from "dummynet/testing";

const server = [process.execPath, "-e", `require("node:net").createServer((s) => s.pipe(s)).listen(7000)`];
const client = (address) => [
  process.execPath,
  "-e",
  `const t0 = performance.now();
   const s = require("node:net").connect(7000, process.argv[1], () => s.write("ping"));
   s.on("data", (d) => { console.log(d + " after " + Math.round(performance.now() - t0) + " ms"); s.end(); });`,
  address,
];

async function echoRoundTrip(delay) {
  const net = new DummyNet();
  try {
    const [a, b] = await Promise.all([net.netnsAdd("client"), net.netnsAdd("server")]);
    await net.linkVethAdd("eth0", "eth0", { p1Namespace: a, p2Namespace: b });
    await a.addrAdd("10.0.0.1/24", "eth0");
    await b.addrAdd("10.0.0.2/24", "eth0");
    await Promise.all([a.up("eth0"), b.up("eth0")]);
    if (delay) await Promise.all([a.tc("eth0", { delay }), b.tc("eth0", { delay })]);

    await b.runAsync(server, { daemon: true });
    await waitForPort(b, 7000, { timeout: 5000 });
    const reply = await a.run(client("10.0.0.2"), { timeout: 5000 });
    reply.match({ stdout: "ping after * ms" });
    return Number(/after (\d+) ms/.exec(reply.stdout)[1]);
  } finally {
    await net.cleanup();
    assertNothingLeft(net);
  }
}

test("the client gets its echo across the link", async () => {
  await echoRoundTrip(0);
});

test("across a link delayed 25 ms each way, the round trip takes at least 100 ms", async (t) => {
  if (!(await skipUnless(t, ["netem"]))) return;
  const ms = await echoRoundTrip(25);
  assert.ok(ms >= 100, `round trip took ${ms} ms`);
});
