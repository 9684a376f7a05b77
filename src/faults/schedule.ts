/**
 * A schedule: the steps of a checked plan, each run at its absolute deadline
 * (performance.now() based, so lateness does not add up from step to step),
 * each recorded with its planned and applied time. A step that fails is
 * recorded with its error and the others still run: `done` resolves with the
 * history either way (a failed step is an event with `error`, not a rejection).
 */
import type { DummyNet } from "../network/dummy-net.js";
import type { NetworkState } from "../network/network-state.js";
import type { RunInfo } from "../process/run-info.js";
import type { FaultOps } from "./fault-ops.js";
import { impair, linkDown } from "./link-faults.js";
import { type ActiveFault, type ApplyOptions, type ChangeRecord, atDeadline, toEvent } from "./network-faults.js";
import type { CheckedStep, ScheduleStep } from "./plan.js";
import { killProgram, pauseProgram, restartProgram, resumeProgram } from "./program-faults.js";
import type { FaultEvent } from "./types.js";

/**
 * A running schedule.
 *
 * @example
 * ```ts
 * const schedule = net.schedule({ every: 1000, for: 10_000, faults: ["partition", "isolate"] }, { seed: 42 });
 * const history = await schedule.done; // every step, planned and applied time, error if it failed
 * ```
 */
export interface Schedule {
  /** Resolves after the last step and the healing of the faults its steps gave a `for`; never rejects. */
  readonly done: Promise<FaultEvent[]>;
  /** The events so far, in the order they happened; times in ms since the schedule started. */
  readonly history: readonly FaultEvent[];
  /** The seed the plan was drawn from (the one given, else a random one, to draw the same plan again). */
  readonly seed: number;
  /** The steps: as given, or as the generator drew them. */
  readonly plan: readonly ScheduleStep[];
  /** Runs no further step and heals what the schedule put in force; resolves when that is done. */
  stop(): Promise<void>;
}

/** What a schedule needs of its network. */
export interface ScheduleContext {
  readonly ops: FaultOps;
  readonly network: NetworkState;
  /** The DummyNet of a host's namespace (scoped name). */
  hostNet(scoped: string): DummyNet;
}

export class ScheduleRun implements Schedule {
  readonly done: Promise<FaultEvent[]>;
  readonly #history: FaultEvent[] = [];
  /** The zero of the plan's times: when the schedule had what its first step needs (see `ready`). */
  #start = performance.now();
  readonly #timers: { cancel(): void }[] = [];
  readonly #running = new Set<Promise<unknown>>();
  readonly #faults = new Set<ActiveFault>();
  #remaining: number;
  #stopped = false;
  #finish!: () => void;
  #release: () => void = () => undefined;

