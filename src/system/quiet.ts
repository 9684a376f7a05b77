/**
 * Commands whose failure is ignored: the synchronous runner of the exit path
 * (process.exit() cannot await; nothing more can be done while exiting, and
 * each command is time-bounded) and SIGKILL to processes that may have gone
 * already. Their argv comes from the Privilege like every other command's.
 */
import { execFileSync } from "node:child_process";
import type { Privilege } from "./privilege.js";

/** Milliseconds one exit-path command may take. */
const SYNC_COMMAND_TIMEOUT_MS = 5000;

/** Runs `argv` with `privilege`, synchronously, ignoring failure: for the exit path only. */
export function runQuietlySync(privilege: Privilege, argv: readonly string[]): void {
  const full = privilege.wrap(argv);
  try {
    execFileSync(full[0], full.slice(1), { stdio: "ignore", timeout: SYNC_COMMAND_TIMEOUT_MS });
  } catch {
    // Already gone, or nothing we can do now.
  }
}

/** SIGKILL to `pid` for the exit path: by this process when `direct` (no `kill` program needed), else through `kill`. */
export function killQuietlySync(privilege: Privilege, pid: number): void {
  if (!privilege.direct) {
    runQuietlySync(privilege, ["kill", "-KILL", String(pid)]);
    return;
  }
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    // Gone already.
  }
}

/**
 * SIGKILL to `pid`: by this process when `direct`, else `kill` through `run`
 * (a CommandRunner's or Shell's, which applies the privilege). A process that
 * is already gone is not an error.
 */
export async function killQuietly(
  privilege: Privilege,
  pid: number,
  run: (argv: readonly string[], options: { allowFailure: true }) => Promise<unknown>,
): Promise<void> {
  if (!privilege.direct) {
    await run(["kill", "-KILL", String(pid)], { allowFailure: true });
    return;
  }
  try {
    process.kill(pid, "SIGKILL");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ESRCH") throw error;
  }
}
