// The same test with vitest: `net` and `topology` are fixtures, removed when the test ends.
// Run: npx vitest run   (as root, or with passwordless sudo)
import { expect } from "vitest";
import { skipUnless, test, waitForPort } from "dummynet/vitest";

const server = [process.execPath, "-e", `require("node:net").createServer((s) => s.pipe(s)).listen(7000)`];
const client = (address: string) => [
  process.execPath,
  "-e",
  `const t0 = performance.now();
   const s = require("node:net").connect(7000, process.argv[1], () => s.write("ping"));
   s.on("data", (d) => { console.log(d + " after " + Math.round(performance.now() - t0) + " ms"); s.end(); });`,
  address,
];

test("the client gets its echo across the link", async ({ net }) => {
  const [a, b] = await Promise.all([net.netnsAdd("client"), net.netnsAdd("server")]);
  await net.linkVethAdd("eth0", "eth0", { p1Namespace: a, p2Namespace: b });
  await a.addrAdd("10.0.0.1/24", "eth0");
  await b.addrAdd("10.0.0.2/24", "eth0");
  await Promise.all([a.up("eth0"), b.up("eth0")]);

  await b.runAsync(server, { daemon: true });
  await waitForPort(b, 7000, { timeout: 5000 });
  const reply = await a.run(client("10.0.0.2"), { timeout: 5000 });
  expect(reply.stdout).toMatch(/^ping after \d+ ms$/m);
});

test("across a link delayed 50 ms each way, the round trip takes at least 200 ms", async ({ topology, skip }) => {
  await skipUnless({ skip }, ["netem"]); // vitest's skip ends the test here where the kernel lacks netem
  const lab = await topology({
    name: "delayed.yaml",
    text: `
hosts: { client: {}, server: {} }
links:
  - ends: [{ at: "client:eth0", address: 10.0.0.1/24 }, { at: "server:eth0", address: 10.0.0.2/24 }]
    impair: { delay: 50 }
`,
  });
  await lab.host("server").runAsync(server, { daemon: true });
  await waitForPort(lab.host("server"), 7000, { timeout: 5000 });
  const reply = await lab.host("client").run(client(lab.address("server")), { timeout: 5000 });
  expect(Number(/after (\d+) ms/.exec(reply.stdout)![1])).toBeGreaterThanOrEqual(200);
});
