/**
 * How the library gets the rights to change the system: the one place that
 * decides it. A Privilege is a small strategy that every runner asks for the
 * argv of a command: the asynchronous ones (SpawnRunner, the `ip -batch`
 * workers of IpBatchRunner, the ProcessMonitor's user commands) and the
 * synchronous exit path (quiet.ts, the inventory's synchronous lister).
 * Nothing else builds a prefix.
 *
 * - `root`: commands run as they are (this process is root, or the caller
 *   said `sudo: false`); this process may also read /proc and /run/netns and
 *   signal processes itself (`direct`).
 * - `sudo`: commands run through `sudo -n` (never a password: it fails
 *   instead of asking). `ready()` checks once per process that this works;
 *   when sudo wants a password and a terminal is there, `sudo -v` runs once
 *   with the terminal so that sudo itself asks and caches the credential;
 *   without a terminal it fails with ROOT_ADVICE. The library never reads,
 *   stores or passes a password.
 *
 * Plug point for rootless mode (issue 13): add "rootless" to PrivilegeMode
 * and a Privilege whose `wrap()` prefixes the command with the way into the
 * holder's user and mount namespaces (e.g. `nsenter --target <holder pid>
 * --user --mount --preserve-credentials --`), whose `ready()` waits for the
 * holder, and whose `direct` is false (its /run/netns is private, so
 * processes are listed and signalled through wrapped commands, as with
 * sudo). Hand it to `new HostShell({ privilege })` (which passes it to its
 * runner and process monitor), or make `defaultPrivilege()` return it when
 * rootless mode is chosen; nothing else changes.
 */
import { spawn, spawnSync } from "node:child_process";
import { DummyNetError } from "../errors.js";

/** How commands get their rights: run as they are (`root`), through `sudo -n`, or inside a rootless holder's namespaces (src/rootless/privilege.ts). */
type PrivilegeMode = "root" | "sudo" | "rootless";

/** A way into the system: the argv every command of the library runs with. */
export interface Privilege {
  /** Which way this is. */
  readonly mode: PrivilegeMode;
  /**
   * True when commands run as they are, so this process may also read
   * /proc/<pid>/ns and /run/netns and signal the processes itself instead of
   * running `ip netns pids` or `kill` through wrap().
   */
  readonly direct: boolean;
  /** The argv that runs one of the library's own commands (ip, tc, iptables, kill, ...). */
  wrap(argv: readonly string[]): string[];
  /**
   * The argv that runs one of the library's commands inside network namespace `namespace` (its name in
   * /run/netns) by entering it, where that is cheaper than `ip -n` (which also makes the command a mount
   * namespace with /sys mounted anew). Absent: commands enter it themselves (`ip -n`).
   */
  wrapInNamespace?(namespace: string, argv: readonly string[]): string[];
  /** The argv that runs a user's command: as wrap(), but keeping this process's environment. */
  wrapUserCommand(argv: readonly string[]): string[];
  /** Resolves once commands can run this way; rejects with a DummyNetError that says how to get root. */
  ready(): Promise<void>;
  /**
   * Where this process reads a path of the system its commands see (e.g.
   * /run/netns/<name>), for code that reads files instead of running commands.
   * @default the path itself
   */
  systemPath?(path: string): string;
}

/** The path where this process reads `path` of the system that `privilege`'s commands see. */
export function systemPath(privilege: Privilege, path: string): string {
  return privilege.systemPath ? privilege.systemPath(path) : path;
}

/** Commands run as they are. */
export const ROOT: Privilege = Object.freeze({
  mode: "root",
  direct: true,
  wrap: (argv: readonly string[]) => [...argv],
  wrapUserCommand: (argv: readonly string[]) => [...argv],
  ready: () => Promise.resolve(),
});

/** Commands run through `sudo -n`, after one `ensureSudo()` check. */
export const SUDO: Privilege = Object.freeze({
  mode: "sudo",
  direct: false,
  wrap: (argv: readonly string[]) => ["sudo", "-n", "--", ...argv],
  // --preserve-env: the user's command sees the environment it was given (PATH, options), as without sudo.
  wrapUserCommand: (argv: readonly string[]) => ["sudo", "-n", "--preserve-env", "--", ...argv],
  ready: () => ensureSudo(),
});

