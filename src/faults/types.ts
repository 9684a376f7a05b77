/**
 * The public shapes of faults: a Fault in force, the events a network and a
 * schedule record, and the options every fault takes.
 */

/** The actions a schedule step (or a step of a topology file's `faults:`) may take, one per step. */
export const STEP_ACTION_NAMES = [
  "partition",
  "block",
  "isolate",
  "heal",
  "impair",
  "down",
  "up",
  "pause",
  "resume",
  "kill",
  "restart",
] as const;

/** What a fault does: a cut between hosts, or a step of a schedule that can be taken back. */
export type FaultKind = "partition" | "block" | "isolate" | "impair" | "down" | "pause" | "kill";

/** What an event records: a fault applied, a fault healed, or a step of a schedule. */
export type FaultAction =
  "partition" | "block" | "isolate" | "heal" | "impair" | "down" | "up" | "pause" | "resume" | "kill" | "restart";

/**
 * Options of `partition()`, `block()` and `isolate()`.
 * @inline
 */
export interface FaultOptions {
  /** Heal by itself after this many milliseconds (a finite number > 0). @default in force until heal() */
  for?: number;
}

/**
 * A fault in force. It is in force when the promise that made it resolves, and gone when `heal()` resolves.
 *
 * @example
 * ```ts
 * await using cut = await net.partition([["a"], ["b", "c"]]);
 * // ... a's packets to b and c, and theirs to a, are dropped silently
 * await cut.heal(); // or at the end of the block
 * ```
 */
export interface Fault extends AsyncDisposable {
  /** What it does. */
  readonly kind: FaultKind;
  /** The hosts it concerns (a partition's groups flattened; for `block`, [from, to]). */
  readonly hosts: readonly string[];
  /** Whether it has been healed (by `heal()`, its `for`, the network's `heal()` or cleanup). */
  readonly healed: boolean;
  /** Takes the fault back; idempotent (a second call waits for the first). */
  heal(): Promise<void>;
}

/**
 * One change a network or a schedule made, with its timing. Times are milliseconds since the schedule started
 * (for a network's `faultHistory`: since its first fault); `lateMs = appliedMs - plannedMs`, measured when the
 * change is in force.
 */
export interface FaultEvent {
  /** What was done; `heal` also for the end of a step's `for` (then `heals` says of what). */
  action: FaultAction;
  /** The hosts concerned. */
  hosts: string[];
  /** When it was due. */
  plannedMs: number;
  /** When it was in force (or failed). */
  appliedMs: number;
  /** `appliedMs - plannedMs`. */
  lateMs: number;
  /** The wall-clock time it was in force (or failed), ISO 8601. */
  time: string;
  /** For a `heal` event: the kind of fault it took back. */
  heals?: FaultKind;
  /** Why the step failed (the error's message); absent when it worked. */
  error?: string;
}
