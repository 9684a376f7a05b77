// Per-test cost of dummynet/testing, in a fresh process: RUNS tests one after
// the other, each building a two-host network with one link through
// useNetwork (or useTopology) and ending as node:test ends a test: its
// t.after hooks (cleanup, then the check that nothing of its uid is left).
// Prints one JSON line with every test's setup and teardown in ms. EVIDENCE:
// the fixtures' evidence option ("on-failure", the default: every host
// recorded by tcpdump into a ring, thrown away as the test passes; "never").
//
// Helper "ip" is the floor: the same network made and removed with four
// plain ip commands run one after the other (namespaces and the veth born in
// them; each end's address and up; the namespaces deleted), no check.
//
// Usage: node testing-sample.mjs {useNetwork|useTopology|ip} RUNS [on-failure|never]
import { execFileSync } from "node:child_process";
import { useNetwork, useTopology } from "../../dist/testing/index.js";
import { parseCommandLine } from "../args.mjs";

const USAGE = "usage: node testing-sample.mjs {useNetwork|useTopology} RUNS [on-failure|never]";
const [helper, runsText = "20", evidence = "on-failure"] = parseCommandLine(
  USAGE,
  {},
  {
    allowPositionals: true,
  },
).positionals;
const runs = Number(runsText);
const text = `
hosts: { client: {}, server: {} }
links:
  - ends: [{ at: "client:eth0", address: 10.0.0.1/24 }, { at: "server:eth0", address: 10.0.0.2/24 }]
`;

/** What node:test does around a test body: collect t.after hooks, run them once the body is done (a passed test). */
function fakeTestContext() {
  const hooks = [];
  return {
    name: "bench",
    passed: true,
    after: (fn) => hooks.push(fn),
    end: async () => {
      for (const hook of hooks.reverse()) await hook();
    },
  };
}

/** One `ip -batch` (in namespace `netns` if given), fed `lines`, bounded. */
function ipBatch(lines, netns) {
  const argv = [...(netns ? ["-n", netns] : []), "-batch", "-"];
  execFileSync("ip", argv, { input: lines.join("\n") + "\n", stdio: ["pipe", "ignore", "inherit"], timeout: 30_000 });
}

/** The floor: four ip processes per test. */
function floorTest() {
  const [a, b] = [`fl${process.pid}-a`, `fl${process.pid}-b`];
  const t0 = performance.now();
  ipBatch([`netns add ${a}`, `netns add ${b}`, `link add eth0 netns ${a} type veth peer name eth0 netns ${b}`]);
  ipBatch(["addr add 10.0.0.1/24 dev eth0", "link set eth0 up"], a);
  ipBatch(["addr add 10.0.0.2/24 dev eth0", "link set eth0 up"], b);
  const t1 = performance.now();
  ipBatch([`netns delete ${a}`, `netns delete ${b}`]);
  return { setupMs: t1 - t0, teardownMs: performance.now() - t1 };
}

const samples = [];
for (let i = 0; i < runs; i++) {
  if (helper === "ip") {
    samples.push(floorTest());
    continue;
  }
  const t = fakeTestContext();
  const t0 = performance.now();
  if (helper === "useTopology") {
    await useTopology(t, { text, name: "pair.yaml" }, { evidence });
  } else {
    const net = useNetwork(t, { evidence });
    const [a, b] = await Promise.all([net.netnsAdd("client"), net.netnsAdd("server")]);
    await net.linkVethAdd("eth0", "eth0", { p1Namespace: a, p2Namespace: b });
    await Promise.all([a.addrAdd("10.0.0.1/24", "eth0"), b.addrAdd("10.0.0.2/24", "eth0")]);
    await Promise.all([a.up("eth0"), b.up("eth0")]);
  }
  const t1 = performance.now();
  await t.end();
  const t2 = performance.now();
  samples.push({ setupMs: t1 - t0, teardownMs: t2 - t1 });
}
console.log(JSON.stringify({ helper, runs, evidence, samples }));
