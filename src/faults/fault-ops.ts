/**
 * The fault operations of a network, as DummyNet delegates them: arguments
 * resolved and checked before anything changes, then each cut applied as one
 * change of the network (so cleanup waits for it and refuses new ones).
 */
import { InvalidArgumentError } from "../errors.js";
import type { NamespaceHandle } from "../network/ops/handle.js";
import { parseScoped } from "../names/scoped.js";
import { parseIpJsonArray } from "../system/ip-json.js";
import { checkFor } from "./durations.js";
import type { Direction } from "./cut.js";
import { type FaultHost, resolveGroups, resolveHost } from "./hosts.js";
import { type ApplyOptions, NetworkFaults } from "./network-faults.js";
import type { Fault, FaultEvent, FaultOptions } from "./types.js";

export class FaultOps {
  constructor(private readonly at: NamespaceHandle) {}

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

  partition(groups: unknown, options: FaultOptions = {}, extra: Omit<ApplyOptions, "for"> = {}): Promise<Fault> {
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

  block(from: unknown, to: unknown, options: FaultOptions = {}, extra: Omit<ApplyOptions, "for"> = {}): Promise<Fault> {
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

  isolate(value: unknown, options: FaultOptions = {}, extra: Omit<ApplyOptions, "for"> = {}): Promise<Fault> {
    const host = this.host(value);
    const duration = checkFor("options.for", options.for);
    return this.at.network.change(async () => {
      const namespaces = await this.at.ip(["-j", "netns", "list"]);
      const others = parseIpJsonArray<{ name: string }>(namespaces)
        .map((entry) => entry.name)
        .filter((scoped) => parseScoped(scoped)?.uid === this.at.uid && scoped !== host.scoped)
        .map((scoped) => this.host(scoped, "other host"));
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

  heal(): Promise<void> {
    return this.at.network.faults?.healAll() ?? Promise.resolve();
  }

  #cut(
    kind: "partition" | "block",
    hosts: FaultHost[],
    directions: Direction[],
    options: ApplyOptions,
  ): Promise<Fault> {
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
