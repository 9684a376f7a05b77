// requires: netem, vlan
/**
 * The export keeps the meaning where this host's kernel cannot show it: the
 * exported file, deployed on namespaces as containerlab would deploy it
 * (containers.test-helpers.ts), has the same netem on each direction of each
 * link as `buildTopology` of the original (read back with `tc -j qdisc
 * show`; an end's ingress, on an IFB device here, is netem on the peer's
 * egress there) and reaches what the original reaches, over VLANs too.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { InterfaceScoped } from "../names/scoped.js";
import { DummyNet } from "../network/dummy-net.js";
import { assertNothingLeft } from "../testing/leftovers.js";
import { interfaceRows } from "../topology/describe.js";
import { buildTopology, type Lab } from "../topology/lab.js";
import { loadTopology } from "../topology/load.js";
import type { Topology } from "../topology/model.js";
import { deployOnNamespaces, reachability, type Containers } from "./containers.test-helpers.js";
import { exportTopology } from "./export.js";

type Qdisc = { kind: string; root?: boolean; options?: Record<string, unknown> };

/** The root netem options of a device in `host`, from `tc -j qdisc show`; undefined when its root is not netem. */
async function netemOf(host: DummyNet, device: string): Promise<Record<string, unknown> | undefined> {
  const shown = JSON.parse((await host.run(["tc", "-j", "qdisc", "show", "dev", device])).stdout) as Qdisc[];
  const root = shown.find((qdisc) => qdisc.root);
  return root?.kind === "netem" ? (root.options ?? {}) : undefined;
}

/** Per direction of each link, the netem a packet meets, as dummynet built it: the sender's egress, then the receiver's IFB. */
async function originalNetem(lab: Lab): Promise<string[]> {
  const lines: string[] = [];
  for (const link of lab.topology.links) {
    for (const [from, to] of [link.ends, [...link.ends].reverse()] as const) {
      const sender = lab.host(from.host);
      const receiver = lab.host(to.host);
      const egress = await netemOf(sender, new InterfaceScoped(from.iface, lab.uid).scoped);
      const ifb = (await receiver.tcRead(to.iface))?.ingress?.ifb;
      const ingress = ifb ? await netemOf(receiver, ifb) : undefined;
      lines.push(
        `${from.host}:${from.iface} -> ${to.host}:${to.iface}: ${JSON.stringify([egress, ingress].filter(Boolean))}`,
      );
    }
  }
  return lines;
}

/** The same, for the exported nodes (whose names and interfaces are the file's here): each sender's egress only. */
async function exportedNetem(topology: Topology, containers: Containers): Promise<string[]> {
  const lines: string[] = [];
  for (const link of topology.links) {
    for (const [from, to] of [link.ends, [...link.ends].reverse()] as const) {
      const egress = await netemOf(containers.nodes.get(from.host)!, from.iface);
      lines.push(`${from.host}:${from.iface} -> ${to.host}:${to.iface}: ${JSON.stringify([egress].filter(Boolean))}`);
    }
  }
  return lines;
}

async function sameMeaning(loaded: Topology): Promise<void> {
  const topology = loaded;
  // Without the programs (the lab's emulated CPU makes Node.js slow); the original never starts them (no lab.start()).
  const text = exportTopology({ ...loaded, programs: [] }, { to: "containerlab" });
  const lab = await buildTopology(loaded);
  const net = new DummyNet();
  try {
    const containers = await deployOnNamespaces(net, text);
    assert.deepEqual(
      containers.results.filter((result) => result.exitCode !== 0),
      [],
      "every exec command succeeds",
    );
    const original = await originalNetem(lab);
    assert.deepEqual(await exportedNetem(topology, containers), original);
    const addresses = interfaceRows(topology).flatMap((row) => row.addresses.map((a) => a.replace(/\/\d+$/, "")));
    const reached = await reachability(lab.hosts, addresses, 10);
    assert.deepEqual(await reachability(containers.nodes, addresses, 10), reached);
    assert.ok(
      reached.some((line) => line.endsWith(": reached")),
      reached.join("\n"),
    );
    console.log(`# ${topology.name}: ${original.length} directions, ${reached.length} host-address pairs, the same`);
  } finally {
    await Promise.allSettled([lab.cleanup(), net.cleanup()]);
  }
  assertNothingLeft(lab.uid);
  assertNothingLeft(net.uid);
}

describe("an exported topology keeps its netem and VLANs", { concurrency: false, timeout: 600_000 }, () => {
  test("lossy-pair: 20 ms and 10 % loss each way", async () => {
    await sameMeaning(await loadTopology("examples/lossy-pair.yaml"));
  });

  test("vlan-trunk: VLAN 10 and 20 over one link", async () => {
    await sameMeaning(await loadTopology("examples/vlan-trunk.yaml"));
  });

  test("every kind of netem option, an ingress moved to the peer, netem on a bridged port", async () => {
    const topology = await loadTopology({
      name: "netem-kinds.yaml",
      text: `
hosts: { a: {}, b: {}, sw: {}, c: {} }
links:
  - ends:
      - { at: "a:ab", address: 10.0.0.1/24, impair: { delay: 10, jitter: 2, delayCorrelation: 20, distribution: normal, rate: 20, ingress: { loss: { state: { p13: 2, p31: 40 } }, duplicate: 1 } } }
      - { at: "b:ba", address: 10.0.0.2/24 }
  - ends:
      - { at: "a:as", address: 10.1.0.1/24, impair: { delay: 5, reorder: 25, gap: 3, corrupt: 0.5, limit: 3000 } }
      - { at: "sw:sa", impair: { loss: { gemodel: { p: 1, r: 30, h: 20, k: 98 } }, slot: { min: 1, max: 3, packets: 8 }, rate: 50, packetOverhead: 14 } }
  - ends: ["sw:sc", { at: "c:cs", address: 10.1.0.2/24, impair: { delay: 3, loss: 1, lossCorrelation: 10, ecn: true } }]
bridges:
  - { name: br0, host: sw, interfaces: [sa, sc] }
`,
    });
    await sameMeaning(topology);
  });
});
