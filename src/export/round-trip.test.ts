/**
 * The export keeps the meaning: the exported file, deployed on namespaces as
 * containerlab would deploy it (containers.test-helpers.ts), reaches what the
 * original reaches and nothing more, and its programs print what the
 * original's print. On this host's kernel (no netem, no 802.1Q): the star
 * (a bridge made in exec), the NAT router (forwarding, routes, NAT) and a
 * file with sysctls, static routes and renamed interfaces. Netem and VLANs:
 * round-trip.lab.test.ts.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { DummyNet } from "../network/dummy-net.js";
import { assertNothingLeft } from "../testing/leftovers.js";
import { buildTopology } from "../topology/lab.js";
import { loadTopology } from "../topology/load.js";
import type { Topology } from "../topology/model.js";
import { interfaceRows } from "../topology/describe.js";
import { deployOnNamespaces, reachability } from "./containers.test-helpers.js";
import { exportTopology } from "./export.js";

/** Every address of the topology, without its prefix length. */
function addresses(topology: Topology): string[] {
  return interfaceRows(topology).flatMap((row) => row.addresses.map((address) => address.replace(/\/\d+$/, "")));
}

/** Builds the original and the export; compares reachability and the jobs' output; removes both. */
async function sameMeaning(topology: Topology, options: { jobs?: boolean } = {}): Promise<void> {
  const text = exportTopology(topology, { to: "containerlab" });
  const lab = await buildTopology(topology);
  const net = new DummyNet();
  try {
    const containers = await deployOnNamespaces(net, text);
    const failed = containers.results.filter((result) => result.exitCode !== 0);
    assert.deepEqual(failed, [], "every exec command succeeds");
    const original = await reachability(lab.hosts, addresses(topology));
    const exported = await reachability(containers.nodes, addresses(topology));
    assert.deepEqual(exported, original);
    assert.ok(
      original.some((line) => line.endsWith(": reached")),
      original.join("\n"),
    );
    if (options.jobs) {
      const programs = await lab.start();
      const expected = await Promise.all(
        programs.filter((p) => !p.daemon).map(async (p) => (await p.info.finished, `${p.host}: ${p.info.stdout}`)),
      );
      const jobLines = topology.programs
        .filter((p) => !p.daemon)
        .map((p) => {
          const result = containers.results.find((r) => r.node === p.host && r.command.includes("fetch("));
          return `${p.host}: ${result?.stdout ?? "(not run)"}`;
        });
      assert.deepEqual(jobLines.sort(), expected.sort());
      assert.ok(
        expected.every((line) => /answered|saw/.test(line)),
        expected.join("\n"),
      );
    }
  } finally {
    await Promise.allSettled([lab.cleanup(), net.cleanup()]);
  }
  assertNothingLeft(lab.uid);
  assertNothingLeft(net.uid);
}

describe("an exported topology deployed as containerlab would, on namespaces", { timeout: 240_000 }, () => {
  test("star: the bridge made in the switch node's exec joins the hosts; the jobs get their answers", async () => {
    await sameMeaning(await loadTopology("examples/star.yaml"), { jobs: true });
  });

  test("nat-router: the server sees the router's address, and cannot reach the client's subnet", async () => {
    const topology = await loadTopology("examples/nat-router.yaml");
    await sameMeaning(topology, { jobs: true });
  });

  test("sysctls, static routes, forwarding and a renamed eth0, through a chain of three", async () => {
    const topology = await loadTopology({
      name: "chain.yaml",
      text: `
hosts:
  a: { gateway: 10.1.0.2, sysctls: { net.ipv4.conf.all.rp_filter: 0, net.ipv4.tcp_syncookies: 0 } }
  b: { forwarding: true, routes: [{ to: 10.3.0.0/24, via: 10.2.0.3 }] }
  c: { forwarding: true, routes: [{ to: 10.1.0.0/24, via: 10.2.0.2 }] }
  d: { gateway: 10.3.0.3 }
links:
  - ends: [{ at: "a:eth0", address: 10.1.0.1/24 }, { at: "b:eth0", address: 10.1.0.2/24 }]
  - ends: [{ at: "b:b-c", address: 10.2.0.2/24 }, { at: "c:c-b", address: 10.2.0.3/24 }]
  - ends: [{ at: "c:c-d", address: 10.3.0.3/24 }, { at: "d:eth0", address: 10.3.0.4/24 }]
`,
    });
    const text = exportTopology(topology, { to: "containerlab" });
    assert.match(text, /sysctl -w net\.ipv4\.tcp_syncookies=0/);
    assert.doesNotMatch(text, /eth0/);
    await sameMeaning(topology);
  });
});
