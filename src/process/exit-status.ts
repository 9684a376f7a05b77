/**
 * Exit status and signals, as shells report them: a process ended by signal
 * N has status 128 + N (130 for SIGINT, 139 for SIGSEGV, 143 for SIGTERM).
 * The numbers come from the platform (`os.constants.signals`), so every
 * signal has its status, not only the few someone listed.
 */
import { constants as osConstants } from "node:os";

/** Exit status of a process ended by `signal`: 128 + the signal's number on this platform. */
export function signalExitStatus(signal: NodeJS.Signals): number {
  const number = (osConstants.signals as Partial<Record<string, number>>)[signal];
  // Node reports only signals of this platform; a name it does not know is a caller's mistake.
  if (number === undefined)
    throw new TypeError(`${signal} is not a signal of this platform (see os.constants.signals)`);
  return 128 + number;
}

/** The signal an exit status of 129 to 192 stands for, as a shell reports it; undefined for any other status. */
export function signalOfExitStatus(status: number): NodeJS.Signals | undefined {
  if (!(status > 128 && status < 128 + 65)) return undefined;
  for (const [name, value] of Object.entries(osConstants.signals)) {
    if (value === status - 128) return name as NodeJS.Signals;
  }
  return undefined;
}
