/**
 * The undo log of a network: every change registers a cleaner that undoes it.
 * `cleanup` runs them newest first. A cleaner whose object is already gone
 * (a route removed by `down`, a veth gone with its peer, a namespace deleted
 * by hand) is a warning, not an error.
 */
import { MissingProgramError, SystemCommandError } from "../errors.js";
import type { NamespaceScoped, Scoped } from "../names/scoped.js";

/** One entry of a network's undo log (`DummyNet.cleaners`): what a change made, and how to undo it. */
export interface CleanupItem {
  /** The namespace the undone object lives in. */
  readonly namespace: NamespaceScoped;
  /** The objects the cleaner concerns (both ends of a veth pair). */
  readonly targets: readonly Scoped[];
  /** The method that registered it, e.g. "linkVethAdd". */
  readonly reason: string;
  /**
   * True when the undo is moot because its object goes with a namespace of
   * ours that cleanup deletes later anyway (`doomed`: their scoped names).
   * Skipping those undos is what makes teardown cost one step per namespace.
   */
  readonly obsoleteWhen: (doomed: ReadonlySet<string>) => boolean;
  /** Undoes the change. */
  readonly clean: () => Promise<void>;
  /**
   * The links the undo concerns, each with the namespace it lives in now
   * (linkSet moves them): linkDelete forgets exactly the undos of the links
   * it deleted, not those of same-named links elsewhere.
   */
  readonly links: readonly LinkPlace[];
  /** Called instead of `clean` when the undo is skipped or forgotten (its object went another way). */
  readonly discard?: (() => void) | undefined;
  /** Synchronous undo for the process.exit() path; absent where the object dies with a namespace. */
  readonly cleanSync?: (() => void) | undefined;
}

/** Where a link lives now: its scoped name and the scoped name of its namespace ("1": the host's). */
export interface LinkPlace {
  readonly name: string;
  namespace: string;
}

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
