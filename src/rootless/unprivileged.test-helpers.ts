/**
 * Test support for rootless mode: CI runs as root, so these tests drop to an
 * unprivileged uid (setpriv) with a home and XDG_RUNTIME_DIR of its own, run
 * a fixture program there, and look from outside, as root, at what remains.
 */
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { argvAsUser } from "../test-support/setpriv.js";

const here = dirname(fileURLToPath(import.meta.url));
export const repoRoot = resolve(here, "../..");

/** An unprivileged user for one test: its uid, a private home (also its XDG_RUNTIME_DIR), removed by remove(). */
export interface UnprivilegedUser {
  uid: number;
  home: string;
  remove(): void;
}

export function unprivilegedUser(uid: number): UnprivilegedUser {
  const home = mkdtempSync(join(tmpdir(), `dummynet-rootless-${uid}-`));
  chownSync(home, uid, uid);
  chmodSync(home, 0o700);
  return {
    uid,
    home,
    remove: () => {
      rmSync(home, { recursive: true, force: true });
    },
  };
}

/**
 * Starts fixture `name` (src/rootless/fixtures/<name>.ts) as `user`, with
 * `env` added (a marker the leftover checks look for) and `wrap` (a command
 * that execs its arguments) between setpriv and node.
 */
export function spawnFixtureAs(
  user: UnprivilegedUser,
  name: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv = {},
  wrap: readonly string[] = [],
): ChildProcessWithoutNullStreams {
  const fixture = join(here, "fixtures", `${name}.ts`);
  const argv = argvAsUser({ uid: user.uid }, [...wrap, process.execPath, "--import", "tsx", fixture, ...args]);
  return spawn(argv[0], argv.slice(1), {
    cwd: repoRoot,
    env: { PATH: process.env["PATH"], HOME: user.home, XDG_RUNTIME_DIR: user.home, TMPDIR: user.home, ...env },
    stdio: ["pipe", "pipe", "pipe"],
  });
}

/**
 * The argv that runs `argv` as `user` with a clean environment: PATH, the
 * user's HOME, XDG_RUNTIME_DIR and TMPDIR, CI=true, then `env` (a marker the
 * leftover checks look for, a log level): nothing of root's, no sudo.
 */
export function argvAs(
  user: UnprivilegedUser,
  argv: readonly string[],
  env: Readonly<Record<string, string>> = {},
): string[] {
  return argvAsUser({ uid: user.uid }, argv, {
    PATH: process.env["PATH"] ?? "/usr/bin:/bin",
    HOME: user.home,
    XDG_RUNTIME_DIR: user.home,
    TMPDIR: user.home,
    CI: "true",
    ...env,
  });
}

/**
 * What `user` left, waited for at most `timeoutMs` to go: processes whose
 * environment holds `marker`, and files in its rootless record directory
 * ($XDG_RUNTIME_DIR/dummynet, the owners directory itself aside).
 */
export async function leftOfUser(user: UnprivilegedUser, marker: string, timeoutMs = 15_000): Promise<string[]> {
  const state = join(user.home, "dummynet");
  let left: string[] = [];
  await within(timeoutMs, () => {
    const files = existsSync(state)
      ? readdirSync(state, { recursive: true })
          .map(String)
          .filter((file) => file !== "owners")
      : [];
    left = [
      ...processesMarked(marker).map((p) => `process ${p.pid}: ${p.command}`),
      ...files.map((file) => `file ${join(state, file)}`),
    ];
    return left.length === 0;
  });
  return left;
}

/** A running fixture's output as JSON lines, and its end. */
export class FixtureRun {
  readonly events: Array<Record<string, unknown>> = [];
  stderr = "";
  readonly ended: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  #waiters: Array<() => void> = [];

