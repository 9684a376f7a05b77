/**
 * The way into a rootless network: the argv that runs a command inside the
 * namespaces a holder owns (its user namespace, where the caller is root; its
 * mount namespace, with the private /run/netns; its network namespace, the
 * network's "host"; its PID namespace, so the command dies with the holder).
 * Pure argv building: the same array serves spawn and spawnSync.
 */
import { InvalidArgumentError } from "../errors.js";
import { processStartTime } from "../system/proc.js";

/** What another process needs to find and enter a holder: its pid and that process's start time (pids are reused). */
export interface HolderRef {
  /** The holder's pid as the caller sees it (it is 1 in its own PID namespace). */
  readonly pid: number;
  /** Its start time, field 22 of /proc/<pid>/stat (clock ticks since boot). */
  readonly startTime: number;
}

export interface EnterOptions {
  /**
   * Working directory of the command inside. Entering a mount namespace
   * resets it to `/`, so a program that opens relative paths needs the
   * caller's (`process.cwd()`); ip, tc and iptables do not care.
   * @default "/" (none given to nsenter)
   */
  cwd?: string | undefined;
  /**
   * Keep the working directory nsenter starts in (the caller's, or the cwd
   * the command was spawned with): nsenter opens it before it enters the
   * namespaces and goes back to it after (`--wd=.`), so it works even for a
   * directory the private /run hides. Not with `cwd`.
   */
  keepCwd?: boolean | undefined;
  /**
   * A network namespace file to enter instead of the holder's own network
   * namespace. nsenter opens it before it enters any namespace, so it is a
   * path as the caller sees it (holderPath() of /run/netns/<name>).
   */
  net?: string | undefined;
  /**
   * Enter the holder's PID namespace (nsenter then forks, so that the command
   * dies with the holder). An `ip` worker need not: it ends with its input,
   * and without the fork it is one process, which kill() reaches.
   * @default true
   */
  pid?: boolean | undefined;
}

/**
 * The argv that runs `argv` inside the holder's namespaces, as the root of
 * its user namespace (the caller's own uid outside).
 *
 * `--preserve-credentials` keeps the caller's uid and gid, which the user
 * namespace maps to 0: without it nsenter calls setgroups(), which an
 * unprivileged user namespace forbids. `--pid` makes nsenter fork, so the
 * command itself runs inside the PID namespace and the kernel kills it when
 * the holder ends; nsenter waits and exits with its status (by the same signal
 * when it was killed). nsenter does not forward signals: signal the process
 * group (the process monitor does) or the command's own pid.
 *
 * @example
 * ```ts
 * const [program, ...args] = enterArgv(holder, ["ip", "netns", "add", "d-2G9-a"]);
 * spawnSync(program!, args);
 * ```
 */
export function enterArgv(holder: HolderRef, argv: readonly string[], options: EnterOptions = {}): string[] {
  validatePid(holder.pid);
  if (argv.length === 0)
    throw new InvalidArgumentError("argv", argv, "is empty: give the program to run and its arguments");
  const cwd = options.cwd;
  if (cwd !== undefined && (!cwd.startsWith("/") || cwd.includes("\0"))) {
    throw new InvalidArgumentError(
      "options.cwd",
      cwd,
      "must be an absolute path without NUL bytes (it is looked up inside the holder's mount namespace)",
    );
  }
  if (options.net !== undefined && (!options.net.startsWith("/") || options.net.includes("\0")))
    throw new InvalidArgumentError("options.net", options.net, "must be an absolute path without NUL bytes");
  if (cwd !== undefined && options.keepCwd)
    throw new InvalidArgumentError("options.keepCwd", true, "goes without options.cwd: give one or the other");
  return [
    "nsenter",
    `--target=${holder.pid}`,
    "--user",
    "--mount",
    options.net === undefined ? "--net" : `--net=${options.net}`,
    ...(options.pid === false ? [] : ["--pid"]),
    "--preserve-credentials",
    ...(cwd === undefined ? [] : [`--wdns=${cwd}`]),
    ...(options.keepCwd ? ["--wd=."] : []),
    "--",
    ...argv,
  ];
}

/**
 * Where a path of the holder's mount namespace (its private /run/netns, say)
 * is readable from outside, by its owner and other processes of the same
 * user: through /proc/<pid>/root. For code that reads files rather than
 * running commands (listing namespaces, finding a namespace's inode).
 */
export function holderPath(holder: HolderRef, path: string): string {
  validatePid(holder.pid);
  if (!path.startsWith("/"))
    throw new InvalidArgumentError("path", path, "must be absolute (a path inside the holder's mount namespace)");
  return `/proc/${holder.pid}/root${path}`;
}

/** True when the holder still runs: same pid and same start time (a reused pid is another process). */
export function holderAlive(holder: HolderRef): boolean {
  return processStartTime(holder.pid) === holder.startTime;
}

function validatePid(pid: number): void {
  if (!Number.isSafeInteger(pid) || pid < 2)
    throw new InvalidArgumentError("holder.pid", pid, "must be the pid of a running holder (an integer >= 2)");
}
