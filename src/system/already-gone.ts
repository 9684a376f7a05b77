/**
 * "Already gone": the one reading of a failure that means the object an undo,
 * a restore or a reaper wanted to remove is not there any more (a route
 * removed by `down`, a veth gone with its peer, a namespace deleted by hand, a
 * process that exited). Such a failure is a warning, never an error.
 */
import { MissingProgramError, SystemCommandError } from "../errors.js";

/** stderr texts of ip, tc, iptables and kill that mean "the thing to remove is not there". */
const GONE_PATTERNS = [
  /Cannot find device/i,
  /does not exist/i,
  /No such device/i,
  /No such file or directory/i,
  /No such process/i,
  /Cannot assign requested address/i,
  /Cannot open network namespace/i,
  /Bad rule \(does a matching rule exist/i,
  /Invalid handle/i,
  /Cannot delete qdisc with handle of zero/i,
];

/** True when `error` says that the object to remove is already gone (a command's words, or ENOENT/ESRCH). */
export function isAlreadyGone(error: unknown): boolean {
  // A program that is not installed says "No such file or directory" too, of itself, not of the object.
  if (error instanceof MissingProgramError) return false;
  if (error instanceof SystemCommandError) return GONE_PATTERNS.some((pattern) => pattern.test(error.stderr));
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === "ENOENT" || code === "ESRCH";
}

/** True when `error`, or the error it wraps (`cause`), is a system error with `code` (e.g. ESRCH). */
export function isErrno(error: unknown, code: string): boolean {
  const direct = (error as NodeJS.ErrnoException | undefined)?.code;
  const cause = (error as { cause?: NodeJS.ErrnoException } | undefined)?.cause?.code;
  return direct === code || cause === code;
}
