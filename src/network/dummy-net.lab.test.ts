// requires: netem, vlan
// DummyNet's kernel-feature methods for effect: the reference's bridge test
// with netem on the bridge ports, tc changes and restores, tcRead, and the
// reference's VLAN tests (ping over VLAN 200; VLANs 100 and 200 isolated).
import { afterEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { DummyNet } from "./dummy-net.js";
import { assertNothingLeft } from "../testing/leftovers.js";

let nextUid = (process.pid % 100000) * 10 + 3000000;
let net: DummyNet;

function rootQdisc(namespace: string, iface: string): string {
  const qdiscs = JSON.parse(
    execFileSync("tc", ["-n", namespace, "-j", "qdisc", "show", "dev", iface], { encoding: "utf8", timeout: 30_000 }),
  ) as { kind: string; root?: boolean }[];
  return qdiscs.find((q) => q.root)?.kind ?? "none";
}

/** The smallest RTT of a ping run: netem is never early, and a busy host only makes the guest's timers late. */
function minimumRtt(output: string): number {
  const match = /= ([\d.]+)\/[\d.]+\//.exec(output);
  assert.ok(match, `no rtt summary in ${output}`);
  return Number(match[1]);
}

async function pair(): Promise<[DummyNet, DummyNet, string, string]> {
  const demo0 = await net.netnsAdd("demo0");
  const demo1 = await net.netnsAdd("demo1");
  const [v0, v1] = await net.linkVethAdd("d0v0", "d1v0");
  await net.linkSet(demo0, v0);
  await net.linkSet(demo1, v1);
  await demo0.up(v0);
  await demo1.up(v1);
  return [demo0, demo1, v0.name, v1.name];
}

describe("DummyNet kernel features (lab)", { timeout: 1_200_000 }, () => {
  afterEach(async () => {
    await net.cleanup();
    assertNothingLeft(net.uid);
  });

  test("three namespaces through a bridge with netem on both ports: the delay is felt, a second call changes it", async () => {
    net = new DummyNet({ uid: nextUid++ });
    const demo0 = await net.netnsAdd("demo0");
    const demo1 = await net.netnsAdd("demo1");
    const demo2 = await net.netnsAdd("demo2");
    const br0 = await demo1.bridgeAdd("br0");
    const [d00, d10] = await net.linkVethAdd("demo0_0", "demo1_0");
    const [d11, d20] = await net.linkVethAdd("demo1_1", "demo2_0");
    await net.linkSet(demo0, d00);
    await net.linkSet(demo1, d10);
    await net.linkSet(demo1, d11);
    await net.linkSet(demo2, d20);
    await demo1.bridgeSet(br0, d10);
    await demo1.bridgeSet(br0, d11);
    await demo0.addrAdd("10.0.0.1/24", d00);
    await demo2.addrAdd("10.0.0.2/24", d20);
    for (const [ns, iface] of [
      [demo0, d00],
      [demo1, br0],
      [demo1, d10],
      [demo1, d11],
      [demo2, d20],
    ] as const)
      await ns.up(iface);

    // 20 ms on each bridge port's egress: 40 ms round trip.
    await demo1.tc(d10, { delay: 20, loss: 0, limit: 100, rate: 10 });
    await demo1.tc(d11, { delay: 20, limit: 100, rate: 10 });
    (await demo1.tcShow(d10)).match({ stdout: "*netem*delay 20ms*" });
    const applied = await demo1.tcRead(d10);
    assert.equal(applied?.kind, "netem");
    assert.equal(applied.netem?.delay, 20);
    assert.equal(applied.netem.rate, 10);
    assert.equal(applied.netem.limit, 100);

    const first = await demo0.run(["ping", "-c", "5", "-i", "0.2", "10.0.0.2"]);
    first.match({ stdout: "5 packets transmitted, 5 received*" });
    const rtt = minimumRtt(first.stdout);
    assert.ok(rtt >= 40 && rtt < 40 * 1.1 + 5, `rtt ${rtt} ms for 2 x 20 ms`);

    // A second call changes the delay and keeps the other values.
    await demo1.tc(d10, { delay: 5 });
    const changed = await demo1.tcRead(d10);
    assert.equal(changed?.netem?.delay, 5);
    assert.equal(changed.netem.rate, 10, "the rate set before is kept");
    const second = await demo0.run(["ping", "-c", "5", "-i", "0.2", "10.0.0.2"]);
    const rtt2 = minimumRtt(second.stdout);
    assert.ok(rtt2 >= 25 && rtt2 < 25 * 1.1 + 5, `rtt ${rtt2} ms for 20 + 5 ms`);
    assert.equal(net.cleaners.filter((c) => c.reason === "tc").length, 2, "one undo per interface");
  });

  test("cleanup restores the qdisc that was there before", async () => {
    net = new DummyNet({ uid: nextUid++ });
    const [demo0, , v0] = await pair();
    const ns = demo0.namespace.scoped;
    const iface = `d-${ns.split("-")[1]}-${v0}`;
    const before = rootQdisc(ns, iface);
    {
      // A second network on the same namespace: its cleanup must restore the link, not delete it.
      await using other = new DummyNet({ uid: net.uid });
      const demo0again = await other.netnsUse("demo0");
      await demo0again.tc(v0, { delay: 10, loss: 1 });
      assert.equal(rootQdisc(ns, iface), "netem");
    }
    assert.equal(rootQdisc(ns, iface), before);
  });

  test("100 % loss drops everything; ingress delay on one end is felt", async () => {
    net = new DummyNet({ uid: nextUid++ });
    const [demo0, demo1, v0, v1] = await pair();
    await demo0.addrAdd("10.0.1.1/24", v0);
    await demo1.addrAdd("10.0.1.2/24", v1);
    await demo0.tc(v0, { loss: 100 });
    const lost = await demo0.run("ping -c 3 -i 0.2 -W 1 10.0.1.2; test $? -eq 1");
    lost.match({ stdout: "*3 packets transmitted, 0 received*" });
    await demo0.tc(v0, { loss: 0, ingress: { delay: 30 } });
    const slow = await demo0.run(["ping", "-c", "3", "-i", "0.2", "10.0.1.2"]);
    const rtt = minimumRtt(slow.stdout);
    assert.ok(rtt >= 30 && rtt < 30 * 1.1 + 5, `rtt ${rtt} ms with 30 ms ingress delay`);
  });

  test("VLAN 200 on both ends: ping gets through", async () => {
    net = new DummyNet({ uid: nextUid++ });
    const [demo0, demo1, v0, v1] = await pair();
    const vlan0 = await demo0.linkVlanAdd(v0, 200);
    const vlan1 = await demo1.linkVlanAdd(v1, 200);
    assert.equal(vlan0.name, "d0v0.200");
    await demo0.addrAdd("10.0.200.1/24", vlan0);
    await demo1.addrAdd("10.0.200.2/24", vlan1);
    await demo0.up(vlan0);
    await demo1.up(vlan1);
    const [link] = JSON.parse(
      execFileSync("ip", ["-n", demo0.namespace.scoped, "-d", "-j", "link", "show", "dev", vlan0.scoped], {
        encoding: "utf8",
        timeout: 30_000,
      }),
    ) as { linkinfo: { info_kind: string; info_data: { id: number } } }[];
    assert.equal(link.linkinfo.info_kind, "vlan");
    assert.equal(link.linkinfo.info_data.id, 200);
    (await demo0.run(["ping", "-c", "3", "-i", "0.2", "10.0.200.2"])).match({
      stdout: "3 packets transmitted, 3 received*",
    });
    (await demo1.run(["ping", "-c", "3", "-i", "0.2", "10.0.200.1"])).match({
      stdout: "3 packets transmitted, 3 received*",
    });
  });

  test("VLANs 100 and 200 are isolated", async () => {
    net = new DummyNet({ uid: nextUid++ });
    const [demo0, demo1, v0, v1] = await pair();
    const vlan0 = await demo0.linkVlanAdd(v0, 100);
    const vlan1 = await demo1.linkVlanAdd(v1, 200);
    await demo0.addrAdd("10.0.100.1/24", vlan0);
    await demo1.addrAdd("10.0.100.2/24", vlan1);
    await demo0.up(vlan0);
    await demo1.up(vlan1);
    const out = await demo0.run("ping -c 3 -i 0.2 -W 1 10.0.100.2; test $? -eq 1");
    out.match({ stdout: "*3 packets transmitted, 0 received*" });
  });
});
