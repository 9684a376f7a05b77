/**
 * The system-command layer: the one place where the library's own commands
 * (ip, tc, bridge, iptables, ...) reach the system. Commands are argument
 * arrays, never shell lines. A CommandRunner decides how a command gets into
 * a namespace and how it is executed (one process per command today; a
 * long-lived batch worker or netlink could replace it without touching the
 * network code). How a command gets its rights (root, sudo) is the
 * Privilege's (privilege.ts).
 */
import { InvalidArgumentError } from "../errors.js";
import { netnsPath } from "./proc.js";

/** Where and how one of the library's own commands runs. */
export interface SystemCommandOptions {
  /** Scoped name of the network namespace to run in; undefined = the caller's own. */
  namespace?: string | undefined;
  /** Text written to the command's standard input. */
  input?: string;
  /** Resolve with the result instead of rejecting when the exit status is not 0. */
  allowFailure?: boolean;
}

/** What a system command gave. */
export interface CommandResult {
  /** The argument array actually executed (with any privilege or namespace prefix). */
  argv: readonly string[];
  /** Its standard output. */
  stdout: string;
  /** Its standard error. */
  stderr: string;
  /** Exit status; null when killed by a signal. */
  exitCode: number | null;
}

/**
 * Runs the library's own system commands (ip, tc, iptables, ...) as argument arrays:
 * `SpawnRunner`, `IpBatchRunner`, or your own (e.g. to record commands).
 */
export interface CommandRunner {
  /**
   * Runs `argv`; rejects with SystemCommandError on failure unless `allowFailure`.
   *
   * @throws SystemCommandError when the command fails (unless `allowFailure`); MissingProgramError when its program is not installed.
   * @throws InvalidArgumentError for an argv that is empty or holds a non-string.
   *
   * @example
   * ```ts
   * const result = await new SpawnRunner().run(["ip", "-brief", "link"]);
   * console.log(result.exitCode, result.stdout);
   * ```
   */
  run(argv: readonly string[], options?: SystemCommandOptions): Promise<CommandResult>;
  /** Releases long-lived resources (workers); the runner may be used again afterwards. */
  close?(): Promise<void>;
  /**
   * Processes the runner keeps alive itself (workers inside namespaces): never a user's, never to be killed. With
   * `namespace`, those it started for that namespace.
   *
   * @example
   * ```ts
   * const workers: number[] = new IpBatchRunner().helperPids();
   * ```
   */
  helperPids?(namespace?: string): number[];
}

/** Programs that take `-n <netns>` themselves, which is cheaper than `ip netns exec`. */
const NAMESPACE_AWARE = new Set(["ip", "tc", "bridge"]);

/** The argv that runs `argv` inside `namespace`. */
export function inNamespace(argv: readonly string[], namespace: string | undefined): string[] {
  if (namespace === undefined) return [...argv];
  const [program, ...rest] = argv;
  if (NAMESPACE_AWARE.has(program)) return [program, "-n", namespace, ...rest];
  // nsenter switches only the network namespace; `ip netns exec` would also remount /sys.
  return ["nsenter", `--net=${netnsPath(namespace)}`, "--", ...argv];
}

/**
 * iproute2 sometimes reports an error and still exits 0 (an over-long
 * argument gives "addattr_l ERROR: message exceeded bound", and nothing reaches
 * the kernel). Such output means the command failed, whatever its status.
 */
export function reportsError(stderr: string): boolean {
  return stderr.split("\n").some((line) => /\bERROR\b|^Error:/.test(line) && !RACE_NOTICES.test(line));
}

/**
 * What ip prints, exiting 0, when another process deletes a namespace while
 * it lists namespaces (it asks each one's id): a race with someone else, not a
 * failure of this command.
 */
const RACE_NOTICES = /^Error: Peer netns reference is invalid\.?$/;

/** Longest argument passed to ip or tc: names, addresses and numbers are far shorter. */
const MAX_IP_ARGUMENT = 255;

/**
 * An over-long argument overflows iproute2's netlink message: ip then sends
 * the request without that attribute (an unnamed link becomes "bridge0") and
 * exits 0. Refuse it before anything runs.
 */
function overlongIpArgument(argv: readonly string[]): string | undefined {
  if (argv[0] !== "ip" && argv[0] !== "tc" && argv[0] !== "bridge") return undefined;
  return argv.find((word) => word.length > MAX_IP_ARGUMENT);
}

/**
 * The checks every runner makes before a system command runs: no NUL byte
 * (no program can receive one; spawn would throw a TypeError) and no
 * over-long ip, tc or bridge argument. Throws InvalidArgumentError.
 */
export function checkSystemArgv(argv: readonly string[]): void {
  const withNul = argv.find((word) => word.includes("\0"));
  if (withNul !== undefined) {
    throw new InvalidArgumentError(
      "command argument",
      withNul,
      "must not contain a NUL byte (\\0): no program can receive one",
    );
  }
  const overlong = overlongIpArgument(argv);
  if (overlong !== undefined) {
    throw new InvalidArgumentError(
      `${argv[0]} argument`,
      overlong,
      `is ${overlong.length} characters long; ${argv[0]} arguments are names, addresses and numbers of at most ${MAX_IP_ARGUMENT} characters`,
    );
  }
}
