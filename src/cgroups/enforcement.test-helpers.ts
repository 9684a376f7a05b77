/**
 * Probes shared by the cgroup tests on the host (v1 here) and in the kernel
 * lab (v2): child processes that burn CPU or allocate memory, a reader of
 * the CPU time the kernel charged them, and the enforcement scenarios for
 * shell lines whose shell forks the work. Test support only; not shipped.
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { readFile, rm, writeFile } from "node:fs/promises";
import { once } from "node:events";
import { setPriority } from "node:os";
import { join } from "node:path";
import type { RunInfo } from "../process/run-info.js";
import { HostShell } from "../shell/host-shell.js";
import { CGroup } from "./cgroup.js";
import type { CGroupLayout } from "./layout.js";

/** Linux reports utime/stime in /proc in USER_HZ ticks, 100 per second on every mainstream architecture. */
const USER_HZ = 100;

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface Child {
  process: ChildProcess;
  pid: number;
  exited: Promise<Exit>;
  /** SIGKILLs the child if it still runs and waits for its exit. */
  stop(): Promise<Exit>;
}

function track(child: ChildProcess): Child {
  if (child.pid === undefined) throw new Error("spawn failed");
  const exited = once(child, "exit").then(([code, signal]) => ({
    code: code as Exit["code"],
    signal: signal as Exit["signal"],
  }));
  return {
    process: child,
    pid: child.pid,
    exited,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      return exited;
    },
  };
}

/** A shell spinning in a loop of builtins: one process, always runnable. */
export function spawnBusyLoop(): Child {
  return track(spawn("sh", ["-c", "while :; do :; done"], { stdio: "ignore" }));
}

/** A process that sleeps (stays alive, uses no CPU). */
export function spawnSleeper(): Child {
  return track(spawn("sleep", ["1000"], { stdio: "ignore" }));
}

/**
 * A Node.js child that waits for a line on stdin (send it after addPid, so
 * that its allocations are charged to the cgroup) and then allocates `mib`
 * MiB in 1 MiB buffers filled with 1s (filled, so every page is really
 * committed), prints "allocated <n>" and exits 0.
 */
export function spawnAllocator(mib: number): Child & { go(): void; stdout(): string } {
  const script =
    "process.stdin.once('data', () => {" +
    "  const keep = [];" +
    `  for (let i = 0; i < ${mib}; i++) keep.push(Buffer.alloc(1 << 20, 1));` +
    "  process.stdout.write('allocated ' + keep.length + '\\n');" +
    "  process.exit(0);" +
    "});";
  const child = spawn(process.execPath, ["-e", script], { stdio: ["pipe", "pipe", "inherit"] });
  let output = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
  return Object.assign(track(child), {
    go: () => void child.stdin.write("go\n"),
    stdout: () => output,
  });
}

/** CPU time (user + system, seconds) the kernel has charged to `pid`. */
async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name (which may hold spaces) start at field 3 (state); utime is 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / USER_HZ;
}

/**
 * The share of one CPU each of `pids` got over a window of `windowMs`: CPU
 * seconds charged divided by wall-clock seconds (1.0 = one full CPU).
 */
export async function cpuShares(pids: number[], windowMs: number): Promise<number[]> {
  const before = await Promise.all(pids.map(cpuSeconds));
  const start = process.hrtime.bigint();
  // A measurement window, not a wait for some state: the effect measured is a rate over time.
  await new Promise((done) => setTimeout(done, windowMs));
  const after = await Promise.all(pids.map(cpuSeconds));
  const wallSeconds = Number(process.hrtime.bigint() - start) / 1e9;
  return pids.map((_, i) => (after[i] - before[i]) / wallSeconds);
}

/** The cgroup(s) `pid` is in, as /proc/<pid>/cgroup lists them. */
export async function cgroupsOf(pid: number): Promise<string> {
  return readFile(`/proc/${pid}/cgroup`, "utf8");
}

// ------------------------------------------------------------------ shell lines, as users write them

/**
 * A shell line whose shell forks Node.js (the `; echo` after it keeps sh from
 * exec'ing it, as in most real lines): the child prints "ready <its pid>",
 * waits until `goFile` exists, runs `body` and exits; then the shell prints
 * "exit <the child's status>". `body` is fixed test code without single quotes.
 */
function forkingShellLine(goFile: string, body: string): string {
  const script =
    'const fs = require("fs");' +
    'console.log("ready " + process.pid);' +
    `const go = ${JSON.stringify(goFile)};` +
    `const wait = setInterval(() => { if (!fs.existsSync(go)) return; clearInterval(wait); ${body} }, 5);`;
  if (script.includes("'")) throw new Error("the script must not hold single quotes");
  return `'${process.execPath}' -e '${script}'; echo "exit $?"`;
}

