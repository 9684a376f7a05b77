/**
 * The process monitor's argument checks (refused before anything runs) and
 * the small waits its calls share.
 */
import { constants } from "node:os";
import { InvalidArgumentError } from "../errors.js";
import { DaemonExitError } from "./errors.js";

export function validateCommand(cmd: unknown): asserts cmd is string | readonly string[] {
  if (typeof cmd === "string") {
    if (cmd.includes("\0")) throw new InvalidArgumentError("cmd", cmd, "must not contain NUL characters");
    return;
  }
  if (!Array.isArray(cmd)) {
    throw new InvalidArgumentError(
      "cmd",
      cmd,
      "must be a string (run by /bin/sh -c) or an array of strings (run without a shell)",
    );
  }
  if (cmd.length === 0)
    throw new InvalidArgumentError("cmd", cmd, "must not be an empty array: its first element is the program");
  for (const arg of cmd) {
    if (typeof arg !== "string") throw new InvalidArgumentError("cmd", cmd, "must contain only strings");
    if (arg.includes("\0")) throw new InvalidArgumentError("cmd", cmd, "must not contain NUL characters");
  }
  if (cmd[0] === "") throw new InvalidArgumentError("cmd", cmd, "must start with a program name, not an empty string");
}

export function validateMilliseconds(argument: string, value: unknown, options: { positive?: boolean } = {}): void {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0 || (options.positive && value === 0)) {
    throw new InvalidArgumentError(
      argument,
      value,
      `must be a ${options.positive ? "positive" : "non-negative"} finite number of milliseconds`,
    );
  }
}

/** Signals that stop or continue a process instead of ending it: not for kill(). */
const NOT_ENDING = new Set(["SIGSTOP", "SIGCONT", "SIGTSTP", "SIGTTIN", "SIGTTOU", "SIGWINCH", "SIGCHLD", "SIGURG"]);

/** A signal name kill() may send: one the system knows, and one whose default action ends a process. */
export function validateEndingSignal(value: unknown): asserts value is NodeJS.Signals {
  if (typeof value !== "string" || !(value in constants.signals)) {
    throw new InvalidArgumentError(
      "signal",
      value,
      'must be a signal name such as "SIGKILL" or "SIGTERM" (see `kill -l`, with the SIG prefix)',
    );
  }
  if (NOT_ENDING.has(value)) {
    throw new InvalidArgumentError(
      "signal",
      value,
      "does not end a process by default: use pause()/resume() to stop and continue a program, or an ending signal such as SIGTERM or SIGKILL",
    );
  }
}

export function invalidStateMessage(errors: readonly Error[]): string {
  const daemons = errors.filter((e) => e instanceof DaemonExitError).length;
  const jobs = errors.length - daemons;
  const parts = [];
  if (daemons) parts.push(`${daemons} daemon${daemons > 1 ? "s" : ""} exited`);
  if (jobs) parts.push(`${jobs} job${jobs > 1 ? "s" : ""} failed`);
  return `Invalid state: ${parts.join(", ")}`;
}

/** CPU times come in clock ticks (1/100 s); rounding hides the float noise of adding them up (1.0299999999999998). */
export function roundSeconds(seconds: number): number {
  return Math.round(seconds * 1e6) / 1e6;
}

/** Waits for `finished`, a timeout, or an abort, whichever comes first. */
export async function settleFirst(
  finished: Promise<void>,
  timeout: number | undefined,
  signal: AbortSignal | undefined,
): Promise<"finished" | "timeout" | "aborted"> {
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const racers: Promise<"finished" | "timeout" | "aborted">[] = [finished.then(() => "finished" as const)];
  if (timeout !== undefined)
    racers.push(
      new Promise(
        (resolve) =>
          (timer = setTimeout(() => {
            resolve("timeout");
          }, timeout)),
      ),
    );
  if (signal) {
    racers.push(
      new Promise((resolve) => {
        onAbort = () => {
          resolve("aborted");
        };
        signal.addEventListener("abort", onAbort, { once: true });
      }),
    );
  }
  try {
    return await Promise.race(racers);
  } finally {
    clearTimeout(timer);
    if (onAbort) signal?.removeEventListener("abort", onAbort);
  }
}
