/**
 * The faults of one network: those in force, the history of every fault
 * applied and healed (schedules' included), the timers of faults given a
 * `for`, and healing them all (heal(), and cleanup before anything else).
 */
import type { NamespaceHandle } from "../network/ops/handle.js";
import { CutRules } from "./cut.js";
import type { FaultAction, Fault, FaultEvent, FaultKind } from "./types.js";

/** How a change went, in absolute performance.now() milliseconds; schedules turn it into their own events. */
export interface ChangeRecord {
  action: FaultAction;
  hosts: string[];
  plannedAt: number;
  appliedAt: number;
  heals?: FaultKind;
  error?: unknown;
}

/** Who else wants to hear of a fault's changes (a schedule, for its own history). */
export type ChangeObserver = (change: ChangeRecord) => void;

/** What applying a fault needs besides the change itself. */
export interface ApplyOptions {
  /** Heal after this many ms (from when it is in force). */
  for?: number | undefined;
  /** When it was due (performance.now() ms). @default when apply() was called */
  plannedAt?: number;
  observe?: ChangeObserver;
  /** What the fault acts on (a link, a program), so that a later step (up, resume) finds it. */
  key?: string;
}

/** Waits until an absolute performance.now() deadline (timers may fire a little early: wait again then). */
export function atDeadline(deadline: number, fire: () => void): { cancel(): void } {
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    const remaining = deadline - performance.now();
    if (remaining < 0.5) {
      timer = undefined;
      fire();
      return;
    }
    timer = setTimeout(arm, remaining);
  };
  arm();
  return {
    cancel: () => {
      if (timer) clearTimeout(timer);
    },
  };
}

export class ActiveFault implements Fault {
  healed = false;
  /** Resolves once healed, whether healing worked or not. */
  readonly ended: Promise<void>;
  #ended!: () => void;
  #healing: Promise<void> | undefined;
  #timer: { cancel(): void } | undefined;

  constructor(
    readonly kind: FaultKind,
    readonly hosts: readonly string[],
    private readonly undo: () => Promise<void>,
    private readonly owner: NetworkFaults,
    private readonly observe: ChangeObserver | undefined,
    readonly key: string | undefined,
  ) {
    this.ended = new Promise((resolve) => (this.#ended = resolve));
  }

  /** Heals at `deadline` (performance.now() ms); a failure is recorded, never thrown from the timer. */
  healAt(deadline: number): void {
    this.#timer = atDeadline(deadline, () => {
      this.#healing ??= this.#heal(deadline);
      this.#healing.catch(() => undefined);
    });
  }

  heal(): Promise<void> {
    this.#healing ??= this.#heal(performance.now());
    return this.#healing;
  }

  async #heal(plannedAt: number): Promise<void> {
    this.#timer?.cancel();
    let error: unknown;
    try {
      await this.undo();
    } catch (caught) {
      error = caught;
    }
    this.healed = true;
    this.owner.forget(this);
    this.#ended();
    const change: ChangeRecord = {
      action: "heal",
      hosts: [...this.hosts],
      plannedAt,
      appliedAt: performance.now(),
      heals: this.kind,
      ...(error === undefined ? {} : { error }),
    };
    this.owner.record(change);
    this.observe?.(change);
    if (error !== undefined) throw error as Error;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.heal();
  }
}

/** A running schedule, as the network stops it. */
export interface Stoppable {
  stop(): Promise<void>;
}

export class NetworkFaults {
  /** The cut rules of every namespace this network's faults touched. */
  readonly cuts: CutRules;
  /** The zero of `faultHistory`'s times: the first fault of this network. */
  readonly origin = performance.now();
  readonly #inForce = new Set<ActiveFault>();
  readonly #history: FaultEvent[] = [];
  readonly #schedules = new Set<Stoppable>();

  /** @param at the owning network's handle (addresses and commands of every host go through its state) */
  constructor(at: NamespaceHandle) {
    this.cuts = new CutRules(at);
  }

  get faults(): readonly Fault[] {
    return [...this.#inForce];
  }

  get history(): readonly FaultEvent[] {
    return this.#history;
  }

  /**
   * Runs `apply` (which puts the change in force and resolves with its undo), records it, and keeps the fault
   * until it is healed. A failed apply is recorded with its error, then rethrown.
   */
  async apply(
    kind: FaultKind,
    action: FaultAction,
    hosts: readonly string[],
    apply: () => Promise<() => Promise<void>>,
    options: ApplyOptions = {},
  ): Promise<ActiveFault> {
    const plannedAt = options.plannedAt ?? performance.now();
    let undo: () => Promise<void>;
    try {
      undo = await apply();
    } catch (error) {
      const change = { action, hosts: [...hosts], plannedAt, appliedAt: performance.now(), error };
      this.record(change);
      options.observe?.(change);
      throw error;
    }
    const appliedAt = performance.now();
    const fault = new ActiveFault(kind, hosts, undo, this, options.observe, options.key);
    this.#inForce.add(fault);
    const change = { action, hosts: [...hosts], plannedAt, appliedAt };
    this.record(change);
    options.observe?.(change);
    if (options.for !== undefined) fault.healAt(appliedAt + options.for);
    return fault;
  }

  /** Records a change that is no fault in force (a resume, a restart, a failed step). */
  record(change: ChangeRecord): void {
    this.#history.push(toEvent(change, this.origin));
  }

  /** @internal a healed fault leaves the set in force */
  forget(fault: ActiveFault): void {
    this.#inForce.delete(fault);
  }

  /** Keeps a running schedule, so that heal() and cleanup stop it first. Returns the function that lets it go. */
  adopt(schedule: Stoppable): () => void {
    this.#schedules.add(schedule);
    return () => this.#schedules.delete(schedule);
  }

  /** The fault in force acting on `key` (see ApplyOptions.key). */
  find(key: string): ActiveFault | undefined {
    return [...this.#inForce].find((fault) => fault.key === key);
  }

  /** Stops the schedules, then heals every fault in force; rejects with an AggregateError of what failed. */
  async healAll(): Promise<void> {
    const stopped = await Promise.allSettled([...this.#schedules].map((schedule) => schedule.stop()));
    const errors = stopped.flatMap((result) => (result.status === "rejected" ? [result.reason as unknown] : []));
    await this.healFaults().catch((error: unknown) => errors.push(...((error as AggregateError).errors as unknown[])));
    if (errors.length > 0) throw healError(errors);
  }

  /** Heals every fault in force (schedules go on); rejects with an AggregateError of what failed. */
  async healFaults(): Promise<void> {
    const results = await Promise.allSettled([...this.#inForce].map((fault) => fault.heal()));
    const errors = results.flatMap((result) => (result.status === "rejected" ? [result.reason as unknown] : []));
    if (errors.length > 0) throw healError(errors);
  }
}

function healError(errors: unknown[]): AggregateError {
  return new AggregateError(
    errors,
    `healing the faults in force failed ${errors.length} time(s): ${errors.map((e) => (e as Error).message).join("; ")}`,
  );
}

/** A change as an event, its times in ms since `origin` (3 decimals). */
export function toEvent(change: ChangeRecord, origin: number): FaultEvent {
  const plannedMs = round(change.plannedAt - origin);
  const appliedMs = round(change.appliedAt - origin);
  return {
    action: change.action,
    hosts: change.hosts,
    plannedMs,
    appliedMs,
    lateMs: round(appliedMs - plannedMs),
    time: new Date(Date.now() - (performance.now() - change.appliedAt)).toISOString(),
    ...(change.heals ? { heals: change.heals } : {}),
    ...(change.error === undefined ? {} : { error: messageOf(change.error) }),
  };
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