/**
 * The CPU hog: once told, computes for `windowMs` of wall-clock time and
 * prints "work <rounds done>". Each round is 10000 steps of a random number
 * generator between two looks at the clock (reading the clock costs a trap
 * into the kernel under user-mode Linux); printing the result keeps the
 * compiler from dropping the work.
 */
function busyShellLine(goFile: string, windowMs: number): string {
  return forkingShellLine(
    goFile,
    `let n = 0; let x = 1; const end = Date.now() + ${windowMs};` +
      " while (Date.now() < end) { for (let i = 0; i < 10000; i++) x = (Math.imul(x, 1103515245) + 12345) | 0; n++; }" +
      ` console.log("work " + n + " (result " + x + ")");`,
  );
}

/**
 * The memory hog: once told, allocates `mib` MiB in 1 MiB buffers filled with
 * 1s (so every page is committed) and prints "allocated <n>".
 */
function hogShellLine(goFile: string, mib: number): string {
  return forkingShellLine(
    goFile,
    `const keep = []; for (let i = 0; i < ${mib}; i++) keep.push(Buffer.alloc(1 << 20, 1)); console.log("allocated " + keep.length);`,
  );
}

/** Resolves with the match once `info`'s stdout matches `pattern`; rejects after `ms`, or at its end, with what ran and its output. */
export function stdoutMatch(info: RunInfo, pattern: RegExp, ms: number): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    const previous = info.stdoutCallback;
    let settled = false;
    const settle = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      info.stdoutCallback = previous;
      outcome();
    };
    const check = (ended: boolean) => {
      const found = pattern.exec(info.stdout);
      if (found)
        settle(() => {
          resolve(found);
        });
      else if (ended)
        settle(() => {
          reject(new Error(`no ${pattern} in stdout before the end: ${info.describe()}`));
        });
    };
    const timer = setTimeout(() => {
      settle(() => {
        reject(new Error(`no ${pattern} in stdout within ${ms} ms: ${info.describe()}`));
      });
    }, ms);
    info.stdoutCallback = (data) => {
      previous?.(data);
      check(false);
    };
    void info.finished.then(() => {
      check(true);
    });
    check(false);
  });
}

