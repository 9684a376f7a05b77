/**
 * Sudo without passwords in the library. When not root, commands run through
 * `sudo -n` (non-interactive: it fails instead of asking). Before the first
 * such command `ensureSudo()` checks that this works; when sudo wants a
 * password and a terminal is there, `sudo -v` runs once with the terminal so
 * that sudo itself asks and caches the credential; without a terminal it fails
 * with what to do. The library never reads, stores or passes a password.
 */
import { spawn } from "node:child_process";
import { DummyNetError } from "../errors.js";

/** Runs a sudo command; `interactive` gives it this process's terminal (stdin/stdout/stderr). */
export type SudoCommandRunner = (
  argv: readonly string[],
  interactive: boolean,
) => Promise<{ exitCode: number | null; stderr: string; missing?: boolean }>;

export interface EnsureSudoOptions {
  /** How sudo is run (tests inject one). @default spawning the real sudo */
  runSudo?: SudoCommandRunner;
  /** Whether a terminal is available for sudo to ask for a password. @default process.stdin.isTTY */
  isTTY?: boolean;
}

export type SudoCheckOutcome = "ready" | "prompt" | "fail";

export const SUDO_HOW_TO =
  "Run as root (for example `sudo node ...` or in a root container), or allow passwordless sudo " +
  "for ip, tc, iptables, nsenter and kill (a sudoers line such as " +
  "`youruser ALL=(root) NOPASSWD: /usr/sbin/ip, /usr/sbin/tc, /usr/sbin/iptables, /usr/bin/nsenter, /usr/bin/kill`), " +
  "or run `sudo -v` in this terminal first.";

/** What to do after `sudo -n true` ended with `exitCode` and `stderr`. */
export function decideAfterCheck(result: { exitCode: number | null; stderr: string; missing?: boolean }, isTTY: boolean): SudoCheckOutcome {
  if (result.exitCode === 0) return "ready";
  if (result.missing) return "fail";
  if (needsPassword(result.stderr)) return isTTY ? "prompt" : "fail";
  return "fail";
}

/** sudo's wording when -n stops it because it would have to ask for a password. */
export function needsPassword(stderr: string): boolean {
  return /password is required|a terminal is required|no tty present|askpass/iu.test(stderr);
}

let ready: Promise<void> | undefined;

/**
 * Makes sure `sudo -n` works, once per process (later calls share the first
 * check). Rejects with a DummyNetError saying how to run otherwise.
 */
export function ensureSudo(options: EnsureSudoOptions = {}): Promise<void> {
  if (options.runSudo) return checkSudo(options); // injected runners are not cached (tests)
  ready ??= checkSudo(options).catch((error: unknown) => {
    ready = undefined; // let a later call try again (e.g. after the user ran `sudo -v`)
    throw error;
  });
  return ready;
}

async function checkSudo(options: EnsureSudoOptions): Promise<void> {
  const runSudo = options.runSudo ?? spawnSudo;
  const isTTY = options.isTTY ?? Boolean(process.stdin.isTTY);
  const check = await runSudo(["sudo", "-n", "true"], false);
  const outcome = decideAfterCheck(check, isTTY);
  if (outcome === "ready") return;
  if (outcome === "prompt") {
    // sudo asks on the terminal itself and caches the credential for the `sudo -n` commands that follow.
    const validate = await runSudo(["sudo", "-v"], true);
    if (validate.exitCode === 0) return;
    throw new DummyNetError(`sudo -v failed (exit status ${String(validate.exitCode)}): dummynet needs root. ${SUDO_HOW_TO}`);
  }
  const reason = check.missing
    ? "sudo is not installed and this process is not root"
    : needsPassword(check.stderr)
      ? "sudo needs a password and there is no terminal to ask for it"
      : `\`sudo -n true\` failed: ${check.stderr.trim() || `exit status ${String(check.exitCode)}`}`;
  throw new DummyNetError(`dummynet needs root: ${reason}. ${SUDO_HOW_TO}`);
}

const spawnSudo: SudoCommandRunner = (argv, interactive) =>
  new Promise((resolve) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: interactive ? "inherit" : ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr?.setEncoding("utf8").on("data", (text: string) => (stderr += text));
    child.on("error", (error: NodeJS.ErrnoException) => resolve({ exitCode: null, stderr: error.message, missing: error.code === "ENOENT" }));
    child.on("close", (code) => resolve({ exitCode: code, stderr }));
  });
