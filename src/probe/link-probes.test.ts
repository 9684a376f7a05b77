/**
 * `run --probe`'s link probes: which hosts each impaired link is probed
 * between and what its impairments should do (from loaded topologies), and
 * the probes for real on this kernel. The host lacks netem, so the real
 * probes run over the same topology built without its impairments (and with
 * a tbf rate added by hand): they check the machinery and the table, while
 * src/cli/run-probe.lab.test.ts checks netem's delay and loss in the lab.
 */
import { afterEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { InterfaceScoped } from "../names/scoped.js";
import { buildTopology, type Lab } from "../topology/lab.js";
import { loadTopology } from "../topology/load.js";
import { assertNothingLeft } from "../testing/leftovers.js";
import {
  formatLinkProbes,
  impairedLinkTargets,
  probeLinks,
  type LinkProbeSkip,
  type LinkProbeTarget,
} from "./link-probes.js";

const topology = (text: string) => loadTopology({ text, name: "test.yaml" });

const PAIR = `
name: pair
hosts: { a: {}, b: {} }
links:
  - ends: [{ at: "a:a-b", address: 10.0.0.1/24 }, { at: "b:b-a", address: 10.0.0.2/24 }]
    IMPAIR
`;
const TWO_LINKS = `
hosts: { a: {}, b: {} }
links:
  - ends: [{ at: "a:a-b", address: 10.0.0.1/24 }, { at: "b:b-a", address: 10.0.0.2/24 }]
    IMPAIR
  - ends: [{ at: "a:a2", address: 10.0.1.1/24 }, { at: "b:b2", address: 10.0.1.2/24 }]
    IMPAIR
`;
const pair = (impair: string) => topology(PAIR.replace("IMPAIR", impair ? `impair: ${impair}` : ""));

describe("impaired links of a topology: whom to probe, what to expect", () => {
  test("a pair with delay and loss both ways: a -> b at b's address, 40 ms round trip, 9.75 % lost", async () => {
    const [target, ...rest] = impairedLinkTargets(await pair("{ delay: 20, loss: 5 }")) as LinkProbeTarget[];
    assert.deepEqual(rest, []);
    assert.equal(target.link, "a:a-b <-> b:b-a");
    assert.deepEqual([target.from, target.to, target.address, target.via], ["a", "b", "10.0.0.2", undefined]);
    const c = target.configured;
    assert.equal(c.rttMs, 40);
    assert.equal(c.lossPercent, 9.75); // 1 - 0.95 x 0.95
    assert.equal(c.duplicatePercent, 0);
    assert.equal(c.goodputCeilingMbps, undefined);
    assert.deepEqual(c.there.impairments, ["a:a-b sends: delay 20ms, loss 5%"]);
    assert.deepEqual(c.back.impairments, ["b:b-a sends: delay 20ms, loss 5%"]);
  });

  test("an unimpaired file has no targets", async () => {
    assert.deepEqual(impairedLinkTargets(await pair("")), []);
  });

  test("a rate only on the way back: probed from b, so TCP crosses the rate; ingress counts on the receiving side", async () => {
    const t = await topology(`
hosts: { a: {}, b: {} }
links:
  - ends: [{ at: "a:a-b", address: 10.0.0.1/24, impair: { delay: 5, ingress: { delay: 3, duplicate: 10 } } }, { at: "b:b-a", address: 10.0.0.2/24, impair: { rate: 10, jitter: 2, delay: 1 } }]
`);
    const [target] = impairedLinkTargets(t) as LinkProbeTarget[];
    assert.deepEqual([target.from, target.to, target.address], ["b", "a", "10.0.0.1"]);
    const c = target.configured;
    assert.deepEqual(c.there.impairments, [
      "b:b-a sends: delay 1ms ±2ms, rate 10Mbit/s",
      "a:a-b receives: delay 3ms, duplicate 10%",
    ]);
    assert.deepEqual(c.back.impairments, ["a:a-b sends: delay 5ms"]);
    assert.equal(c.rttMs, 9);
    assert.equal(c.jitterMs, 2);
    assert.equal(c.duplicatePercent, 10);
    assert.equal(c.there.rateMbps, 10);
    assert.equal(c.goodputCeilingMbps, 9.564);
  });

  test("a link to a bridge: probed from the link's host to the first other host on the bridge, that link's delay included", async () => {
    const t = await topology(`
hosts: { sw: {}, h1: {}, h2: {}, h3: {} }
links:
  - ends: [{ at: "h1:h1-sw", address: 10.0.0.1/24 }, "sw:sw-h1"]
    impair: { delay: 10 }
  - ends: ["h2:h2-sw", "sw:sw-h2"]
  - ends: [{ at: "h3:h3-sw", address: 10.0.0.3/24, impair: { delay: 1 } }, "sw:sw-h3"]
bridges:
  - { name: br0, host: sw, interfaces: [sw-h1, sw-h2, sw-h3] }
`);
    const [h1, h3] = impairedLinkTargets(t) as LinkProbeTarget[];
    // h2 has no address: h3 stands for the bridge's other side.
    assert.deepEqual([h1.from, h1.to, h1.address], ["h1", "h3", "10.0.0.3"]);
    assert.match(h1.via!, /sw:sw-h1 is a port of bridge br0: probed through it from h3/);
    assert.equal(h1.configured.rttMs, 10 + 10 + 1);
    assert.deepEqual(h1.configured.there.impairments, ["h1:h1-sw sends: delay 10ms"]);
    assert.deepEqual(h1.configured.back.impairments, ["h3:h3-sw sends: delay 1ms", "sw:sw-h1 sends: delay 10ms"]);
    assert.deepEqual([h3.from, h3.to], ["h3", "h1"]);
  });

  test("a bridge with only its own address, a VLAN pair, and a link with no address anywhere (skipped, with the reason)", async () => {
    const t = await topology(`
hosts: { sw: {}, h1: {}, a: {}, b: {}, c: {} }
links:
  - ends: [{ at: "h1:h1-sw", address: 10.0.0.1/24 }, "sw:sw-h1"]
    impair: { loss: 1 }
  - ends: ["a:ta", "b:tb"]
    impair: { loss: { gemodel: { p: 1, r: 30 } } }
  - ends: ["b:bc", "c:cb"]
    impair: { loss: { state: { p13: 1 } } }
bridges:
  - { name: br0, host: sw, interfaces: [sw-h1], address: 10.0.0.254/24 }
vlans:
  - { on: "a:ta", id: 10, address: 10.10.0.1/24 }
  - { on: "b:tb", id: 10, address: 10.10.0.2/24 }
`);
    const [bridge, vlan, none] = impairedLinkTargets(t) as [LinkProbeTarget, LinkProbeTarget, LinkProbeSkip];
    assert.deepEqual([bridge.from, bridge.to, bridge.address], ["h1", "sw", "10.0.0.254"]);
    assert.match(bridge.via!, /probed at the bridge's own address/);
    assert.deepEqual([vlan.from, vlan.to, vlan.address], ["a", "b", "10.10.0.2"]);
    assert.match(vlan.via!, /over VLAN 10/);
    // Gilbert-Elliott's stationary loss p / (p + r) = 3.226 % each way.
    assert.equal(vlan.configured.there.lossPercent, 3.226);
    assert.equal(none.link, "b:bc <-> c:cb");
    assert.match(none.skipped, /no address to probe: b:bc and c:cb have no address/);
    assert.match(formatLinkProbes([none]), /^probe b:bc <-> c:cb: skipped: no address to probe/);
  });

  test("the table says there is nothing to probe when no link is impaired", () => {
    assert.match(formatLinkProbes([]), /no impaired links in this file/);
  });
});

describe(
  "link probes on this kernel (impairments left out: the host has no netem)",
  { concurrency: false, timeout: 300_000 },
  () => {
    let lab: Lab | undefined;
    afterEach(async () => {
      const uid = lab?.uid;
      await lab?.cleanup();
      lab = undefined;
      if (uid !== undefined) assertNothingLeft(uid);
    });

    test("a pair probed: every datagram back, round trips far under the configured 40 ms, and TCP through a tbf rate", async (t) => {
      const targets = impairedLinkTargets(await pair("{ delay: 20, loss: 5, rate: 10 }"));
      lab = await buildTopology(await pair(""), { exitCleanup: false });
      // The rate the file would ask netem for, as tbf (which this kernel has), so the TCP row measures a real limit.
      await lab
        .host("a")
        .shell.system([
          "tc",
          "qdisc",
          "add",
          "dev",
          new InterfaceScoped("a-b", lab.uid).scoped,
          "root",
          "tbf",
          "rate",
          "10mbit",
          "burst",
          "32kbit",
          "latency",
          "50ms",
        ]);
      const probed: string[] = [];
      const [result, ...rest] = await probeLinks(lab.net, lab.hosts, targets, {
        count: 50,
        tcpSeconds: 2,
        onProbe: (target) => probed.push(target.link),
      });
      assert.deepEqual(rest, []);
      assert.deepEqual(probed, ["a:a-b <-> b:b-a"]);
      assert.ok("measured" in result, JSON.stringify(result));
      const m = result.measured;
      t.diagnostic(`unimpaired pair: rtt p50 ${m.rttMs.p50} ms, goodput ${m.goodputMbps} Mbit/s through tbf 10mbit`);
      assert.deepEqual(
        [m.from, m.to, m.address, m.sent, m.received, m.lossPercent, m.duplicates],
        ["a", "b", "10.0.0.2", 50, 50, 0, 0],
      );
      assert.ok(m.rttMs.p50 < 40, JSON.stringify(m.rttMs));
      assert.ok(m.goodputMbps! >= 8 && m.goodputMbps! <= 12, `goodput ${m.goodputMbps}`);
      const text = formatLinkProbes([result]);
      t.diagnostic(text);
      assert.match(
        text,
        /^probe a:a-b <-> b:b-a: a -> b \(10\.0\.0\.2\)\n  there: a:a-b sends: delay 20ms, loss 5%, rate 10Mbit\/s\n/,
      );
      assert.match(text, /\n  round trip +40\.0 ms +p50 [\d.]+ ms \(min [\d.]+, p99 [\d.]+\)\n/);
      assert.match(text, /\n  loss +9\.75 % \(both ways\) +0 % \(0 of 50\)\n/);
      assert.match(
        text,
        /\n  tcp goodput +rate 10 Mbit\/s \(payload at most 9\.564\) +[\d.]+ Mbit\/s \(\d+ bytes in [\d.]+ s\)$/,
      );
    });

    test("a probe that fails is reported with its error, and the next link is still probed", async () => {
      const t = await topology(TWO_LINKS.replace(/IMPAIR/g, "impair: { delay: 1 }"));
      const targets = impairedLinkTargets(t);
      lab = await buildTopology(await topology(TWO_LINKS.replace(/IMPAIR/g, "")), { exitCleanup: false });
      // 5 ms per probe: no echo agent starts that fast, so both fail with the readiness message.
      const results = await probeLinks(lab.net, lab.hosts, targets, { count: 1, timeout: 5 });
      assert.equal(results.length, 2);
      for (const result of results)
        assert.ok("error" in result && /echo agent .* did not print "ready/.test(result.error), JSON.stringify(result));
      assert.match(formatLinkProbes(results), /\n  failed: probe a -> b \(10\.0\.1\.2\): the echo agent/);
    });
  },
);
