/**
 * Nothing left behind, whatever happens to a run: child processes build real
 * networks and are killed at random moments (SIGKILL: the reaper removes what
 * they left; SIGINT, SIGTERM, SIGHUP, process.exit and a crash: they clean up
 * by themselves), and a live run survives a reaping untouched.
 *
 * Nothing here can hang: every child has a kill timer, and a child that misses
 * its bound fails the test with what it was doing (its output and process
 * tree), is SIGKILLed and its leftovers reaped.
 *
 * DUMMYNET_SIGNAL_TRIALS (default 60) sets how many signal trials run,
 * DUMMYNET_CRASH_TRIALS (default 30) how many SIGKILL trials.
 */
import { afterEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { reapDeadOwners, listOwners } from "./reaper.js";
import { leftovers } from "../testing/leftovers.js";
import { isAlive } from "../system/proc.js";

const FIXTURE = fileURLToPath(new URL("../test-support/fixtures/build-network.ts", import.meta.url));
const KILL_TRIALS = Number(process.env["DUMMYNET_CRASH_TRIALS"] ?? 30);
const SIGNAL_TRIALS = Number(process.env["DUMMYNET_SIGNAL_TRIALS"] ?? 60);
const SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
type StopSignal = (typeof SIGNALS)[number];

/** A child must print its uid (node and tsx started) within this. */
const START_BOUND = 60_000;
/** A child must have built its network within this. */
const BUILD_BOUND = 120_000;
/** Exit cleanup in trial children gives up after this and takes the synchronous path (which the trials count as a failure). */
const CHILD_EXIT_TIMEOUT = 20_000;
/** A child must be gone this long after its signal: the exit timeout, plus the synchronous path, plus slack. */
const EXIT_BOUND = CHILD_EXIT_TIMEOUT + 30_000;
/** Nothing a child does may take longer: its kill timer. */
const LIFETIME_BOUND = START_BOUND + BUILD_BOUND + EXIT_BOUND;
/** The exit-cleanup fallback's words on stderr: a trial whose child needed them did not clean up normally. */
const FALLBACK = /did not finish within|again during cleanup/;

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Children still running, for the hook that reports and kills them when a test ends (a timeout included). */
const running = new Set<Builder>();

/** A child running the build-network fixture, with bounded waits. */
class Builder {
  readonly process: ChildProcess;
  readonly uid: Promise<number>;
  readonly built: Promise<void>;
  readonly exit: Promise<Exit>;
  readonly startedAt = performance.now();
  output = "";
  uidNumber: number | undefined;
  daemonPid: number | undefined;
  builtAt: number | undefined;
  readonly #killTimer: NodeJS.Timeout;

  constructor(hosts: number, mode = "hold", options: { args?: string[]; env?: NodeJS.ProcessEnv } = {}) {
    this.process = spawn(process.execPath, ["--import", "tsx", FIXTURE, String(hosts), mode, ...(options.args ?? [])], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, ...options.env },
    });
    running.add(this);
    let resolveUid!: (uid: number) => void;
    let resolveBuilt!: () => void;
    this.uid = new Promise((resolve) => (resolveUid = resolve));
    this.built = new Promise((resolve) => (resolveBuilt = resolve));
    this.exit = new Promise((resolve) =>
      this.process.on("exit", (code, signal) => {
        resolve({ code, signal });
      }),
    );
    this.process.stdout!.setEncoding("utf8").on("data", (text: string) => {
      this.output += text;
      const uid = /uid (\d+)/.exec(this.output);
      if (uid && this.uidNumber === undefined) resolveUid((this.uidNumber = Number(uid[1])));
      const built = /built \d+ daemon (\d+)/.exec(this.output);
      if (built && this.builtAt === undefined) {
        this.daemonPid = Number(built[1]);
        this.builtAt = performance.now();
        resolveBuilt();
      }
    });
    this.process.stderr!.setEncoding("utf8").on("data", (text: string) => (this.output += text));
    this.#killTimer = setTimeout(() => this.process.kill("SIGKILL"), LIFETIME_BOUND);
    void this.exit.then(() => {
      clearTimeout(this.#killTimer);
      running.delete(this);
    });
  }

  get isBuilt(): boolean {
    return this.builtAt !== undefined;
  }

  get hasExited(): boolean {
    return this.process.exitCode !== null || this.process.signalCode !== null;
  }

  /**
   * Waits for `promise` (the uid, the build, the exit) at most `ms`. A child
   * that exits first (when waiting for something else) or misses the bound
   * fails the wait with its output and what it was doing; it is then
   * SIGKILLed and what it made is reaped.
   */
  async within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<"timeout">(
      (resolve) =>
        (timer = setTimeout(() => {
          resolve("timeout");
        }, ms)),
    );
    const exitedFirst =
      promise === (this.exit as Promise<unknown>)
        ? new Promise<never>(() => undefined)
        : this.exit.then(() => "exited" as const);
    const outcome = await Promise.race([promise.then((value) => ({ value })), timedOut, exitedFirst]).finally(() => {
      clearTimeout(timer);
    });
    if (typeof outcome === "object") return outcome.value;
    const state =
      outcome === "timeout"
        ? `still running after ${ms} ms; its processes:\n${describeProcessTree(this.process.pid!)}`
        : `it exited first (${describeExit(await this.exit)})`;
    await this.abandon();
    assert.fail(
      `child ${this.process.pid} (uid ${this.uidNumber ?? "?"}) did not get to ${what}: ${state}\n--- its output (tail) ---\n${this.tail()}`,
    );
  }

  /** SIGKILLs the child (if running) and reaps what it left. */
  async abandon(): Promise<void> {
    if (!this.hasExited) this.process.kill("SIGKILL");
    await Promise.race([this.exit, delay(10_000)]);
    if (this.uidNumber !== undefined)
      await bounded(reapDeadOwners({ only: [this.uidNumber] }), 60_000, `reaping uid ${this.uidNumber}`).catch(
        () => undefined,
      );
  }

  tail(lines = 40): string {
    return this.output.split("\n").slice(-lines).join("\n");
  }
}

