// requires: netem, ifb, ingress
// Effects of netem on real packets, between two namespaces joined by a veth.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createLogger } from "../log.js";
import { InterfaceScoped, NamespaceScoped } from "../names/scoped.js";
import { SpawnRunner } from "../system/spawn-runner.js";
import { assertNothingLeft } from "../testing/leftovers.js";
import { TcHandles, applyNetem } from "./netem-apply.js";
import { type TcShell, readNetem, showQdiscs } from "./netem-read.js";

const uid = process.pid;
// One network's handles: later calls on a link find the first one's.
const handles = new TcHandles();
const log = createLogger("silent");
const runner = new SpawnRunner({ log });
const nsA = new NamespaceScoped("tca", uid).scoped;
const nsB = new NamespaceScoped("tcb", uid).scoped;
const vethA = new InterfaceScoped("va", uid).scoped;
const vethB = new InterfaceScoped("vb", uid).scoped;
const ADDRESS_B = "10.77.0.2";
const shellIn = (namespace: string): TcShell => ({
  namespace,
  log,
  system: (argv, options = {}) => runner.run(argv, { ...options, namespace }),
});
const shellA = shellIn(nsA);
const shellB = shellIn(nsB);
const host = (argv: string[]) => runner.run(argv);

interface PingResult {
  sent: number;
  received: number;
  duplicates: number;
  rtts: number[];
  sequence: number[];
}

/** Pings B from A; `-i 0.01` and below needs root, which the lab has. */
async function ping(count: number, interval = 0.01, extra: string[] = []): Promise<PingResult> {
  const result = await runner.run(
    ["ping", "-n", "-c", String(count), "-i", String(interval), "-W", "1", ...extra, ADDRESS_B],
    { namespace: nsA, allowFailure: true },
  );
  const summary = /(\d+) packets transmitted, (\d+) received(?:, \+(\d+) duplicates)?/.exec(result.stdout);
  assert.ok(summary, `ping printed no summary:\n${result.stdout}\n${result.stderr}`);
  const replies = [...result.stdout.matchAll(/icmp_seq=(\d+) ttl=\d+ time=([\d.]+) ms/g)];
  return {
    sent: Number(summary[1]),
    received: Number(summary[2]),
    duplicates: Number((summary[3] as string | undefined) ?? 0),
    rtts: replies.map((m) => Number(m[2])),
    sequence: replies.map((m) => Number(m[1])),
  };
}

const quantile = (values: number[], q: number) => [...values].sort((a, b) => a - b)[Math.floor(values.length * q)];
const median = (values: number[]) => quantile(values, 0.5);
/**
 * The 10th-percentile RTT: netem never delivers early, and a loaded host only
 * makes the guest late, so the fast replies show netem's own accuracy.
 */
const fast = (values: number[]) => quantile(values, 0.1);
/** Interquartile range: a spread that one late reply on a loaded machine does not move. */
const interquartileRange = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length * 0.75)] - sorted[Math.floor(sorted.length * 0.25)];
};

/** Smallest interval [low, high] holding a binomial(n, p) count with probability >= 1 - 2*tail. */
function binomialInterval(n: number, p: number, tail = 0.0005): [number, number] {
  const pmf: number[] = [];
  let logCoefficient = 0;
  for (let k = 0; k <= n; k++) {
    if (k > 0) logCoefficient += Math.log(n - k + 1) - Math.log(k);
    pmf.push(Math.exp(logCoefficient + k * Math.log(p) + (n - k) * Math.log(1 - p)));
  }
  let low = 0;
  for (let sum = 0; sum + pmf[low] < tail; low++) sum += pmf[low];
  let high = n;
  for (let sum = 0; sum + pmf[high] < tail; high--) sum += pmf[high];
  return [low, high];
}

/** Measured accuracy, printed for docs/traffic-control.md. */
const measured: string[] = [];

