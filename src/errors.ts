/**
 * Every error the library throws on purpose is a DummyNetError, so callers can
 * tell "dummynet refused or failed" from a bug with one `instanceof`. Each
 * takes the error it wraps as `{ cause }` (ES2022 ErrorOptions). The errors of
 * user processes live with the process layer (process/errors.ts).
 */

/**
 * The base of every error dummynet throws on purpose.
 *
 * @example
 * ```ts
 * try {
 *   await net.netnsAdd("bad name");
 * } catch (error) {
 *   if (error instanceof DummyNetError) console.error(error.message);
 *   else throw error;
 * }
 * ```
 */
export class DummyNetError extends Error {
  /** Brand so that checks work across duplicated copies of the package. */
  readonly isDummyNetError = true;
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * A bad argument, rejected before anything changes on the system. The message
 * names the argument, the value and the rule, and says what to do.
 *
 * @example
 * ```ts
 * try {
 *   await net.tc("eth0", { delay: -1 });
 * } catch (error) {
 *   if (!(error instanceof InvalidArgumentError)) throw error;
 *   console.error(error.argument, error.value, error.rule); // nothing was changed
 * }
 * ```
 */
export class InvalidArgumentError extends DummyNetError {
  constructor(
    /** The argument's name, e.g. `name` or `options.timeout`. */
    readonly argument: string,
    /** The value given. */
    readonly value: unknown,
    /** The rule it broke and what to do, as the message's tail. */
    readonly rule: string,
    options?: ErrorOptions,
  ) {
    super(`Invalid ${argument}: ${describeValue(value)} ${rule}`, options);
  }
}

/** A value as messages quote it: strings in JSON quotes, other values with their type, e.g. `-1 (number)`. */
export function describeValue(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number" || typeof value === "bigint" || typeof value === "boolean") {
    return `${String(value)} (${typeof value})`;
  }
  if (value === undefined || value === null) return String(value);
  try {
    return `${JSON.stringify(value)} (${typeof value})`;
  } catch {
    return `(${typeof value})`;
  }
}

/**
 * A system command (ip, tc, iptables, ...) that the library ran on the user's
 * behalf failed. `hint` says what to do when the failure has a known cause
 * (a missing kernel module, a missing program, missing privileges).
 *
 * @example
 * ```ts
 * try {
 *   await host.tc("eth0", { delay: 20 });
 * } catch (error) {
 *   if (error instanceof SystemCommandError) console.error(error.argv.join(" "), error.exitCode, error.hint);
 *   else throw error;
 * }
 * ```
 */
export class SystemCommandError extends DummyNetError {
  constructor(
    /** The command, as run (an argument array). */
    readonly argv: readonly string[],
    /** Its exit status; `null` when it did not start or was killed by a signal. */
    readonly exitCode: number | null,
    /** What it printed on stderr; empty when it could not start (then `cause` says why). */
    readonly stderr: string,
    /** What to do, when the failure has a known cause. */
    readonly hint?: string,
    /** `cause`: e.g. Node's spawn error when the command could not start. */
    options?: ErrorOptions,
  ) {
    const what = stderr.trim() || messageOf(options?.cause) || `exit status ${String(exitCode)}`;
    super(`\`${argv.join(" ")}\` failed: ${what}${hint ? `\n${hint}` : ""}`, options);
  }
}

/**
 * A system command could not start because its program is not installed
 * (spawn's ENOENT, or sudo's "command not found"). Distinct from a program
 * that ran and failed: a step that only lists or removes what that program
 * makes may skip honestly, a step that needs it may not.
 *
 * @example
 * ```ts
 * try {
 *   await router.nat("10.0.0.0/24", "wan0");
 * } catch (error) {
 *   if (error instanceof MissingProgramError) console.error(`install ${error.debianPackage ?? error.program}`);
 *   else throw error;
 * }
 * ```
 */
export class MissingProgramError extends SystemCommandError {
  constructor(
    argv: readonly string[],
    /** The program that is missing, e.g. `iptables`. */
    readonly program: string,
    /** The Debian/Ubuntu package that provides it, if known. */
    readonly debianPackage: string | undefined,
    /** Why it counts as missing, for the message (sudo's words, or that spawn did not find it). */
    reason: string,
    hint: string,
    /** `cause`: Node's spawn error; `stderr`: what sudo or nsenter printed, when they said it. */
    options?: ErrorOptions & { stderr?: string },
  ) {
    super(argv, null, options?.stderr ?? "", hint, options);
    this.message = `\`${argv.join(" ")}\` failed: ${reason}\n${hint}`;
  }
}

/** The message of an Error cause, or "" for anything else. */
function messageOf(cause: unknown): string {
  return cause instanceof Error ? cause.message : "";
}