afterEach(async () => {
  // A test that failed or timed out may have left children: say what they were doing, then remove them.
  for (const child of [...running]) {
    console.log(
      `still running at the end of the test: child ${child.process.pid} (uid ${child.uidNumber ?? "?"}); its processes:\n${describeProcessTree(child.process.pid!)}\n--- its output (tail) ---\n${child.tail()}`,
    );
    await child.abandon();
  }
});

function describeExit(exit: Exit): string {
  return exit.signal ? `killed by ${exit.signal}` : `exit status ${exit.code}`;
}

/** The child and its descendants: pid, state, kernel wait channel and command, for a hang's report. */
function describeProcessTree(root: number): string {
  const table = new Map<number, { ppid: number; line: string }>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const command = readFileSync(`/proc/${entry}/cmdline`, "utf8").replaceAll("\0", " ").trim();
      let wchan = "";
      try {
        wchan = readFileSync(`/proc/${entry}/wchan`, "utf8");
      } catch {
        // Not readable here: the state alone must do.
      }
      table.set(Number(entry), {
        ppid: Number(fields[1]),
        line: `${entry} ${fields[0]}${wchan && wchan !== "0" ? ` (${wchan})` : ""} ${command}`,
      });
    } catch {
      // Gone meanwhile.
    }
  }
  const lines: string[] = [];
  const walk = (pid: number, depth: number) => {
    const entry = table.get(pid);
    if (!entry) return;
    lines.push(`${"  ".repeat(depth)}${entry.line}`);
    for (const [child, { ppid }] of table) if (ppid === pid) walk(child, depth + 1);
  };
  walk(root, 1);
  return lines.join("\n") || "  (gone)";
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** `promise`, or a failure naming `what` after `ms`. */
async function bounded<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>(
    (_, reject) =>
      (timer = setTimeout(() => {
        reject(new Error(`${what} did not finish within ${ms} ms`));
      }, ms)),
  );
  return Promise.race([promise, timedOut]).finally(() => {
    clearTimeout(timer);
  });
}

