/**
 * Readiness: waiting until a TCP port of a host accepts connections, or a
 * line appears in a program's output. The one implementation behind the
 * topology files' `ready: { port, line }` and the test helpers
 * `waitForPort` and `waitForLine`.
 *
 * A line wakes the wait at once (the RunInfo's output callbacks). A port has
 * no event to wait on: it is looked at with growing pauses (1 ms doubling up
 * to 100 ms). It is judged by the kernel's socket table (a socket in LISTEN
 * state accepts connections), not by connecting, so a server that serves
 * exactly one client never sees a probe.
 */
import { readFile } from "node:fs/promises";
import { DummyNetError } from "../errors.js";
import { TimeoutError } from "../process/errors.js";
import { globToRegExp } from "../process/glob.js";
import type { RunInfo } from "../process/run-info.js";
import type { DummyNet } from "../network/dummy-net.js";
import { procNetOf } from "../network/namespace-processes.js";

/** Options of `waitForPort()` and `waitForLine()`. */
export interface WaitOptions {
  /** How long to wait, in ms. @default 10000 */
  timeout?: number;
  /** Aborting stops the wait (rejects with the signal's reason). */
  signal?: AbortSignal;
}

/** A line pattern: an fnmatch-style glob for the whole line (as `RunInfo.match`), or a RegExp tested against each line. */
export type LinePattern = string | RegExp;

const DEFAULT_WAIT_TIMEOUT = 10_000;

/** Pauses between looks at a port: 1, 2, 4, ... ms, at most this. */
const LONGEST_PAUSE_MS = 100;

function describeTimeout(timeout: unknown): string {
  return typeof timeout === "object" && timeout !== null ? JSON.stringify(timeout) : String(timeout);
}

function checkTimeout(timeout: unknown): number {
  if (timeout === undefined) return DEFAULT_WAIT_TIMEOUT;
  if (typeof timeout !== "number" || !Number.isFinite(timeout) || timeout < 0) {
    throw new DummyNetError(`Invalid timeout: ${describeTimeout(timeout)}: expected a number of milliseconds >= 0`);
  }
  return timeout;
}

function checkPort(port: unknown): number {
  if (typeof port !== "number" || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new DummyNetError(`Invalid port: ${String(port)}: expected an integer from 1 to 65535`);
  }
  return port;
}

/** Where a host lives, for messages. */
function hostName(host: DummyNet): string {
  return host.namespace.isRoot ? "the host namespace" : `host ${host.namespace.name} (${host.namespace.scoped})`;
}

function describePattern(pattern: LinePattern): string {
  return typeof pattern === "string" ? `a line matching "${pattern}"` : `a line matching ${String(pattern)}`;
}

/**
 * Resolves once `host` has a TCP socket listening on `port`. Rejects with
 * TimeoutError naming the port, the host and the wait, or, when `info` (the
 * program expected to listen) exits first, with a DummyNetError describing it.
 *
 * @throws TimeoutError when nothing listens on `port` within `options.timeout`.
 * @throws DummyNetError when `options.info` exits first.
 * @example
 * ```ts
 * const server = await host.runAsync(["python3", "-m", "http.server", "8000"], { daemon: true });
 * await waitForPort(host, 8000, { info: server, timeout: 10000 });
 * ```
 */
export async function waitForPort(
  host: DummyNet,
  port: number,
  options: WaitOptions & { info?: RunInfo; what?: string } = {},
): Promise<void> {
  checkPort(port);
  const timeout = checkTimeout(options.timeout);
  const what = options.what ?? `TCP port ${port} in ${hostName(host)} to accept connections`;
  const deadline = Date.now() + timeout;
  let pause = 1;
  const exited = options.info?.finished.then(() => true);
  for (;;) {
    options.signal?.throwIfAborted();
    if (await isListening(host, port)) return;
    if (options.info?.hasExited)
      throw new DummyNetError(`${options.info.describe()}\nexited while waiting for ${what}`);
    const left = deadline - Date.now();
    if (left <= 0) throw new TimeoutError(options.info, `Timed out after ${timeout} ms waiting for ${what}`);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      new Promise((resolve) => (timer = setTimeout(resolve, Math.min(pause, left)))),
      ...(exited ? [exited] : []),
      ...(options.signal ? [aborted(options.signal)] : []),
    ]);
    clearTimeout(timer);
    pause = Math.min(pause * 2, LONGEST_PAUSE_MS);
  }
}

function aborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    signal.addEventListener(
      "abort",
      () => {
        resolve();
      },
      { once: true },
    );
  });
}

/**
 * Resolves with the first line of `info`'s output (stdout or stderr, what is
 * there already included) that matches `pattern`. Rejects with TimeoutError
 * saying what was awaited and how long, or with a DummyNetError when the
 * process exits without printing it.
 *
 * @throws TimeoutError when no line matches within `options.timeout`.
 * @throws DummyNetError when the process exits without printing it.
 * @example
 * ```ts
 * const line = await waitForLine(server, /listening on (\d+)/, { timeout: 10000 });
 * ```
 */
