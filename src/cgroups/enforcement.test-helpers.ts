/**
 * Probes shared by the cgroup tests on the host (v1 here) and in the kernel
 * lab (v2): child processes that burn CPU or allocate memory, and a reader of
 * the CPU time the kernel charged them. Test support only; not shipped.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readFile } from "node:fs/promises";
import { once } from "node:events";

/** Linux reports utime/stime in /proc in USER_HZ ticks, 100 per second on every mainstream architecture. */
const USER_HZ = 100;

export interface Exit {
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
  const exited = once(child, "exit").then(([code, signal]) => ({ code, signal }) as Exit);
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
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
  return Object.assign(track(child), {
    go: () => void child.stdin!.write("go\n"),
    stdout: () => output,
  });
}

/** CPU time (user + system, seconds) the kernel has charged to `pid`. */
export async function cpuSeconds(pid: number): Promise<number> {
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
  return pids.map((_, i) => (after[i]! - before[i]!) / wallSeconds);
}

/** The cgroup(s) `pid` is in, as /proc/<pid>/cgroup lists them. */
export async function cgroupsOf(pid: number): Promise<string> {
  return readFile(`/proc/${pid}/cgroup`, "utf8");
}
