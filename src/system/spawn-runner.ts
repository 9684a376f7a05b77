/**
 * A CommandRunner that starts one process per command: simple and always
 * available. Uses `sudo -n` (never a password) when not root.
 */
import { spawn } from "node:child_process";
import { InvalidArgumentError, MissingProgramError, SystemCommandError } from "../errors.js";
import type { Logger } from "../log.js";
import { defaultLogger } from "../log.js";
import { type CommandResult, type CommandRunner, type SystemCommandOptions, inNamespace, MAX_IP_ARGUMENT, overlongIpArgument, reportsError } from "./command-runner.js";
import { PACKAGE_OF_PROGRAM, failureHint, missingProgramHint } from "./hints.js";

export interface SpawnRunnerOptions {
  /** Prefix commands with `sudo -n`. */
  sudo?: boolean;
  log?: Logger;
}

/** Runs each system command as its own process (`spawn`, no shell), through `sudo -n` when asked. */
export class SpawnRunner implements CommandRunner {
  /** Commands run through `sudo -n`. */
  readonly sudo: boolean;
  /** Where each command is logged (debug). */
  readonly log: Logger;

  constructor(options: SpawnRunnerOptions = {}) {
    this.sudo = options.sudo ?? false;
    this.log = options.log ?? defaultLogger;
  }

  run(argv: readonly string[], options: SystemCommandOptions = {}): Promise<CommandResult> {
    // The kernel cannot pass a NUL byte in an argument; say so rather than let spawn throw a TypeError.
    const withNul = argv.find((word) => word.includes("\0"));
    if (withNul !== undefined) {
      return Promise.reject(new InvalidArgumentError("command argument", withNul, "must not contain a NUL byte (\\0): no program can receive one"));
    }
    const overlong = overlongIpArgument(argv);
    if (overlong !== undefined) {
      return Promise.reject(
        new InvalidArgumentError(`${argv[0]} argument`, overlong, `is ${overlong.length} characters long; ${argv[0]} arguments are names, addresses and numbers of at most ${MAX_IP_ARGUMENT} characters`),
      );
    }
    const full = inNamespace(argv, options.namespace);
    if (this.sudo) full.unshift("sudo", "-n", "--");
    this.log.debug(full.join(" "));
    return new Promise((resolve, reject) => {
      const child = spawn(full[0]!, full.slice(1), {
        stdio: [options.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
      });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout!.on("data", (chunk: Buffer) => out.push(chunk));
      child.stderr!.on("data", (chunk: Buffer) => err.push(chunk));
      if (options.input !== undefined) {
        // A command that exits without reading its input must not crash us with EPIPE: its exit status tells.
        child.stdin!.on("error", () => undefined);
        child.stdin!.end(options.input);
      }
      child.on("error", (error: NodeJS.ErrnoException) => {
        const program = full[0]!;
        reject(error.code === "ENOENT" ? missingProgram(full, program, `${program} is not installed (${error.message})`) : new SystemCommandError(full, null, error.message));
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
          reject(missingProgram(full, missing, result.stderr.trim()));
          return;
        }
        const failed = code !== 0 || (argv[0] === "ip" && reportsError(result.stderr));
        if (!failed || options.allowFailure) resolve(result);
        else reject(new SystemCommandError(full, code, result.stderr, failureHint(argv, result.stderr)));
      });
    });
  }
}

function missingProgram(argv: readonly string[], program: string, reason: string): MissingProgramError {
  return new MissingProgramError(argv, program, PACKAGE_OF_PROGRAM[program], reason, missingProgramHint(program));
}

/**
 * The program that sudo or nsenter could not find, from their words:
 * "sudo: iptables: command not found", "nsenter: failed to execute iptables: No such file or directory".
 */
export function programNotFoundBy(stderr: string): string | undefined {
  const match = /^(?:sudo: (\S+): command not found|nsenter: failed to execute (\S+): No such file or directory)$/m.exec(stderr.trim());
  return match ? (match[1] ?? match[2]) : undefined;
}