  constructor(
    private readonly context: ScheduleContext,
    readonly plan: readonly ScheduleStep[],
    checked: readonly CheckedStep[],
    readonly seed: number,
    ready: Promise<(() => Promise<void>) | undefined> = Promise.resolve(undefined),
  ) {
    this.#remaining = checked.length;
    const finished = new Promise<void>((resolve) => {
      this.#finish = resolve;
    });
    this.done = finished.then(async () => {
      await Promise.allSettled([...this.#running]);
      // What `ready` prepared (the moved local rules) is let go once every fault of the schedule is healed.
      await (await ready)?.().catch(() => undefined);
      this.#release();
      return [...this.#history];
    });
    this.#release = context.ops.engine.adopt(this);
    if (checked.length === 0) this.#finish();
    // The clock starts once what the steps need is prepared (FaultOps.schedule), as a nemesis is set up before its
    // schedule: a first step at 0 is then not late by it.
    void ready.then(() => {
      if (this.#stopped) return;
      this.#start = performance.now();
      for (const step of checked) {
        const plannedAt = this.#start + step.at;
        this.#timers.push(
          atDeadline(plannedAt, () => {
            this.#track(this.#run(step, plannedAt));
          }),
        );
      }
    });
  }

  get history(): readonly FaultEvent[] {
    return this.#history;
  }

  async stop(): Promise<void> {
    if (!this.#stopped) {
      this.#stopped = true;
      for (const timer of this.#timers) timer.cancel();
    }
    // Steps in flight may still put a fault in force: heal until none is running and none is left.
    for (;;) {
      const faults = [...this.#faults];
      const running = [...this.#running];
      if (faults.length === 0 && running.length === 0) break;
      await Promise.allSettled([...faults.map((fault) => fault.heal()), ...running]);
    }
    this.#finish();
    await this.done;
  }

  #track(running: Promise<unknown>): void {
    this.#running.add(running);
    void running.finally(() => {
      this.#running.delete(running);
      if (--this.#remaining === 0) this.#finish();
    });
  }

  readonly #observe = (change: ChangeRecord): void => {
    this.#history.push(toEvent(change, this.#start));
  };

  /** Runs one step; a failure is recorded (by the network, and here through #observe), never thrown. */
  async #run(step: CheckedStep, plannedAt: number): Promise<void> {
    const options: ApplyOptions = { for: step.for, plannedAt, observe: this.#observe };
    try {
      const fault = await this.#apply(step, options);
      if (!fault) return;
      // A fault with `for` is part of the schedule until healed; one without stays after the schedule ends.
      if (step.for !== undefined) {
        this.#faults.add(fault);
        this.#track(fault.ended.then(() => this.#faults.delete(fault)));
        this.#remaining++;
      }
    } catch {
      // Recorded with its error already.
    }
  }

  async #apply(step: CheckedStep, options: ApplyOptions): Promise<ActiveFault | undefined> {
    const { ops, network } = this.context;
    const engine = ops.engine;
    const names = (step.groups ?? []).map((group) => group.map((host) => host.scoped));
    const monitor = network.hostShell.processMonitor;
    const lasting = step.for === undefined ? {} : { for: step.for };
    const extra = { plannedAt: options.plannedAt, observe: this.#observe };
    switch (step.action) {
      case "partition":
        return ops.partition(names, lasting, extra);
      case "block":
        return ops.block(names[0]?.[0], names[1]?.[0], lasting, extra);
      case "isolate":
        return ops.isolate(names[0]?.[0], lasting, extra);
      case "impair":
      case "down": {
        const { host, iface } = need(step.link);
        const netem = step.netem;
        const change =
          step.action === "impair"
            ? () => impair(network, host, this.context.hostNet(host.scoped), iface, need(netem))
            : () => linkDown(host, iface);
        const key = linkKey(host.scoped, iface);
        return engine.apply(step.action, step.action, step.hosts, change, { ...options, key });
      }
      case "pause": {
        const program = need(step.program);
        const change = () => pauseProgram(monitor, program);
        return engine.apply("pause", "pause", step.hosts, change, { ...options, key: programKey(program) });
      }
      case "kill": {
        const program = need(step.program);
        const change = () => killProgram(monitor, program, step.signal, forget);
        if (step.for !== undefined) return engine.apply("kill", "kill", step.hosts, change, options);
        await this.#record(step, options, change);
        return undefined;
      }
      case "heal":
        await this.#record(step, options, () => engine.healFaults());
        return undefined;
      case "up": {
        const { host, iface } = need(step.link);
        const up = () => host.shell.system(["ip", "link", "set", "dev", iface, "up"]);
        await this.#record(step, options, () => healOr(engine.find(linkKey(host.scoped, iface)), up));
        return undefined;
      }
      case "resume": {
        const program = need(step.program);
        const resume = () => resumeProgram(monitor, program);
        await this.#record(step, options, () => healOr(engine.find(programKey(program)), resume));
        return undefined;
      }
      case "restart": {
        const program = need(step.program);
        await this.#record(step, options, () => restartProgram(monitor, program));
        return undefined;
      }
    }
  }

  /** Runs a step that leaves no fault in force, and records it. */
  async #record(step: CheckedStep, options: ApplyOptions, work: () => Promise<unknown>): Promise<void> {
    const engine = this.context.ops.engine;
    const plannedAt = options.plannedAt ?? performance.now();
    let error: unknown;
    try {
      await work();
    } catch (caught) {
      error = caught;
    }
    const change: ChangeRecord = {
      action: step.action,
      hosts: step.hosts,
      plannedAt,
      appliedAt: performance.now(),
      ...(error === undefined ? {} : { error }),
    };
    engine.record(change);
    this.#observe(change);
  }
}

/** A killed program restarted by `for` gets a new RunInfo, which the monitor watches; the schedule does not keep it. */
function forget(): void {
  // Nothing to keep.
}

/** A field checkPlan always sets for the step's action. */
function need<T>(value: T | undefined): T {
  if (value === undefined) throw new Error("a checked step lacks what its action acts on");
  return value;
}

/** Heals the fault (the `up` of a `down`, the `resume` of a `pause`), or, when none is in force, does `otherwise`. */
async function healOr(fault: ActiveFault | undefined, otherwise: () => Promise<unknown>): Promise<void> {
  if (fault) await fault.heal();
  else await otherwise();
}

function linkKey(scoped: string, iface: string): string {
  return `link ${scoped} ${iface}`;
}

function programKey(info: RunInfo): string {
  return `program ${String(info.pid)}`;
}