export function waitForLine(
  info: RunInfo,
  pattern: LinePattern,
  options: WaitOptions & { what?: string } = {},
): Promise<string> {
  if (typeof pattern !== "string" && !(pattern instanceof RegExp)) {
    return Promise.reject(
      new DummyNetError(
        `Invalid pattern: ${String(pattern)}: expected a glob string (whole line, as RunInfo.match) or a RegExp`,
      ),
    );
  }
  let timeout: number;
  try {
    timeout = checkTimeout(options.timeout);
  } catch (error) {
    return Promise.reject(error);
  }
  const regex =
    typeof pattern === "string"
      ? globToRegExp(pattern)
      : new RegExp(pattern.source, pattern.flags.replace(/[gy]/g, ""));
  const what =
    options.what ??
    `${describePattern(pattern)} in the output of \`${typeof info.cmd === "string" ? info.cmd : info.cmd.join(" ")}\``;
  const found = (text: string) => text.split("\n").find((line) => regex.test(line.replace(/\r$/, "")));

  const already = found(info.stdout) ?? found(info.stderr);
  if (already !== undefined) return Promise.resolve(already);
  return new Promise<string>((resolve, reject) => {
    const hooks: {
      key: "stdoutCallback" | "stderrCallback";
      previous: RunInfo["stdoutCallback"];
      ours: (data: string) => void;
    }[] = [];
    let settled = false;
    const finish = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", onAbort);
      // Put the callbacks back as they were, unless someone has replaced ours since.
      for (const hook of hooks) if (info[hook.key] === hook.ours) info[hook.key] = hook.previous;
      outcome();
    };
    for (const key of ["stdoutCallback", "stderrCallback"] as const) {
      const previous = info[key];
      let pending = "";
      const ours = (data: string) => {
        previous?.(data);
        pending += data;
        const newline = pending.lastIndexOf("\n");
        if (newline < 0) return;
        const line = found(pending.slice(0, newline));
        pending = pending.slice(newline + 1);
        if (line !== undefined)
          finish(() => {
            resolve(line);
          });
      };
      info[key] = ours;
      hooks.push({ key, previous, ours });
    }
    const timer = setTimeout(() => {
      finish(() => {
        reject(new TimeoutError(info, `Timed out after ${timeout} ms waiting for ${what}`));
      });
    }, timeout);
    const onAbort = () => {
      finish(() => {
        reject(options.signal?.reason);
      });
    };
    options.signal?.addEventListener("abort", onAbort, { once: true });
    void info.finished.then(() => {
      // A last line without a newline counts too.
      const line = found(info.stdout) ?? found(info.stderr);
      if (line !== undefined)
        finish(() => {
          resolve(line);
        });
      else
        finish(() => {
          reject(new DummyNetError(`${info.describe()}\nexited without printing ${what}`));
        });
    });
  });
}

// ---------------------------------------------------------------- the socket table

const LISTEN = "0A";

/** True when some TCP socket (IPv4 or IPv6) in `host`'s namespace listens on `port`. */
async function isListening(host: DummyNet, port: number): Promise<boolean> {
  const procDirectory = await procNetOfHost(host);
  if (procDirectory === undefined) {
    // Not root (no /proc view into the namespace), or nothing runs there: ask `ss` inside it.
    const result = await host.shell.system(["ss", "-H", "-l", "-t", "-n", "sport", "=", `:${port}`], {
      allowFailure: true,
    });
    return result.exitCode === 0 && result.stdout.trim().length > 0;
  }
  for (const file of ["tcp", "tcp6"]) {
    let table: string;
    try {
      table = await readFile(`${procDirectory}/${file}`, "utf8");
    } catch {
      continue; // no IPv6 in this kernel
    }
    if (socketTableListens(table, port)) return true;
  }
  return false;
}

/** Parses /proc/net/tcp{,6}: "sl local_address rem_address st ...", the port in hex after the colon. */
function socketTableListens(table: string, port: number): boolean {
  const wanted = port.toString(16).toUpperCase().padStart(4, "0");
  return table
    .split("\n")
    .slice(1)
    .some((row) => {
      const fields = row.trim().split(/\s+/);
      return fields[3] === LISTEN && fields[1]?.endsWith(`:${wanted}`);
    });
}

/** /proc/<pid>/net of a process in `host`'s namespace, or undefined when there is none we may read. */
function procNetOfHost(host: DummyNet): Promise<string | undefined> {
  return host.namespace.isRoot ? Promise.resolve("/proc/self/net") : procNetOf(host.shell, host.namespace.scoped);
}
