// One benchmark sample in a fresh process: builds a chain or star network
// through the dummynet library (built into dist/), tears it down, checks that
// no namespace of ours is listed, and prints one JSON line.
//
// Usage: node library-sample.mjs {chain|star} N {api|born|file} [rootless]
//   api:  the contract's imperative calls (netnsAdd and each host's up("lo")
//         by hand, linkVethAdd, then linkSet of each end), independent calls
//         issued together with Promise.all, as a test suite would write them;
//   born: the same, with each veth end made directly in its namespace
//         (linkVethAdd's p1Namespace/p2Namespace), no linkSet;
//   file: a topology document through the loader (src/topology).
//   rootless: the same build with `new DummyNet({ rootless: true })`, run by an
//         unprivileged user (bench.mjs drops to uid 65534): the holder starts on
//         the first command (counted in setup) and ends with cleanup, which
//         the check then confirms (the kernel removes its namespaces with it).
//         "api" is refused there (its veths are made in the host namespace).
import { execFileSync } from "node:child_process";
import { DummyNet } from "../../dist/index.js";
import { parseCommandLine } from "../args.mjs";

const USAGE = "usage: node library-sample.mjs {chain|star} N {api|born|file} [rootless]";
const [kind, nText, path = "api", mode = "root"] = parseCommandLine(USAGE, {}, { allowPositionals: true }).positionals;
const rootless = mode === "rootless";
const n = Number(nText);

const chainAddress = (i, end) => `10.${Math.floor(i / 256)}.${i % 256}.${end}/24`;
const starAddress = (i) => `10.1.${Math.floor((i + 1) / 256)}.${(i + 1) % 256}/16`;

async function veth(net, p1, p2, ns1, ns2, born) {
  if (born) return net.linkVethAdd(p1, p2, { p1Namespace: ns1, p2Namespace: ns2 });
  const [a, b] = await net.linkVethAdd(p1, p2);
  await Promise.all([net.linkSet(ns1, a), net.linkSet(ns2, b)]);
  return [a, b];
}

/** A host as the reference's users make one: the namespace, then its loopback up by hand. */
async function host(net, name) {
  const ns = await net.netnsAdd(name);
  await ns.up("lo");
  return ns;
}

async function buildWithApi(net, born) {
  const hosts = await Promise.all(Array.from({ length: n }, (_, i) => host(net, `n${i}`)));
  if (kind === "chain") {
    await Promise.all(
      Array.from({ length: n - 1 }, async (_, i) => {
        const [a, b] = await veth(net, `c${i}a`, `c${i}b`, hosts[i], hosts[i + 1], born);
        await Promise.all([hosts[i].addrAdd(chainAddress(i, 1), a), hosts[i + 1].addrAdd(chainAddress(i, 2), b)]);
        await Promise.all([hosts[i].up(a), hosts[i + 1].up(b)]);
      }),
    );
  } else {
    const hub = await host(net, "hub");
    const bridge = await hub.bridgeAdd("br0");
    await hub.up(bridge);
    await Promise.all(
      hosts.map(async (host, i) => {
        const [s, h] = await veth(net, `s${i}`, `h${i}`, host, hub, born);
        await Promise.all([host.addrAdd(starAddress(i), s), hub.bridgeSet(bridge, h)]);
        await Promise.all([host.up(s), hub.up(h)]);
      }),
    );
  }
}

async function buildWithFile(net) {
  const { parseTopology } = await import("../../dist/topology/load.js");
  const { buildNetwork } = await import("../../dist/topology/build.js");
  const hosts = Object.fromEntries(Array.from({ length: n }, (_, i) => [`n${i}`, {}]));
  const document =
    kind === "chain"
      ? {
          name: "bench-chain",
          hosts,
          links: Array.from({ length: n - 1 }, (_, i) => ({
            ends: [
              { at: `n${i}:c${i}a`, address: chainAddress(i, 1) },
              { at: `n${i + 1}:c${i}b`, address: chainAddress(i, 2) },
            ],
          })),
        }
      : {
          name: "bench-star",
          hosts: { ...hosts, hub: {} },
          links: Array.from({ length: n }, (_, i) => ({
            ends: [{ at: `n${i}:s${i}`, address: starAddress(i) }, `hub:h${i}`],
          })),
          bridges: [{ name: "br0", host: "hub", interfaces: Array.from({ length: n }, (_, i) => `h${i}`) }],
        };
  // The loader's whole path for a .json file (as loadTopology reads one): text, parse, schema, semantic checks, then
  // the build.
  await buildNetwork(parseTopology(JSON.stringify(document), `bench-${kind}-${n}.json`, { format: "json" }), net);
}

const net = new DummyNet({ rootless });
const t0 = performance.now();
if (path === "file") await buildWithFile(net);
else await buildWithApi(net, path === "born");
const t1 = performance.now();
const holder = rootless ? net.shell.privilege.holder : undefined;
await net.cleanup();
let remaining;
if (rootless) {
  // The holder's end is the teardown's last step: with it the kernel removes every namespace it held.
  remaining = holder !== undefined && isRunning(holder.pid) ? [`the holder (pid ${holder.pid})`] : [];
} else {
  const prefix = `d-${net.namespace.scoped.split("-")[1]}-`;
  remaining = execFileSync("ip", ["netns", "list"], { encoding: "utf8" })
    .split("\n")
    .filter((line) => line.startsWith(prefix));
}
const t2 = performance.now();
if (remaining.length > 0) {
  console.error(`teardown left ${remaining.length}: ${remaining.join(", ")}`);
  process.exit(1);
}
const rssMb = process.resourceUsage().maxRSS / 1024;
console.log(
  JSON.stringify({
    impl: `dummynet ${path}${rootless ? ", rootless" : ""}`,
    kind,
    n,
    setupS: (t1 - t0) / 1000,
    cleanupS: (t2 - t1) / 1000,
    peakRssMb: rssMb,
  }),
);

function isRunning(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error.code === "EPERM";
  }
}
