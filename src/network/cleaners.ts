/**
 * When an undo fails because its object is already gone (a route removed by
 * `down`, a veth gone with its peer, a namespace deleted by hand), cleanup
 * warns instead of failing (see undo-log.ts).
 */
import { MissingProgramError, SystemCommandError } from "../errors.js";

/** stderr texts of ip, tc and iptables that mean "the thing to undo is not there". */
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

/** True when `error` says that the object a cleaner wanted to undo is already gone. */
export function isAlreadyGone(error: unknown): boolean {
  // A program that is not installed says "No such file or directory" too, of itself, not of the object.
  if (error instanceof MissingProgramError) return false;
  if (error instanceof SystemCommandError) return GONE_PATTERNS.some((pattern) => pattern.test(error.stderr));
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === "ENOENT" || code === "ESRCH";
}