describe("netem in the kernel lab", { timeout: 1_200_000 }, () => {
  before(async () => {
    await host(["ip", "netns", "add", nsA]);
    await host(["ip", "netns", "add", nsB]);
    await host(["ip", "link", "add", vethA, "netns", nsA, "type", "veth", "peer", vethB, "netns", nsB]);
    await shellA.system(["ip", "addr", "add", "10.77.0.1/24", "dev", vethA]);
    await shellB.system(["ip", "addr", "add", `${ADDRESS_B}/24`, "dev", vethB]);
    await shellA.system(["ip", "link", "set", vethA, "up"]);
    await shellB.system(["ip", "link", "set", vethB, "up"]);
    await shellA.system(["ip", "link", "set", "lo", "up"]);
    await shellB.system(["ip", "link", "set", "lo", "up"]);
  });
  after(async () => {
    await host(["ip", "netns", "del", nsA]);
    await host(["ip", "netns", "del", nsB]);
    for (const line of measured) console.log(`# measured: ${line}`);
    assertNothingLeft(uid);
  });

  test("delays on both ends add up in the ping RTT, and a second call changes them", async () => {
    const a = await applyNetem(shellA, vethA, { delay: 10 }, { uid, handles });
    const b = await applyNetem(shellB, vethB, { delay: 15 }, { uid, handles });
    const first = await ping(50);
    assert.equal(first.received, 50);
    assert.ok(Math.min(...first.rtts) >= 25, `no RTT below 25 ms: ${Math.min(...first.rtts)}`);
    assert.ok(
      fast(first.rtts) <= 25 * 1.04 + 0.5,
      `10th-percentile RTT ${fast(first.rtts)} ms, median ${median(first.rtts)} ms for 10 + 15 ms`,
    );
    measured.push(`delay 10 ms + 15 ms: RTT p10 ${fast(first.rtts)} / median ${median(first.rtts)} ms (expected 25)`);

    const again = await applyNetem(shellA, vethA, { delay: 40, loss: 0 }, { uid, handles });
    assert.equal(again, a, "the same handle for the same interface");
    const second = await ping(50);
    assert.ok(
      Math.min(...second.rtts) >= 55 && fast(second.rtts) <= 55 * 1.04 + 0.5,
      `10th-percentile RTT ${fast(second.rtts)} ms, median ${median(second.rtts)} ms for 40 + 15 ms`,
    );
    measured.push(`delay 40 ms + 15 ms: RTT p10 ${fast(second.rtts)} / median ${median(second.rtts)} ms (expected 55)`);
    await b.restore();
    await a.restore();
  });

  test("jitter spreads the RTT, and the normal distribution more than the uniform one", async () => {
    const handle = await applyNetem(shellA, vethA, { delay: 30 }, { uid, handles });
    const steady = interquartileRange((await ping(100)).rtts);
    await applyNetem(shellA, vethA, { jitter: 10 }, { uid, handles });
    const uniformRtts = (await ping(150)).rtts;
    const uniform = interquartileRange(uniformRtts);
    await applyNetem(shellA, vethA, { distribution: "normal" }, { uid, handles });
    const normalRtts = (await ping(150)).rtts;
    const normal = interquartileRange(normalRtts);
    // Uniform jitter never goes below delay - jitter (20 ms); normal jitter does (about 16 % of packets
    // for sigma 10 ms). A busy host only makes packets late, never early, so this holds under load.
    const below = (rtts: number[]) => rtts.filter((rtt) => rtt < 19.5).length;
    measured.push(
      `jitter 10 ms: RTT interquartile range ${steady.toFixed(2)} (none) / ${uniform.toFixed(2)} (uniform, expected 10) / ${normal.toFixed(2)} (normal, expected 13.5) ms; ` +
        `RTTs below 20 ms: uniform ${below(uniformRtts)}/150, normal ${below(normalRtts)}/150`,
    );
    assert.ok(steady < uniform / 2, `no jitter: RTT interquartile range ${steady} ms (uniform jitter: ${uniform})`);
    assert.ok(uniform > 7 && uniform < 16, `uniform jitter 10 ms: RTT interquartile range ${uniform} ms`);
    assert.equal(
      below(uniformRtts),
      0,
      `uniform jitter of 10 ms on 30 ms gave RTTs below 20 ms: ${Math.min(...uniformRtts)}`,
    );
    assert.ok(
      below(normalRtts) >= 5,
      `normal jitter: only ${below(normalRtts)} of 150 RTTs below delay - jitter (expected about 24)`,
    );
    await handle.restore();
  });

  test("loss: 100 % drops everything, 10 % lands in the binomial interval", async () => {
    const handle = await applyNetem(shellA, vethA, { loss: 100 }, { uid, handles });
    assert.equal((await ping(20, 0.01)).received, 0);
    await applyNetem(shellA, vethA, { loss: 10 }, { uid, handles });
    const probes = 400;
    const result = await ping(probes, 0.005);
    const lost = result.sent - result.received;
    const [low, high] = binomialInterval(result.sent, 0.1);
    assert.ok(lost >= low && lost <= high, `lost ${lost} of ${result.sent}; 99.9 % interval [${low}, ${high}]`);
    measured.push(
      `loss 10 %: ${lost} of ${result.sent} lost (${((100 * lost) / result.sent).toFixed(1)} %, 99.9 % interval ${low}-${high})`,
    );
    await handle.restore();
  });

  test("duplicate shows as DUP! replies; reorder as out-of-order sequence numbers", async () => {
    const handle = await applyNetem(shellA, vethA, { duplicate: 100 }, { uid, handles });
    const duplicated = await ping(30);
    assert.ok(duplicated.duplicates >= 27, `${duplicated.duplicates} duplicates of 30 with duplicate 100 %`);
    // Every 5th packet skips the 20 ms delay: with 2 ms between probes it overtakes the 4 before it.
    await applyNetem(shellA, vethA, { reset: true, delay: 20, reorder: 100, gap: 5 }, { uid, handles });
    const reordered = await ping(60, 0.002);
    const inversions = reordered.sequence.filter((seq, i) => i > 0 && seq < reordered.sequence[i - 1]).length;
    assert.ok(inversions >= 5, `${inversions} sequence inversions in ${reordered.sequence.join(",")}`);
    measured.push(
      `duplicate 100 %: ${duplicated.duplicates}/30 DUP!; reorder 100 % gap 5: ${inversions} inversions in 60 probes`,
    );
    await handle.restore();
  });

  test("rate: a TCP transfer runs close to the configured rate", async () => {
    const handle = await applyNetem(shellA, vethA, { rate: 10 }, { uid, handles });
    const bytes = 2_500_000;
    const server = spawn("nsenter", [
      `--net=/run/netns/${nsB}`,
      "--",
      process.execPath,
      "-e",
      `
      const server = require("node:net").createServer((socket) => {
        let received = 0, first = 0;
        socket.on("data", (chunk) => { if (!first) first = process.hrtime.bigint(); received += chunk.length; });
        socket.on("end", () => { console.log(JSON.stringify({ received, seconds: Number(process.hrtime.bigint() - first) / 1e9 })); server.close(); });
      });
      server.listen(5001, "${ADDRESS_B}", () => console.log("listening"));
    `,
    ]);
    let output = "";
    const listening = new Promise<void>((resolve) =>
      server.stdout.on("data", (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes("listening")) resolve();
      }),
    );
    const done = new Promise<void>((resolve) =>
      server.on("close", () => {
        resolve();
      }),
    );
    await listening;
    await runner.run([
      "nsenter",
      `--net=/run/netns/${nsA}`,
      "--",
      process.execPath,
      "-e",
      `
      const socket = require("node:net").connect(5001, "${ADDRESS_B}", () => socket.end(Buffer.alloc(${bytes})));
    `,
    ]);
    await done;
    const report = JSON.parse(output.split("\n").find((line) => line.startsWith("{"))!) as {
      received: number;
      seconds: number;
    };
    assert.equal(report.received, bytes);
    const mbit = (report.received * 8) / report.seconds / 1e6;
    // netem counts whole frames: 1448 payload bytes travel in 1514, so goodput is about 95.6 % of the rate.
    assert.ok(mbit > 8.5 && mbit < 10.3, `TCP goodput ${mbit.toFixed(2)} Mbit/s with rate 10 Mbit/s`);
    measured.push(`rate 10 Mbit/s: TCP goodput ${mbit.toFixed(2)} Mbit/s over ${bytes} bytes`);
    await handle.restore();
  });

  test("ingress: a delay on incoming traffic is felt, and the IFB device goes away on restore", async () => {
    const handle = await applyNetem(shellA, vethA, { ingress: { delay: 30 } }, { uid, handles });
    assert.ok(handle.ifb?.startsWith(`d-`), `IFB ${handle.ifb} carries the owner's prefix`);
    const read = await readNetem(shellA, vethA);
    assert.equal(read?.ingress?.ifb, handle.ifb);
    assert.equal(read?.ingress?.netem?.delay, 30);
    assert.equal(read.kind, "noqueue", "outgoing traffic is untouched");
    const shaped = await ping(30);
    assert.ok(
      Math.min(...shaped.rtts) >= 30 && fast(shaped.rtts) <= 30 * 1.04 + 0.5,
      `10th-percentile RTT ${fast(shaped.rtts)} ms, median ${median(shaped.rtts)} ms with 30 ms ingress delay`,
    );
    measured.push(`ingress delay 30 ms: RTT p10 ${fast(shaped.rtts)} / median ${median(shaped.rtts)} ms`);
    // Symmetric: the same options both ways.
    await applyNetem(shellA, vethA, { delay: 10, ingress: true }, { uid, handles });
    const symmetric = await ping(30);
    assert.ok(
      Math.min(...symmetric.rtts) >= 20 && fast(symmetric.rtts) <= 20 * 1.04 + 0.5,
      `10th-percentile RTT ${fast(symmetric.rtts)} ms, median ${median(symmetric.rtts)} ms with 10 ms both ways`,
    );
    await handle.restore();
    const links = await shellA.system(["ip", "-o", "link", "show"]);
    assert.doesNotMatch(links.stdout, /ifb/);
    assert.deepEqual(
      (await showQdiscs(shellA, vethA)).map((q) => `${q.kind} ${q.handle}`),
      ["noqueue 0:"],
    );
    assert.ok(median((await ping(20)).rtts) < 10, "the delay is gone");
  });

  test("restore puts back the qdisc that was there before the first call", async () => {
    await shellA.system(["tc", "qdisc", "add", "dev", vethA, "handle", "7:", "root", "pfifo", "limit", "77"]);
    const handle = await applyNetem(shellA, vethA, { delay: 5 }, { uid, handles });
    await applyNetem(shellA, vethA, { delay: 6, ecn: null }, { uid, handles });
    assert.equal((await readNetem(shellA, vethA))?.netem?.delay, 6);
    await handle.restore();
    await handle.restore(); // a second restore does nothing
    const root = (await showQdiscs(shellA, vethA)).find((q) => q.root)!;
    assert.deepEqual([root.kind, root.handle, root.options?.["limit"]], ["pfifo", "7:", 77]);
    await shellA.system(["tc", "qdisc", "del", "dev", vethA, "root"]);
  });

  test("a change from another process (dummynet impair) keeps a limit the user set", async () => {
    const handle = await applyNetem(shellA, vethA, { delay: 100, limit: 50 }, { uid, handles });
    // A new process knows nothing of the first one's state.
    handles.discard(shellA, vethA);
    const other = await applyNetem(shellA, vethA, { loss: 1 }, { uid, handles });
    const applied = await readNetem(shellA, vethA);
    assert.equal(applied?.netem?.limit, 50, "the set limit survives");
    assert.equal(applied.netem.delay, 100);
    assert.equal(applied.netem.loss, 1);
    await other.restore();
    await handle.restore();
  });

  test("a change from another process adopts the ingress shaping already there", async () => {
    const handle = await applyNetem(shellA, vethA, { delay: 20, ingress: { delay: 5 } }, { uid, handles });
    handles.discard(shellA, vethA);
    const other = await applyNetem(shellA, vethA, { delay: 30, ingress: true }, { uid, handles });
    const applied = await readNetem(shellA, vethA);
    assert.equal(applied?.netem?.delay, 30);
    assert.equal(applied.ingress?.netem?.delay, 30, "ingress copies the new egress settings on the same IFB");
    await other.restore();
    assert.equal((await readNetem(shellA, vethA))?.ingress, undefined, "the IFB and its redirect are gone");
    await handle.restore();
  });
});
