/**
 * The probe on the real kernel: two hosts over a veth, a link that is down,
 * an address nobody has, duplicates made by mirroring datagrams onto a second
 * link, reordering made by an htb class that holds back odd sequence numbers,
 * TCP goodput against a tbf rate, abort and timeout leaving no process, and
 * bad options refused before anything starts. The accounting rules are also
 * checked on synthetic input.
 */
import { afterEach, beforeEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { DummyNet } from "../network/dummy-net.js";
import { InvalidArgumentError } from "../errors.js";
import { TimeoutError } from "../process/errors.js";
import { parseIpJson } from "../system/ip-json.js";
import { assertNothingLeft } from "../testing/leftovers.js";
import { twoHosts } from "../test-support/two-hosts.js";
import { accountReplies, parseSenderOutput, percentile, rttStatistics } from "./accounting.js";
import { AGENT_PATH, checkProbeOptions, readinessBound } from "./probe.js";

describe("probe accounting (synthetic replies)", { timeout: 300_000 }, () => {
  test("readinessBound: the echo agent gets half of what the timeout leaves after the planned sending, or the whole timeout", () => {
    // Default timeout: 30 s + 200 x 10 ms + 10 s; sending 2 s + the least late wait of 1 s: (42 - 3) / 2.
    assert.deepEqual(readinessBound(checkProbeOptions({})), { ms: 19_500, sendingMs: 3000 });
    // A caller who allows more (the lab's 120 s) gives the start more.
    assert.deepEqual(readinessBound(checkProbeOptions({ count: 100, timeout: 120_000 })), {
      ms: 59_000,
      sendingMs: 2000,
    });
    // The TCP transfer's seconds are sending too.
    assert.deepEqual(readinessBound(checkProbeOptions({ count: 100, tcp: { seconds: 3 }, timeout: 60_000 })), {
      ms: 27_500,
      sendingMs: 5000,
    });
    // A timeout under the planned sending: the timeout alone bounds the wait.
    assert.deepEqual(readinessBound(checkProbeOptions({ count: 100_000, timeout: 3000 })), {
      ms: 3000,
      sendingMs: 1_001_000,
    });
  });

  test("every reply once, in order: no loss, no duplicates, no reordering", () => {
    const counts = accountReplies(
      4,
      [0, 1, 2, 3].map((seq) => ({ seq, rttMs: seq + 1 })),
    );
    assert.deepEqual(
      { ...counts, rttMs: undefined },
      { sent: 4, received: 4, lossPercent: 0, duplicates: 0, reordered: 0, rttMs: undefined },
    );
    assert.equal(counts.rttMs.min, 1);
    assert.equal(counts.rttMs.max, 4);
    assert.equal(counts.rttMs.mean, 2.5);
    assert.equal(counts.rttMs.p50, 2.5);
  });

  test("a reply seen again is a duplicate, not a second receipt, and its round trip is not counted", () => {
    const counts = accountReplies(3, [
      { seq: 0, rttMs: 1 },
      { seq: 0, rttMs: 50 },
      { seq: 1, rttMs: 1 },
      { seq: 1, rttMs: 60 },
      { seq: 1, rttMs: 70 },
    ]);
    assert.equal(counts.received, 2);
    assert.equal(counts.duplicates, 3);
    assert.equal(counts.reordered, 0);
    assert.equal(counts.rttMs.max, 1);
    assert.equal(Math.round(counts.lossPercent * 100) / 100, 33.33);
  });

  test("a reply arriving after a higher sequence number is reordered; a duplicate of an old one is not", () => {
    const seqs = [0, 2, 1, 3, 5, 4, 1, 6];
    const counts = accountReplies(
      7,
      seqs.map((seq) => ({ seq, rttMs: 1 })),
    );
    assert.equal(counts.reordered, 2); // 1 after 2, 4 after 5
    assert.equal(counts.duplicates, 1); // the second 1
    assert.equal(counts.received, 7);
  });

  test("nothing back: 100 % loss and NaN statistics; replies outside 0..sent-1 are ignored", () => {
    const counts = accountReplies(5, [
      { seq: 7, rttMs: 1 },
      { seq: -1, rttMs: 1 },
    ]);
    assert.equal(counts.received, 0);
    assert.equal(counts.lossPercent, 100);
    assert.ok(Object.values(counts.rttMs).every(Number.isNaN));
  });

  test("percentiles interpolate between ranks; stdev is the population's", () => {
    const values = Array.from({ length: 101 }, (_, i) => i);
    assert.equal(percentile(values, 0.1), 10);
    assert.equal(percentile(values, 0.99), 99);
    assert.equal(percentile([1, 3], 0.5), 2);
    assert.equal(rttStatistics([2, 4, 4, 4, 5, 5, 7, 9]).stdev, 2);
  });

  test("the sender's lines are read back, unknown lines ignored", () => {
    const output = parseSenderOutput(
      "r 0 0.5\nr 1 0.25\nnoise\nsent 2\nerr 3 send ENETUNREACH 10.0.0.2:1\ntcp 1000 2000000000\n",
    );
    assert.deepEqual(output, {
      sent: 2,
      replies: [
        { seq: 0, rttMs: 0.5 },
        { seq: 1, rttMs: 0.25 },
      ],
      sendErrors: 3,
      firstSendError: "send ENETUNREACH 10.0.0.2:1",
      tcp: { bytes: 1000, seconds: 2 },
    });
    assert.deepEqual(parseSenderOutput("sent 1\ntcp-error connect ECONNREFUSED").tcp, {
      error: "connect ECONNREFUSED",
    });
  });
});

let nextUid = (process.pid % 100000) * 10 + 1300000;
let net: DummyNet;

async function tc(host: DummyNet, args: string[]): Promise<void> {
  await host.shell.system(["tc", ...args]);
}

/** Processes running the probe's agent (from this checkout) anywhere on the machine. */
function agentProcesses(): string[] {
  const table = execFileSync("ps", ["-e", "-o", "pid=,args="], { encoding: "utf8", timeout: 30_000 });
  return table.split("\n").filter((line) => line.includes(AGENT_PATH) && !line.includes("ps -e"));
}

describe("probe on the real kernel", { concurrency: false, timeout: 300_000 }, () => {
  beforeEach(() => {
    net = new DummyNet({ uid: nextUid++ });
  });

  afterEach(async () => {
    await net.cleanup();
    assertNothingLeft(net.uid);
  });

  test(
    "two hosts over a veth: every datagram comes back once, in order, with a sane round trip",
    { timeout: 120_000 },
    async (t) => {
      const { a, b } = await twoHosts(net);
      const report = await net.probe(a, b, { count: 200, intervalMs: 5 });
      t.diagnostic(`plain veth rtt ms: ${JSON.stringify(report.rttMs)}`);
      assert.equal(report.from, "a");
      assert.equal(report.to, "b");
      assert.equal(report.address, "10.0.0.2"); // b's first IPv4 address, found with ip -j addr
      assert.equal(report.sent, 200);
      assert.equal(report.received, 200);
      assert.equal(report.lossPercent, 0);
      assert.equal(report.duplicates, 0);
      assert.equal(report.reordered, 0);
      assert.equal(report.sendErrors, 0);
      assert.equal(report.goodputMbps, undefined);
      const { min, p10, p50, p90, p99, max, mean, stdev } = report.rttMs;
      assert.ok(
        min > 0 && min <= p10 && p10 <= p50 && p50 <= p90 && p90 <= p99 && p99 <= max,
        JSON.stringify(report.rttMs),
      );
      assert.ok(mean >= min && mean <= max && stdev >= 0, JSON.stringify(report.rttMs));
      assert.deepEqual(agentProcesses(), []);
    },
  );

  test(
    "hosts given by name, the address and size given: the probe reaches that address",
    { timeout: 120_000 },
    async () => {
      const { b, ba } = await twoHosts(net);
      await b.addrAdd("10.0.0.3/24", ba);
      const report = await net.probe("a", "b", { address: "10.0.0.3", count: 20, intervalMs: 2, size: 1400 });
      assert.equal(report.address, "10.0.0.3");
      assert.equal(report.received, 20);
    },
  );

  test("the far end's link is down: 100 % loss reported, no hang", { timeout: 120_000 }, async () => {
    const { a, b, ba } = await twoHosts(net);
    await b.down(ba);
    const report = await net.probe(a, b, { count: 20, intervalMs: 5 });
    assert.equal(report.sent, 20);
    assert.equal(report.received, 0);
    assert.equal(report.lossPercent, 100);
    assert.ok(Number.isNaN(report.rttMs.p50));
  });

  test(
    "the sender's own link is down: every send fails at once, counted as lost with the reason",
    { timeout: 120_000 },
    async () => {
      const { a, b, ab } = await twoHosts(net);
      await a.down(ab);
      const report = await net.probe(a, b, { count: 10, intervalMs: 1, tcp: { seconds: 0.5 } });
      assert.equal(report.lossPercent, 100);
      assert.equal(report.sendErrors, 10);
      assert.match(report.sendError ?? "", /ENETUNREACH/);
      assert.equal(report.goodputMbps, 0);
      assert.match(report.tcpError ?? "", /ENETUNREACH/);
    },
  );

  test("an address nobody has: 100 % loss", { timeout: 120_000 }, async () => {
    const { a, b } = await twoHosts(net);
    const report = await net.probe(a, b, { address: "10.0.0.99", count: 10, intervalMs: 5 });
    assert.equal(report.received, 0);
    assert.equal(report.lossPercent, 100);
  });

  test(
    "duplicates for real: odd datagrams mirrored onto a second link reach the echo twice",
    { timeout: 120_000 },
    async () => {
      const { a, b, ab, ba } = await twoHosts(net);
      // A second wire a2 - b2; b2 wears b-a's MAC address, so the mirrored frames are addressed to it.
      const [a2, b2] = await net.linkVethAdd("a2", "b2", { p1Namespace: a, p2Namespace: b });
      const [link] = parseIpJson<{ address: string }[]>(
        (await b.shell.system(["ip", "-j", "link", "show", "dev", ba.scoped])).stdout,
      );
      await b.shell.system(["ip", "link", "set", "dev", b2.scoped, "address", link.address]);
      await a.up(a2);
      await b.up(b2);
      await tc(a, ["qdisc", "add", "dev", ab.scoped, "clsact"]);
      // u32 offsets count from the IP header: 20 bytes of it, 8 of UDP, then the probe's run id (4) and sequence number (4): its low byte is at 35.
      await tc(a, [
        "filter",
        "add",
        "dev",
        ab.scoped,
        "egress",
        "protocol",
        "ip",
        "u32",
        "match",
        "ip",
        "protocol",
        "17",
        "0xff",
        "match",
        "u8",
        "0x01",
        "0x01",
        "at",
        "35",
        "action",
        "mirred",
        "egress",
        "mirror",
        "dev",
        a2.scoped,
      ]);
      const report = await net.probe(a, b, { count: 40, intervalMs: 5 });
      assert.equal(report.received, 40);
      assert.equal(report.duplicates, 20);
      assert.equal(report.lossPercent, 0);
    },
  );

  test(
    "reordering for real: an htb class at 8 kbit/s holds back odd datagrams, so they arrive after later even ones",
    { timeout: 120_000 },
    async () => {
      const { a, b, ab } = await twoHosts(net);
      await tc(a, ["qdisc", "add", "dev", ab.scoped, "root", "handle", "1:", "htb", "default", "10"]);
      await tc(a, ["class", "add", "dev", ab.scoped, "parent", "1:", "classid", "1:10", "htb", "rate", "1gbit"]);
      await tc(a, [
        "class",
        "add",
        "dev",
        ab.scoped,
        "parent",
        "1:",
        "classid",
        "1:20",
        "htb",
        "rate",
        "8kbit",
        "ceil",
        "8kbit",
        "burst",
        "200",
        "cburst",
        "200",
      ]);
      await tc(a, [
        "filter",
        "add",
        "dev",
        ab.scoped,
        "parent",
        "1:",
        "protocol",
        "ip",
        "prio",
        "1",
        "u32",
        "match",
        "ip",
        "protocol",
        "17",
        "0xff",
        "match",
        "u8",
        "0x01",
        "0x01",
        "at",
        "35",
        "flowid",
        "1:20",
      ]);
      const report = await net.probe(a, b, { count: 20, intervalMs: 10 });
      assert.equal(report.received, 20);
      assert.equal(report.duplicates, 0);
      // The first odd datagram may pass at once (the class's burst); every later one waits about 100 ms behind the one before.
      assert.ok(report.reordered >= 5 && report.reordered <= 10, `reordered ${report.reordered}`);
    },
  );

  test("TCP goodput through a 10 Mbit/s tbf: within 20 % of the rate", { timeout: 120_000 }, async (t) => {
    const { a, b, ab } = await twoHosts(net);
    await tc(a, [
      "qdisc",
      "add",
      "dev",
      ab.scoped,
      "root",
      "tbf",
      "rate",
      "10mbit",
      "burst",
      "32kbit",
      "latency",
      "50ms",
    ]);
    const report = await net.probe(a, b, { count: 20, intervalMs: 5, tcp: { seconds: 3 } });
    t.diagnostic(
      `goodput through tbf 10mbit: ${report.goodputMbps} Mbit/s (${report.tcp?.bytes} bytes in ${report.tcp?.seconds} s)`,
    );
    assert.equal(report.tcpError, undefined);
    assert.ok(report.goodputMbps! >= 8 && report.goodputMbps! <= 12, `goodput ${report.goodputMbps} Mbit/s`);
  });

  test("TCP goodput with a byte count: the receiver counts exactly those bytes", { timeout: 120_000 }, async () => {
    const { a, b } = await twoHosts(net);
    const report = await net.probe(a, b, { count: 5, intervalMs: 1, tcp: { bytes: 5_000_000 } });
    assert.equal(report.tcp?.bytes, 5_000_000);
    assert.ok(report.goodputMbps! > 0);
  });

  test(
    "aborting stops both agents: the probe rejects with the reason and no process is left",
    { timeout: 120_000 },
    async () => {
      const { a, b } = await twoHosts(net);
      const controller = new AbortController();
      const running = net.probe(a, b, { count: 100_000, intervalMs: 10, signal: controller.signal });
      // Abort once both agents run (the sender sits in a's namespace).
      const deadline = Date.now() + 60_000;
      while ((await net.netnsProcessList(a)).length === 0) {
        assert.ok(Date.now() < deadline, "the sender never started");
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      controller.abort(new Error("enough"));
      await assert.rejects(running, /enough/);
      assert.deepEqual(await net.netnsProcessList(a), []);
      assert.deepEqual(await net.netnsProcessList(b), []);
      assert.deepEqual(agentProcesses(), []);
    },
  );

  test("a probe over its timeout rejects with TimeoutError and leaves no process", { timeout: 120_000 }, async () => {
    const { a, b } = await twoHosts(net);
    await assert.rejects(net.probe(a, b, { count: 100_000, intervalMs: 10, timeout: 3000 }), (error: unknown) => {
      assert.ok(error instanceof TimeoutError, String(error));
      assert.match(error.message, /timeout of 3000 ms/);
      return true;
    });
    assert.deepEqual(await net.netnsProcessList(a), []);
    assert.deepEqual(await net.netnsProcessList(b), []);
  });

  test(
    "an echo agent not ready within its bound: TimeoutError says what was waited for, and no process is left",
    { timeout: 120_000 },
    async () => {
      const { a, b } = await twoHosts(net);
      // 5 ms: no Node.js starts that fast; the timeout is below the 1000 ms of planned sending, so it bounds the wait alone.
      await assert.rejects(net.probe(a, b, { count: 1, intervalMs: 0, timeout: 5 }), (error: unknown) => {
        assert.ok(error instanceof TimeoutError, String(error));
        assert.match(
          error.message,
          /^probe a -> b \(10\.0\.0\.2\): the echo agent \(Node\.js running .*agent\.mjs echo in b\) did not print "ready <udp port> <tcp port>" within 5 ms/,
        );
        assert.match(
          error.message,
          /the probe's whole timeout of 5 ms, which is less than its 1000 ms of planned sending \(1 datagram\)/,
        );
        assert.match(error.message, /its output so far: "", its errors: ".*"\. .*give the probe a longer timeout$/);
        return true;
      });
      assert.deepEqual(await net.netnsProcessList(a), []);
      assert.deepEqual(await net.netnsProcessList(b), []);
      assert.deepEqual(agentProcesses(), []);
    },
  );

  test("bad options and unknown hosts are refused before anything starts", { timeout: 120_000 }, async () => {
    const { a, b } = await twoHosts(net);
    const refused: [unknown, RegExp][] = [
      [{ count: 0 }, /count: 0 \(number\) must be a whole number from 1/],
      [{ count: 2.5 }, /count/],
      [{ size: 15 }, /size: 15 \(number\) must be a whole number from 16 to 65507/],
      [{ size: 65508 }, /size/],
      [{ intervalMs: -1 }, /intervalMs/],
      [{ address: "10.0.0.300" }, /address: "10.0.0.300"/],
      [{ tcp: { seconds: 1, bytes: 10 } }, /tcp/],
      [{ tcp: { bytes: 0 } }, /tcp.bytes/],
      [{ timeout: 0 }, /timeout/],
      [{ cout: 5 }, /unknown option\(s\) cout/],
    ];
    for (const [options, message] of refused) {
      await assert.rejects(net.probe(a, b, options as never), (error: unknown) => {
        assert.ok(error instanceof InvalidArgumentError, `${JSON.stringify(options)}: ${String(error)}`);
        assert.match(error.message, message);
        return true;
      });
    }
    await assert.rejects(
      net.probe(a, "nosuch"),
      (error: unknown) =>
        error instanceof InvalidArgumentError &&
        /Invalid to: "nosuch" is not a host of this network/.test(error.message),
    );
    await assert.rejects(
      net.probe(42 as never, b),
      (error: unknown) => error instanceof InvalidArgumentError && /Invalid from/.test(error.message),
    );
    const lonely = await net.netnsAdd("c");
    await assert.rejects(net.probe(a, lonely), /has no IPv4 address on an interface other than lo/);
    assert.deepEqual(await net.netnsProcessList(a), []);
    assert.deepEqual(await net.netnsProcessList(b), []);
  });
});
