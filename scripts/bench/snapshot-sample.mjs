// snapshot() cost, in a fresh process: N hosts on a bridge in a switch
// namespace (N + 1 namespaces), one address each; then SNAPSHOTS snapshots in
// a row. Prints one JSON line with each snapshot's time in ms.
//
// Usage: node snapshot-sample.mjs N SNAPSHOTS
import { DummyNet } from "../../dist/index.js";
import { parseCommandLine } from "../args.mjs";

const [hostsText = "10", countText = "20"] = parseCommandLine(
  "usage: node snapshot-sample.mjs N SNAPSHOTS",
  {},
  {
    allowPositionals: true,
  },
).positionals;
const n = Number(hostsText);
const net = new DummyNet();
const samples = [];
try {
  const sw = await net.netnsAdd("sw");
  const br = await sw.bridgeAdd("br0");
  await sw.up(br);
  await Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const host = await net.netnsAdd(`h${i}`);
      await net.linkVethAdd("eth0", `p${i}`, { p1Namespace: host, p2Namespace: sw });
      await host.addrAdd(`10.0.0.${i + 1}/24`, "eth0");
      await host.up("eth0");
      await sw.bridgeSet(br, `p${i}`);
      await sw.up(`p${i}`);
    }),
  );
  for (let i = 0; i < Number(countText); i++) {
    const t0 = performance.now();
    await net.snapshot();
    samples.push(performance.now() - t0);
  }
} finally {
  await net.cleanup();
}
console.log(JSON.stringify({ hosts: n + 1, samples }));