/** True when this process runs as root. */
export function isRoot(): boolean {
  return process.getuid?.() === 0;
}

/** The privilege of a `sudo` option: through sudo when true, as they are when false. */
export function privilegeFor(sudo: boolean): Privilege {
  return sudo ? SUDO : ROOT;
}

/** The privilege of this process when nobody chose one: as they are when root, else through sudo. */
export function defaultPrivilege(): Privilege {
  return privilegeFor(!isRoot());
}

/**
 * The sudoers line that gives dummynet what it runs through sudo (the README shows it, and its test
 * checks it against what the library really asks sudo for). SETENV: programs run with
 * `sudo -n --preserve-env`; true: sudo is checked with `sudo -n true`.
 */
export const SUDOERS_LINE =
  "youruser ALL=(root) NOPASSWD:SETENV: /usr/sbin/ip, /usr/sbin/tc, /usr/sbin/iptables, /usr/bin/nsenter, /usr/sbin/sysctl, /usr/bin/kill, /usr/bin/true";

/** The one advice on how to give dummynet the rights it needs. */
export const ROOT_ADVICE =
  "Run as root (for example `sudo node ...` or in a root container), or allow passwordless sudo " +
  "for the programs it runs (the README's sudoers line: " +
  `\`${SUDOERS_LINE}\`), ` +
  "or run `sudo -v` in this terminal first (dummynet uses `sudo -n` and never asks for a password itself).";

// ---------------------------------------------------------------------------
// The sudo policy: `sudo -n`, and `sudo -v` once when a terminal can ask.

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

/** Whether sudo works without asking: `sudo -n true`. */
const SUDO_CHECK = ["sudo", "-n", "true"] as const;
/** Lets sudo ask for the password on the terminal once and cache the credential. */
const SUDO_VALIDATE = ["sudo", "-v"] as const;

/** What to do after `sudo -n true` ended with `exitCode` and `stderr`. */
export function decideAfterCheck(
  result: { exitCode: number | null; stderr: string; missing?: boolean },
  isTTY: boolean,
): SudoCheckOutcome {
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

/** `sudo -n true` run synchronously (for `doctor`): whether sudo works without a password now. */
export function sudoWorksWithoutPassword(): boolean {
  // -n: fail instead of prompting; a password is never asked for nor stored.
  return spawnSync(SUDO_CHECK[0], SUDO_CHECK.slice(1), { stdio: "ignore", timeout: 10_000 }).status === 0;
}

async function checkSudo(options: EnsureSudoOptions): Promise<void> {
  const runSudo = options.runSudo ?? spawnSudo;
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-conversion -- isTTY is undefined, not false, off a terminal
  const isTTY = options.isTTY ?? Boolean(process.stdin.isTTY);
  const check = await runSudo(SUDO_CHECK, false);
  const outcome = decideAfterCheck(check, isTTY);
  if (outcome === "ready") return;
  if (outcome === "prompt") {
    // sudo asks on the terminal itself and caches the credential for the `sudo -n` commands that follow.
    const validate = await runSudo(SUDO_VALIDATE, true);
    if (validate.exitCode === 0) return;
    throw new DummyNetError(
      `sudo -v failed (exit status ${String(validate.exitCode)}): dummynet needs root. ${ROOT_ADVICE}`,
    );
  }
  const reason = check.missing
    ? "sudo is not installed and this process is not root"
    : needsPassword(check.stderr)
      ? "sudo needs a password and there is no terminal to ask for it"
      : `\`sudo -n true\` failed: ${check.stderr.trim() || `exit status ${String(check.exitCode)}`}`;
  throw new DummyNetError(`dummynet needs root: ${reason}. ${ROOT_ADVICE}`);
}

const spawnSudo: SudoCommandRunner = (argv, interactive) =>
  new Promise((resolve) => {
    const child = spawn(argv[0], argv.slice(1), { stdio: interactive ? "inherit" : ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr?.setEncoding("utf8").on("data", (text: string) => (stderr += text));
    child.on("error", (error: NodeJS.ErrnoException) => {
      resolve({ exitCode: null, stderr: error.message, missing: error.code === "ENOENT" });
    });
    child.on("close", (code) => {
      resolve({ exitCode: code, stderr });
    });
  });