  constructor(readonly child: ChildProcessWithoutNullStreams) {
    let buffered = "";
    child.stdout.setEncoding("utf8").on("data", (text: string) => {
      buffered += text;
      let newline: number;
      while ((newline = buffered.indexOf("\n")) >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        try {
          this.events.push(JSON.parse(line) as Record<string, unknown>);
        } catch {
          this.stderr += `(stdout) ${line}\n`;
        }
        for (const wake of this.#waiters.splice(0)) wake();
      }
    });
    child.stderr.setEncoding("utf8").on("data", (text: string) => (this.stderr += text));
    child.stdin.on("error", () => undefined);
    this.ended = new Promise((done) =>
      child.on("close", (code, signal) => {
        for (const wake of this.#waiters.splice(0)) wake();
        done({ code, signal });
      }),
    );
  }

  /** The first event named `event`, waited for at most `timeoutMs` (fails with what the fixture printed). */
  async waitFor(event: string, timeoutMs = 30_000): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.events.find((e) => e["event"] === event);
      if (found) return found;
      if (this.child.exitCode !== null || this.child.signalCode !== null || Date.now() > deadline) {
        throw new Error(
          `fixture did not report "${event}" within ${timeoutMs} ms (exit ${this.child.exitCode ?? this.child.signalCode}); events: ${JSON.stringify(this.events)}\nstderr:\n${this.stderr}`,
        );
      }
      await new Promise<void>((wake) => {
        const timer = setTimeout(wake, Math.max(0, deadline - Date.now()) + 1);
        this.#waiters.push(() => {
          clearTimeout(timer);
          wake();
        });
      });
    }
  }

  /** Resolves with the exit, or fails (after SIGKILL) when it takes longer than `timeoutMs`. */
  async end(timeoutMs = 30_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<"late">(
      (done) =>
        (timer = setTimeout(() => {
          done("late");
        }, timeoutMs)),
    );
    const outcome = await Promise.race([this.ended, late]);
    clearTimeout(timer);
    if (outcome === "late") {
      this.child.kill("SIGKILL");
      throw new Error(
        `fixture did not end within ${timeoutMs} ms (killed); events: ${JSON.stringify(this.events)}\nstderr:\n${this.stderr}`,
      );
    }
    return outcome;
  }
}

/** A process as seen from outside: pid, command, uid, and its namespaces. */
export interface OutsideProcess {
  pid: number;
  command: string;
  uid: number;
  /** "ns type" -> "type:[inode]" (only those readable). */
  namespaces: Record<string, string>;
  /** NSpid: its pid in each PID namespace, outermost first. */
  nsPid: number[];
}

/** Processes whose environment holds `marker` (every process a fixture starts inherits it), read from /proc as root. */
export function processesMarked(marker: string): OutsideProcess[] {
  return allProcesses().filter((p) => {
    try {
      return readFileSync(`/proc/${p.pid}/environ`, "latin1").split("\0").includes(marker);
    } catch {
      return false;
    }
  });
}

/** Processes (other than zombies) that are in any of `namespaces` ("type:[inode]"). */
export function processesInNamespaces(namespaces: readonly string[], uid: number): OutsideProcess[] {
  const wanted = new Set(namespaces);
  return allProcesses().filter((p) => p.uid === uid && Object.values(p.namespaces).some((ns) => wanted.has(ns)));
}

function allProcesses(): OutsideProcess[] {
  const found: OutsideProcess[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const status = readFileSync(`/proc/${entry}/status`, "utf8");
      if (/^State:\s+Z/m.test(status)) continue;
      const namespaces: Record<string, string> = {};
      for (const type of ["user", "mnt", "net", "pid"]) {
        try {
          namespaces[type] = readlinkSync(`/proc/${entry}/ns/${type}`);
        } catch {
          // Exited meanwhile, or a kernel thread.
        }
      }
      found.push({
        pid: Number(entry),
        command: readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0").join(" ").trim(),
        uid: Number(/^Uid:\s+(\d+)/m.exec(status)?.[1] ?? -1),
        namespaces,
        nsPid: (/^NSpid:\s+(.*)$/m.exec(status)?.[1] ?? "").split(/\s+/).filter(Boolean).map(Number),
      });
    } catch {
      // Exited meanwhile.
    }
  }
  return found;
}

/** Polls `check` every 10 ms until it returns true or `timeoutMs` passes; resolves with the milliseconds it took, or undefined. */
export async function within(timeoutMs: number, check: () => boolean): Promise<number | undefined> {
  const started = performance.now();
  for (;;) {
    if (check()) return performance.now() - started;
    if (performance.now() - started > timeoutMs) return undefined;
    await new Promise((done) => setTimeout(done, 10));
  }
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}