/** Waits for `info` to finish, at most `ms`; rejects with what is running otherwise. */
export async function finishedWithin(info: RunInfo, ms: number): Promise<RunInfo> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(new Error(`not finished within ${ms} ms: ${info.describe()}`));
    }, ms);
  });
  try {
    return await Promise.race([info.finished, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** True when `pid` is in `cgroup` in every hierarchy the cgroup has (one on v2, cpu and memory on v1). */
export async function isInside(pid: number, cgroup: CGroup): Promise<boolean> {
  const lines = (await cgroupsOf(pid)).split("\n").filter((line) => line.endsWith(`:/${cgroup.name}`));
  return lines.length === cgroup.paths.length;
}

// ------------------------------------------------------------------ enforcement scenarios (host and lab)

/** How the limited command gets into its cgroup. */
export type Placement = "addPid after the start" | "runAsync with { cgroup }";
export const PLACEMENTS: readonly Placement[] = ["addPid after the start", "runAsync with { cgroup }"];

export interface Scenario {
  layout: CGroupLayout;
  /** The scoped name of the cgroup to make. */
  name: string;
  placement: Placement;
  /** A directory for the go files. */
  scratch: string;
  /** Milliseconds granted to starting, running and ending each command (a slow lab guest needs more). */
  patienceMs: number;
}

/**
 * Runs the same shell line twice, one after the other (on a one-CPU guest,
 * two hogs side by side would split the CPU whatever the limit): first held
 * by `cgroup` as `placement` says, checking that its forked child is inside;
 * then unconstrained, checking that its child is not. Each child is let go
 * (after `beforeGo`) once it is where it belongs, and awaited to the end.
 */
async function runPair(
  shell: HostShell,
  cgroup: CGroup,
  line: (goFile: string) => string,
  scenario: Scenario,
  beforeGo: (child: number) => Promise<void> = () => Promise.resolve(),
): Promise<{ limited: RunInfo; unconstrained: RunInfo }> {
  const runOnce = async (held: boolean): Promise<RunInfo> => {
    const goFile = join(scenario.scratch, `${scenario.name}.go`);
    const startInside = held && scenario.placement === "runAsync with { cgroup }";
    const info = await shell.runAsync(line(goFile), startInside ? { cgroup } : {});
    const child = Number((await stdoutMatch(info, /^ready (\d+)$/mu, scenario.patienceMs))[1]);
    assert.notEqual(child, info.pid, "the shell forked its child instead of exec'ing it");
    if (held && !startInside) await cgroup.addPid(info.pid!);
    assert.equal(
      await isInside(child, cgroup),
      held,
      `the forked child ${child} is ${held ? "" : "not "}in ${cgroup.name}: ${await cgroupsOf(child)}`,
    );
    await beforeGo(child);
    await writeFile(goFile, "");
    await finishedWithin(info, scenario.patienceMs * 3);
    await rm(goFile);
    return info;
  };
  const limited = await runOnce(true);
  const unconstrained = await runOnce(false);
  return { limited, unconstrained };
}

/** The nice value both CPU hogs get, so that they outweigh the other work of a shared, loaded machine. */
const HOG_NICE = -15;
/** The scheduler's weight for nice -15 (kernel/sched/core.c sched_prio_to_weight; nice 0 is 1024). */
const HOG_WEIGHT = 29154;

/**
 * Gives a CPU hog a high priority (both get the same), so that the
 * comparison shows what the quota takes away rather than how busy the
 * shared machine is: the nice value of the process and of its autogroup
 * (with sched_autogroup each session is weighed as one, whatever its nice
 * values), and the same weight to the cgroup (a cgroup is weighed as one
 * too: cpu.shares on v1, cpu.weight on v2). Then the quota, not the
 * competition, is what holds the limited one back.
 */
async function raisePriority(cgroup: CGroup, pid: number): Promise<void> {
  setPriority(pid, HOG_NICE);
  await writeFile(`/proc/${pid}/autogroup`, String(HOG_NICE)).catch((error: unknown) => {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error; // a kernel without autogroups
  });
  const cpuDir = cpuDirectory(cgroup);
  if (existsSync(join(cpuDir, "cpu.weight")))
    await writeFile(join(cpuDir, "cpu.weight"), String(Math.round((HOG_WEIGHT * 100) / 1024)));
  else await writeFile(join(cpuDir, "cpu.shares"), String(HOG_WEIGHT));
}

/** The directory of `cgroup` that holds its cpu controller's files. */
function cpuDirectory(cgroup: CGroup): string {
  return cgroup.paths.find((dir) => existsSync(join(dir, "cpu.stat")))!;
}

export interface CpuFigures {
  /** Loop iterations done in the window under the 0.2 CPU limit. */
  limited: number;
  unconstrained: number;
  /** unconstrained / limited. */
  ratio: number;
  /** The cgroup's nr_throttled after the run. */
  throttled: number;
}

/** A CPU-bound child forked by a shell line, under cpuLimit 0.2 and without: the work each does in the same wall time. */
export async function cpuScenario(scenario: Scenario, windowMs: number): Promise<CpuFigures> {
  const shell = new HostShell();
  const cgroup = await CGroup.create({ name: scenario.name, cpuLimit: 0.2, layout: scenario.layout });
  try {
    const { limited, unconstrained } = await runPair(
      shell,
      cgroup,
      (go) => busyShellLine(go, windowMs),
      scenario,
      (pid) => raisePriority(cgroup, pid),
    );
    const work = (info: RunInfo) => {
      const found = /^work (\d+) /mu.exec(info.stdout);
      assert.ok(
        found && /^exit 0$/mu.test(info.stdout),
        `the busy child did its work and exited 0: ${info.describe()}`,
      );
      return Number(found[1]);
    };
    const throttled = Number(
      /nr_throttled (\d+)/u.exec(await readFile(join(cpuDirectory(cgroup), "cpu.stat"), "utf8"))?.[1] ?? 0,
    );
    const figures = { limited: work(limited), unconstrained: work(unconstrained), throttled };
    return { ...figures, ratio: figures.unconstrained / figures.limited };
  } finally {
    await shell.processMonitor.stop({ validateState: false });
    await cgroup.hardClean();
  }
}

export interface MemoryOutcome {
  /** What the limited line printed: "exit 137" when its child was OOM-killed. */
  limitedStdout: string;
  unconstrainedStdout: string;
  /** OOM kills the kernel counted in the cgroup (memory.events on v2, memory.oom_control on v1). */
  oomKills: number;
}

/** A memory hog forked by a shell line, under memoryLimit `limitMiB` and without. */
export async function memoryScenario(scenario: Scenario, limitMiB: number, hogMiB: number): Promise<MemoryOutcome> {
  const shell = new HostShell();
  const cgroup = await CGroup.create({
    name: scenario.name,
    memoryLimit: limitMiB * 1024 * 1024,
    layout: scenario.layout,
  });
  try {
    const { limited, unconstrained } = await runPair(shell, cgroup, (go) => hogShellLine(go, hogMiB), scenario);
    const memoryDir = cgroup.paths.find(
      (dir) => existsSync(join(dir, "memory.events")) || existsSync(join(dir, "memory.oom_control")),
    )!;
    const events = await readFile(
      join(memoryDir, scenario.layout.version === 2 ? "memory.events" : "memory.oom_control"),
      "utf8",
    );
    return {
      limitedStdout: limited.stdout.replace(/^ready \d+\n/mu, ""),
      unconstrainedStdout: unconstrained.stdout.replace(/^ready \d+\n/mu, ""),
      oomKills: Number(/oom_kill (\d+)/u.exec(events)?.[1] ?? 0),
    };
  } finally {
    await shell.processMonitor.stop({ validateState: false });
    await cgroup.hardClean();
  }
}
