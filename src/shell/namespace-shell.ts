/**
 * The shell of one network namespace: user commands run under
 * `ip netns exec <name>` through the parent shell (so its privilege and
 * process monitor apply), the library's own commands through the parent's system
 * layer with `namespace` set (which may use `ip -n` or nsenter).
 */
import { InvalidArgumentError } from "../errors.js";
import type { Logger } from "../log.js";
import type { ProcessMonitor } from "../process/process-monitor.js";
import { argvAs, isUserApplied, markUserApplied, resolveRunAs } from "../process/run-as.js";
import { type RunInfo, formatCommand } from "../process/run-info.js";
import { isPlainName } from "../names/scoped.js";
import type { CommandResult, SystemCommandOptions } from "../system/command-runner.js";
import type { Privilege } from "../system/privilege.js";
import { pollUntil } from "./host-shell.js";
import type { PollUntilOptions, RunAsyncOptions, RunOptions, Shell } from "./shell.js";

/**
 * The shell of one network namespace: commands run through `ip netns exec` via the parent shell.
 * A namespaced DummyNet's `shell` is one.
 *
 * @example
 * ```ts
 * const shell = new NamespaceShell("d-2-server", new HostShell());
 * const info = await shell.run(["ip", "-brief", "addr"]);
 * ```
 */
export class NamespaceShell implements Shell {
  /**
   * @param name the namespace's name on the system (the scoped name, e.g. `d-2-demo0`)
   * @param parent the shell commands go through (normally the HostShell)
   * @throws InvalidArgumentError when `name` is empty or has characters outside A-Z a-z 0-9 _ . -
   */
  constructor(
    readonly name: string,
    readonly parent: Shell,
  ) {
    if (typeof name !== "string" || !isPlainName(name)) {
      throw new InvalidArgumentError(
        "namespace name",
        name,
        "must be a non-empty name of the characters A-Z a-z 0-9 _ . - (a scoped name such as d-2-demo0)",
      );
    }
  }

  get namespace(): string {
    return this.name;
  }

  /** The parent shell's logger. */
  get log(): Logger {
    return this.parent.log;
  }

  /** The parent shell's process monitor. */
  get processMonitor(): ProcessMonitor {
    return this.parent.processMonitor;
  }

  get sudo(): boolean {
    return this.parent.sudo;
  }

  /** The parent shell's privilege. */
  get privilege(): Privilege {
    return this.parent.privilege;
  }

  async run(cmd: string | readonly string[], options: RunOptions = {}): Promise<RunInfo> {
    const { argv, rest } = this.#asUser(cmd, options);
    return this.parent.run(argv, rest);
  }

  async runAsync(cmd: string | readonly string[], options: RunAsyncOptions = {}): Promise<RunInfo> {
    const { argv, rest } = this.#asUser(cmd, options);
    return this.parent.runAsync(argv, rest);
  }

  pollUntil(cmd: string | readonly string[], options: PollUntilOptions): Promise<RunInfo> {
    return pollUntil((runOptions) => this.run(cmd, runOptions), formatCommand(this.inNamespace(cmd)), options);
  }

  /**
   * The argv entering this namespace as root, then switching to the user the
   * program runs as (run-as.ts), and the options for the parent, marked so
   * that it does not switch again.
   */
  #asUser<T extends RunOptions | RunAsyncOptions>(
    cmd: string | readonly string[],
    options: T,
  ): { argv: string[]; rest: T } {
    const { user, ...rest } = options;
    if (isUserApplied(options)) return { argv: this.inNamespace(cmd), rest: markUserApplied(rest as T) };
    const identity = resolveRunAs(this.privilege, user);
    const inner = identity ? argvAs(identity, cmd, (options.env ?? process.env)["PATH"]) : cmd;
    return { argv: this.inNamespace(inner), rest: markUserApplied(rest as T) };
  }

  system(argv: readonly string[], options: Omit<SystemCommandOptions, "namespace"> = {}): Promise<CommandResult> {
    // Shell.system() hides `namespace` from callers; the parent (a HostShell) reads it to reach this namespace.
    const inThisNamespace: SystemCommandOptions = { ...options, namespace: this.name };
    return this.parent.system(argv, inThisNamespace);
  }

  helperPids(namespace?: string): number[] {
    return this.parent.helperPids?.(namespace) ?? [];
  }

  /**
   * The argv running `cmd` in this namespace; a shell line becomes one argument of /bin/sh -c, never pasted.
   *
   * @example
   * ```ts
   * new NamespaceShell("d-2-a", new HostShell()).inNamespace("echo $HOME");
   * // ["ip", "netns", "exec", "d-2-a", "/bin/sh", "-c", "echo $HOME"]
   * ```
   */
  inNamespace(cmd: string | readonly string[]): string[] {
    const prefix = ["ip", "netns", "exec", this.name];
    return typeof cmd === "string" ? [...prefix, "/bin/sh", "-c", cmd] : [...prefix, ...cmd];
  }
}
