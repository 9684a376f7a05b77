/**
 * The fault operations of a network, as DummyNet delegates them: arguments
 * resolved and checked before anything changes, then each cut applied as one
 * change of the network (so cleanup waits for it and refuses new ones).
 */
import { DummyNetError, InvalidArgumentError } from "../errors.js";
import type { DummyNet } from "../network/dummy-net.js";
import type { NamespaceHandle } from "../network/ops/handle.js";
import { checkFor } from "./durations.js";
import type { Direction } from "./cut.js";
import { type FaultHost, resolveGroups, resolveHost } from "./hosts.js";
import { type ActiveFault, type ApplyOptions, NetworkFaults } from "./network-faults.js";
import { type CheckedStep, type ScheduleOptions, checkPlan, networkHosts, randomSeed } from "./plan.js";
import { type Schedule, ScheduleRun } from "./schedule.js";
import type { Fault, FaultEvent, FaultOptions } from "./types.js";

/** The steps that put cut rules in force. */
const CUTS = new Set(["partition", "block", "isolate"]);

export class FaultOps {
  /**
   * @param at the handle of the DummyNet these operations hang off
   * @param hostNet the DummyNet of a namespace of the network (scoped name), for the steps that impair a link
   */
  constructor(
    private readonly at: NamespaceHandle,
    private readonly hostNet: (scoped: string) => DummyNet,
  ) {}

  /** The network's faults, made on first use (most networks never make one). */
  get engine(): NetworkFaults {
    return (this.at.network.faults ??= new NetworkFaults(this.at));
  }

  get faults(): readonly Fault[] {
    return this.at.network.faults?.faults ?? [];
  }

  get history(): readonly FaultEvent[] {
    return this.at.network.faults?.history ?? [];
  }

  host(value: unknown, argument = "host"): FaultHost {
    return resolveHost(this.at, value, argument);
  }

  partition(groups: unknown, options: FaultOptions = {}, extra: Omit<ApplyOptions, "for"> = {}): Promise<ActiveFault> {
    const resolved = resolveGroups(this.at, groups);
    const duration = checkFor("options.for", options.for);
    const directions: Direction[] = [];
    resolved.forEach((group, i) => {
      for (const other of resolved.filter((_, j) => j !== i).flat()) {
        for (const host of group) directions.push([other, host]);
      }
    });
    return this.#cut("partition", resolved.flat(), directions, { ...extra, for: duration });
  }

  block(
    from: unknown,
    to: unknown,
    options: FaultOptions = {},
    extra: Omit<ApplyOptions, "for"> = {},
  ): Promise<ActiveFault> {
    const sender = this.host(from, "from");
    const receiver = this.host(to, "to");
    if (sender.scoped === receiver.scoped) {
      throw new InvalidArgumentError(
        "to",
        to,
        `is the same host as from (${sender.name}): block cuts between two hosts`,
      );
    }
    const duration = checkFor("options.for", options.for);
    return this.#cut("block", [sender, receiver], [[sender, receiver]], { ...extra, for: duration });
  }

  isolate(value: unknown, options: FaultOptions = {}, extra: Omit<ApplyOptions, "for"> = {}): Promise<ActiveFault> {
    const host = this.host(value);
    const duration = checkFor("options.for", options.for);
    return this.at.network.change(async () => {
      const others = networkHosts(this.at)
        .filter((name) => name !== host.name)
        .map((name) => this.host(name, "other host"));
      const directions = others.flatMap((other): Direction[] => [
        [other, host],
        [host, other],
      ]);
      return this.engine.apply("isolate", "isolate", [host.name], () => this.engine.cuts.cut(directions), {
        ...extra,
        for: duration,
      });
    });
  }

  schedule(plan: unknown, options: ScheduleOptions = {}): Schedule {
    if (this.at.network.undo.closing) {
      throw new DummyNetError("This network is being cleaned up: no schedule can start until cleanup() has finished");
    }
    const seed = options.seed === undefined ? randomSeed() : options.seed;
    if (!Number.isInteger(seed) || seed < 0 || seed >= 2 ** 32) {
      throw new InvalidArgumentError("options.seed", seed, "must be a whole number from 0 to 2**32 - 1");
    }
    const { steps, checked } = checkPlan(this.at, plan, seed);
    const cuts = checked.filter((step) => CUTS.has(step.action));
    const ready = cuts.length > 0 ? this.#prepareCuts(cuts) : undefined;
    return new ScheduleRun({ ops: this, network: this.at.network, hostNet: this.hostNet }, steps, checked, seed, ready);
  }

  /**
   * What a schedule's cuts need before its clock starts: the addresses of the hosts they reach (read from the kernel
   * for hosts the network did not address), and the local rule of each moved for the schedule's length
   * (CutRules.hold). Resolves with the function that lets go of that; a failure here is left to the steps to report.
   */
  async #prepareCuts(steps: readonly CheckedStep[]): Promise<(() => Promise<void>) | undefined> {
    try {
      const named = steps.flatMap((step) => (step.groups ?? []).flat());
      const hosts = steps.some((step) => step.action === "isolate")
        ? networkHosts(this.at).map((name) => this.host(name))
        : [...new Map(named.map((host) => [host.scoped, host])).values()];
      return await this.engine.cuts.hold(hosts);
    } catch {
      return undefined;
    }
  }

  heal(): Promise<void> {
    return this.at.network.faults?.healAll() ?? Promise.resolve();
  }

  #cut(
    kind: "partition" | "block",
    hosts: FaultHost[],
    directions: Direction[],
    options: ApplyOptions,
  ): Promise<ActiveFault> {
    return this.at.network.change(() =>
      this.engine.apply(
        kind,
        kind,
        hosts.map((host) => host.name),
        () => this.engine.cuts.cut(directions),
        options,
      ),
    );
  }
}
