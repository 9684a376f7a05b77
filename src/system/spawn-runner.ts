/**
 * A CommandRunner that starts one process per command: simple and always
 * available. Commands get their rights from a Privilege (`sudo -n` when not
 * root, never a password).
 */
import { spawn } from "node:child_process";
import { MissingProgramError, SystemCommandError } from "../errors.js";
import type { Logger } from "../log.js";
import { defaultLogger } from "../log.js";
import {
  type CommandResult,
  type CommandRunner,
  type SystemCommandOptions,
  checkSystemArgv,
  inNamespace,
  reportsError,
} from "./command-runner.js";
import { PACKAGE_OF_PROGRAM, failureHint, missingProgramHint } from "./hints.js";
import { type Privilege, privilegeFor } from "./privilege.js";

/** Options of `new SpawnRunner()`. */
export interface SpawnRunnerOptions {
  /** Prefix commands with `sudo -n`; ignored when `privilege` is given. @default false */
  sudo?: boolean;
  /** How commands get their rights. @default from `sudo`: through `sudo -n` when true, as they are when false */
  privilege?: Privilege;
  /** Where each command is logged (debug). @default defaultLogger */
  log?: Logger;
}

/**
 * Runs each system command as its own process (`spawn`, no shell), with its Privilege (e.g. through `sudo -n`).
 *
 * @example
 * ```ts
 * const shell = new HostShell({ runner: new SpawnRunner({ sudo: true }) }); // one process per command
 * ```
 */
export class SpawnRunner implements CommandRunner {
  /** How commands get their rights. */
  readonly privilege: Privilege;
  /** Where each command is logged (debug). */
  readonly log: Logger;

  constructor(options: SpawnRunnerOptions = {}) {
    this.privilege = options.privilege ?? privilegeFor(options.sudo ?? false);
    this.log = options.log ?? defaultLogger;
  }

  /** Commands run through `sudo -n`. */
  get sudo(): boolean {
    return this.privilege.mode === "sudo";
  }

  run(argv: readonly string[], options: SystemCommandOptions = {}): Promise<CommandResult> {
    try {
      checkSystemArgv(argv);
    } catch (error) {
      return Promise.reject(error);
    }
    const full = this.privilege.wrap(inNamespace(argv, options.namespace));
    this.log.debug(full.join(" "));
    return new Promise((resolve, reject) => {
      const child = spawn(full[0], full.slice(1), {
        stdio: [options.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
      });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      // Both are pipes (the stdio above); only stdin depends on the input.
      child.stdout?.on("data", (chunk: Buffer) => out.push(chunk));
      child.stderr?.on("data", (chunk: Buffer) => err.push(chunk));
      if (options.input !== undefined) {
        // A command that exits without reading its input must not crash us with EPIPE: its exit status tells.
        child.stdin?.on("error", () => undefined);
        child.stdin?.end(options.input);
      }
      child.on("error", (error: NodeJS.ErrnoException) => {
        const program = full[0];
        reject(
          error.code === "ENOENT"
            ? missingProgram(full, program, `${program} is not installed (${error.message})`, { cause: error })
            : new SystemCommandError(full, null, "", error.code === "EACCES" ? notPermitted(program) : undefined, {
                cause: error,
              }),
        );
      });
      child.on("close", (code) => {
        const result: CommandResult = {
          argv: full,
          stdout: Buffer.concat(out).toString("utf8"),
          stderr: Buffer.concat(err).toString("utf8"),
          exitCode: code,
        };
        // Behind sudo or nsenter a missing program is their exit status, not a spawn error: tell it apart all the same.
        const missing = code === 0 ? undefined : programNotFoundBy(result.stderr);
        if (missing !== undefined && full.includes(missing)) {
          reject(missingProgram(full, missing, result.stderr.trim(), { stderr: result.stderr }));
          return;
        }
        const failed = code !== 0 || (argv[0] === "ip" && reportsError(result.stderr));
        if (!failed || options.allowFailure) resolve(result);
        else reject(new SystemCommandError(full, code, result.stderr, failureHint(argv, result.stderr)));
      });
    });
  }
}

function missingProgram(
  argv: readonly string[],
  program: string,
  reason: string,
  options: { cause?: Error; stderr?: string },
): MissingProgramError {
  return new MissingProgramError(
    argv,
    program,
    PACKAGE_OF_PROGRAM[program],
    reason,
    missingProgramHint(program),
    options,
  );
}

/**
 * The program that sudo or nsenter could not find, from their words:
 * "sudo: iptables: command not found", "nsenter: failed to execute iptables: No such file or directory".
 */
export function programNotFoundBy(stderr: string): string | undefined {
  const match =
    /^(?:sudo: (\S+): command not found|nsenter: failed to execute (\S+): No such file or directory)$/m.exec(
      stderr.trim(),
    );
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- the group that did not match is undefined
  return match ? (match[1] ?? match[2]) : undefined;
}

/** What EACCES from spawn means: the program, or a directory of PATH searched before it, may not be used by this user. */
function notPermitted(program: string): string {
  const where = program.includes("/")
    ? program
    : `${program}, or a directory of PATH searched before it (PATH=${process.env["PATH"] ?? ""})`;
  return `permission denied: this user (uid ${process.getuid?.() ?? "?"}) may not execute ${where}; fix the permission or the PATH`;
}