/** Runs `count` trials, `parallel` at a time. */
async function trials(count: number, parallel: number, trial: (index: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < count) await trial(next++);
    }),
  );
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

/** Checks that an ended child died of `signal`, by its own cleanup, and left nothing (no object, no daemon). */
function assertCleanEnd(child: Builder, exit: Exit, signal: StopSignal, context: string): void {
  assert.equal(
    exit.signal,
    signal,
    `${context}: the child should end by ${signal}, not ${describeExit(exit)}:\n${child.tail()}`,
  );
  assert.doesNotMatch(
    child.output,
    FALLBACK,
    `${context}: exit cleanup had to fall back to the synchronous path:\n${child.tail()}`,
  );
  assert.deepEqual(leftovers(child.uidNumber!), [], `${context}: objects of uid ${child.uidNumber} remain`);
  if (child.daemonPid !== undefined)
    assert.ok(!isAlive(child.daemonPid), `${context}: the daemon (pid ${child.daemonPid}) outlived its network`);
}

const PHASES = ["during build", "after build", "during the daemon run"] as const;
type Phase = (typeof PHASES)[number];

describe("crash safety", { concurrency: false }, () => {
  test(
    `SIGKILL at a random moment, then the dead-owner reaper: nothing remains (${KILL_TRIALS} trials)`,
    { timeout: Math.max(300_000, KILL_TRIALS * 10_000) },
    async (t) => {
      let killedMidBuild = 0;
      let objectsFound = 0;
      await trials(KILL_TRIALS, 3, async (index) => {
        const child = new Builder(10);
        const uid = await child.within(child.uid, START_BOUND, "printing its uid");
        // Every third trial kills a finished network; the others at a random moment of the build.
        if (index % 3 === 2) await child.within(child.built, BUILD_BOUND, "building its network");
        else await Promise.race([delay(Math.random() * 1500), child.built]);
        if (!child.isBuilt) killedMidBuild++;
        child.process.kill("SIGKILL");
        assert.equal((await child.within(child.exit, EXIT_BOUND, "dying of SIGKILL")).signal, "SIGKILL");
        objectsFound += leftovers(uid).length;
        const result = await bounded(reapDeadOwners({ only: [uid] }), 60_000, `trial ${index}: reaping uid ${uid}`);
        assert.deepEqual(result.failures, [], `trial ${index}: reaping failed`);
        assert.deepEqual(leftovers(uid), [], `trial ${index}: objects of the killed owner ${uid} remain`);
      });
      // The trials must really have hit builds in progress, not only finished networks.
      assert.ok(killedMidBuild > 0, "no trial killed a build in progress");
      assert.ok(objectsFound > 0, "no trial left objects for the reaper to remove");
      t.diagnostic(
        `crash trials: ${KILL_TRIALS} killed (${killedMidBuild} mid-build), ${objectsFound} objects reaped, 0 left`,
      );
    },
  );

  test(
    `SIGINT, SIGTERM and SIGHUP at random moments (during the build, right after it, during the daemon run): each run removes everything itself and dies of the signal (${SIGNAL_TRIALS} trials)`,
    { timeout: Math.max(300_000, SIGNAL_TRIALS * 5_000) },
    async (t) => {
      const buildTimes: number[] = [];
      const exitTimes: number[] = [];
      const tally = new Map(
        SIGNALS.map((signal) => [signal, { clean: 0, total: 0, phases: new Map<Phase, number>() }]),
      );
      const failures: string[] = [];
      await trials(SIGNAL_TRIALS, 3, async (index) => {
        // Every signal meets every planned moment equally often.
        const signal = SIGNALS[index % SIGNALS.length];
        const plan = PHASES[Math.floor(index / SIGNALS.length) % PHASES.length];
        // Few hosts: a trial is cheap, and a build still has some thirty changes to interrupt.
        const child = new Builder(3, "hold", { env: { DUMMYNET_EXIT_TIMEOUT_MS: String(CHILD_EXIT_TIMEOUT) } });
        const counts = tally.get(signal)!;
        counts.total++;
        try {
          await child.within(child.uid, START_BOUND, "printing its uid");
          const uidAt = performance.now();
          if (plan === "during build") {
            // A random moment within a typical build (learnt from the trials so far).
            await Promise.race([delay(Math.random() * (buildTimes.length ? median(buildTimes) : 300)), child.built]);
          } else {
            await child.within(child.built, BUILD_BOUND, "building its network");
            buildTimes.push(child.builtAt! - uidAt);
            if (plan === "during the daemon run") await delay(100 + Math.random() * 900);
          }
          // What the signal really met: a build that finished meanwhile counts as finished.
          const phase: Phase = !child.isBuilt ? "during build" : plan === "during build" ? "after build" : plan;
          counts.phases.set(phase, (counts.phases.get(phase) ?? 0) + 1);
          const sentAt = performance.now();
          child.process.kill(signal);
          const exit = await child.within(child.exit, EXIT_BOUND, `exiting after ${signal} (${phase})`);
          exitTimes.push(performance.now() - sentAt);
          assertCleanEnd(child, exit, signal, `trial ${index}, ${signal} ${phase}`);
          counts.clean++;
        } catch (error) {
          failures.push(`trial ${index} (${signal}, planned ${plan}): ${(error as Error).message}`);
          await child.abandon();
        }
      });
      for (const [signal, { clean, total, phases }] of tally) {
        t.diagnostic(
          `${signal} ${clean}/${total} clean (${PHASES.map((phase) => `${phases.get(phase) ?? 0} ${phase}`).join(", ")})`,
        );
      }
      t.diagnostic(
        `exit after the signal: median ${Math.round(median(exitTimes))} ms, max ${Math.round(Math.max(...exitTimes))} ms; build median ${Math.round(median(buildTimes))} ms`,
      );
      assert.deepEqual(failures, [], `${failures.length} of ${SIGNAL_TRIALS} signal trials failed`);
      // The random moments must really have hit builds in progress.
      const midBuild = [...tally.values()].reduce((sum, counts) => sum + (counts.phases.get("during build") ?? 0), 0);
      assert.ok(midBuild > 0, "no signal met a build in progress");
    },
  );

  for (const signal of SIGNALS) {
    test(
      `${signal} while the last change before a daemon's start is in flight: the daemon is refused and the run still cleans up (this once hung for 600 s)`,
      { timeout: 120_000 },
      async () => {
        const child = new Builder(3, "signal-before-daemon", { args: [signal] });
        await child.within(child.uid, START_BOUND, "printing its uid");
        const exit = await child.within(child.exit, BUILD_BOUND + EXIT_BOUND, `building and ending by ${signal}`);
        assertCleanEnd(child, exit, signal, signal);
        assert.match(child.output, /no more processes are accepted/, "the daemon's start was not refused");
      },
    );
  }

  test(
    "a cleanup that cannot finish: after DUMMYNET_EXIT_TIMEOUT_MS the synchronous path removes everything and the run dies of its signal, saying what was stuck",
    { timeout: 120_000 },
    async () => {
      const child = new Builder(3, "stuck-cleanup", { env: { DUMMYNET_EXIT_TIMEOUT_MS: "1500" } });
      await child.within(child.built, START_BOUND + BUILD_BOUND, "building its network");
      child.process.kill("SIGTERM");
      const exit = await child.within(child.exit, EXIT_BOUND, "ending by SIGTERM");
      assert.equal(exit.signal, "SIGTERM", child.tail());
      assert.match(
        child.output,
        /cleanup after SIGTERM did not finish within 1500 ms \(network of uid \d+: undoing linkVethAdd of d-\w+-hosta/,
      );
      assert.deepEqual(leftovers(child.uidNumber!), []);
      assert.ok(!isAlive(child.daemonPid!), "the daemon outlived its network");
    },
  );

  test(
    "a second signal while cleanup is stuck: the synchronous path removes everything and the run dies of it",
    { timeout: 120_000 },
    async () => {
      const child = new Builder(3, "stuck-cleanup", { env: { DUMMYNET_EXIT_TIMEOUT_MS: "600000" } });
      await child.within(child.built, START_BOUND + BUILD_BOUND, "building its network");
      child.process.kill("SIGINT");
      // Cleanup removes the cgroup just before it gets stuck on the first link deletion.
      const stuck = (async () => {
        while (leftovers(child.uidNumber!).some((object) => object.startsWith("cgroup"))) await delay(50);
      })();
      await child.within(stuck, 60_000, "removing its cgroup (the step before the stuck one)");
      child.process.kill("SIGINT");
      const exit = await child.within(child.exit, EXIT_BOUND, "ending by the second SIGINT");
      assert.equal(exit.signal, "SIGINT", child.tail());
      assert.match(child.output, /SIGINT again during cleanup/);
      assert.deepEqual(leftovers(child.uidNumber!), []);
      assert.ok(!isAlive(child.daemonPid!), "the daemon outlived its network");
    },
  );

  test(
    "process.exit() without cleanup: the exit hook removes namespaces, host links, the cgroup and the daemon",
    { timeout: 120_000 },
    async () => {
      const child = new Builder(5, "exit");
      await child.within(child.uid, START_BOUND, "printing its uid");
      const exit = await child.within(child.exit, BUILD_BOUND + EXIT_BOUND, "building and leaving by process.exit(3)");
      assert.equal(exit.code, 3, child.tail());
      assert.deepEqual(leftovers(child.uidNumber!), []);
      assert.ok(!isAlive(child.daemonPid!), "the daemon outlived its network");
    },
  );

  test("an uncaught error: cleanup, then exit status 1", { timeout: 120_000 }, async () => {
    const child = new Builder(5, "throw");
    await child.within(child.uid, START_BOUND, "printing its uid");
    const exit = await child.within(child.exit, BUILD_BOUND + EXIT_BOUND, "building and failing");
    assert.equal(exit.code, 1, child.tail());
    assert.match(child.output, /fixture failed on purpose/);
    assert.doesNotMatch(child.output, FALLBACK);
    assert.deepEqual(leftovers(child.uidNumber!), []);
  });

  test("a live run survives a dead-owner cleanup untouched", { timeout: 180_000 }, async () => {
    const live = new Builder(4);
    const uid = await live.within(live.uid, START_BOUND, "printing its uid");
    await live.within(live.built, BUILD_BOUND, "building its network");
    const before = leftovers(uid);
    assert.ok(before.length >= 4);
    const result = await bounded(reapDeadOwners(), 60_000, "reaping dead owners");
    assert.ok(
      result.spared.some((owner) => owner.uid === uid),
      "the live owner was not spared",
    );
    assert.ok(!result.reaped.some((owner) => owner.uid === uid));
    assert.deepEqual(leftovers(uid), before, "a live owner's objects changed");
    const owners = await bounded(listOwners(), 60_000, "listing owners");
    assert.equal(owners.find((o) => o.uid === uid)?.state, "alive");
    live.process.kill("SIGTERM");
    assertCleanEnd(live, await live.within(live.exit, EXIT_BOUND, "ending by SIGTERM"), "SIGTERM", "live run");
  });
});
