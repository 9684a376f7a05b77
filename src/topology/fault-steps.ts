/**
 * The file's `faults:`: normalized (times in milliseconds), checked against
 * the rest of the file (hosts, interfaces and programs that exist, one action
 * per step, groups that do not overlap), and described for `validate` and
 * `graph`. Turning the names into hosts and started programs for
 * `schedule()` is `Lab.start()`'s (lab-faults.ts).
 */
import { formatPath } from "./errors.js";
import { checkImpairment } from "./impairment-check.js";
import { describeImpairment, interfaceRows } from "./describe.js";
import {
  FAULT_ACTIONS,
  type FaultAction,
  type FaultGeneratorSpec,
  type FaultInterfaceSpec,
  type FaultStepSpec,
  type NodePath,
  type Topology,
} from "./model.js";
import { parseDuration } from "../validation/duration.js";

/** A time as a file writes it: milliseconds, or text with a unit ("500ms", "2s"). */
type RawDuration = number | string;
/** A step of `faults:` as the file holds it. */
export type RawFaultStep = Omit<FaultStepSpec, "at" | "for" | "path"> & { at: RawDuration; for?: RawDuration };
/** The generator form of `faults:` as the file holds it. */
export type RawFaultGenerator = Omit<FaultGeneratorSpec, "every" | "for" | "path"> & {
  every: RawDuration;
  for: RawDuration;
};

/** The actions that a `for` takes back; the others are instants. */
const LASTING_FAULT_ACTIONS = [
  "partition",
  "block",
  "isolate",
  "impair",
  "down",
  "pause",
  "kill",
] as const satisfies readonly FaultAction[];

/** Times in milliseconds (the schema has checked their form); every step keeps its path. */
export function normalizeFaults(raw: RawFaultStep[] | RawFaultGenerator): FaultStepSpec[] | FaultGeneratorSpec {
  const ms = (value: RawDuration, path: NodePath) => parseDuration(formatPath(path), value);
  if (!Array.isArray(raw)) {
    const path = ["faults"];
    return { ...raw, every: ms(raw.every, [...path, "every"]), for: ms(raw.for, [...path, "for"]), path };
  }
  return raw.map((step, i) => {
    const path = ["faults", i];
    const { at, for: lasting, ...action } = step;
    return {
      at: ms(at, [...path, "at"]),
      ...(lasting !== undefined ? { for: ms(lasting, [...path, "for"]) } : {}),
      ...action,
      path,
    };
  });
}

/** A step's action with its value, narrowed together by `action`. */
export type StepAction = { [K in FaultAction]: { action: K; value: NonNullable<FaultStepSpec[K]> } }[FaultAction];

/** The actions a step sets, in the file's order (exactly one in a checked topology). */
export function actionsOf(step: FaultStepSpec): StepAction[] {
  return (Object.entries(step) as [string, unknown][])
    .filter(([key, value]) => (FAULT_ACTIONS as readonly string[]).includes(key) && value !== undefined)
    .map(([action, value]) => ({ action, value }) as StepAction);
}

type Report = (path: NodePath, message: string, atKey?: boolean) => void;

/** Checks `faults:` against the rest of the topology; every problem keeps the path of its node. */
export function checkFaults(topology: Topology, report: Report): void {
  const faults = topology.faults;
  if (faults === undefined) return;
  const hosts = new Set(topology.hosts.map((host) => host.name));
  const hostList = [...hosts].slice(0, 10).join(", ") + (hosts.size > 10 ? ", ..." : "");
  const knownHost = (host: string, path: NodePath): boolean => {
    if (hosts.has(host)) return true;
    report(path, `unknown host "${host}"; expected a host declared under hosts (${hostList})`);
    return false;
  };
  if (!Array.isArray(faults)) {
    checkGenerator(faults, knownHost, report);
    return;
  }
  const interfaces = new Set(interfaceRows(topology).map((row) => `${row.host}:${row.iface}`));
  const programs = new Map<string, number>();
  for (const program of topology.programs) programs.set(program.name, (programs.get(program.name) ?? 0) + 1);
  const knownInterface = (target: FaultInterfaceSpec, path: NodePath): void => {
    if (!knownHost(target.host, [...path, "host"])) return;
    if (interfaces.has(`${target.host}:${target.iface}`)) return;
    const own = [...interfaces].filter((key) => key.startsWith(`${target.host}:`)).map((key) => key.split(":")[1]);
    report(
      [...path, "iface"],
      `unknown interface "${target.iface}" in host "${target.host}"; expected one of: ${own.join(", ") || "none (the host has no interfaces)"}`,
    );
  };

  for (const step of faults) {
    const actions = actionsOf(step);
    const [first, second] = [actions.at(0), actions.at(1)];
    if (first === undefined) {
      report(step.path, `says what time but not what to do; expected one of: ${FAULT_ACTIONS.join(", ")}`);
      continue;
    }
    if (second !== undefined) {
      report(
        [...step.path, second.action],
        `is a second action in one step (${actions.map((a) => a.action).join(", ")}); expected one action per step: write two steps with the same "at"`,
        true,
      );
      continue;
    }
    const path = [...step.path, first.action];
    if (step.for === 0) report([...step.path, "for"], "is 0; expected how long the fault lasts, greater than 0");
    else if (step.for !== undefined && !(LASTING_FAULT_ACTIONS as readonly string[]).includes(first.action)) {
      report(
        [...step.path, "for"],
        `does not apply to ${first.action}, which takes no time; "for" goes with ${LASTING_FAULT_ACTIONS.join(", ")}`,
        true,
      );
    }
    if (step.signal !== undefined && first.action !== "kill")
      report([...step.path, "signal"], `goes with kill only, not with ${first.action}; remove it`, true);
    switch (first.action) {
      case "partition": {
        const seen = new Map<string, number>();
        first.value.forEach((group, g) => {
          group.forEach((host, h) => {
            const at = [...path, g, h];
            if (!knownHost(host, at)) return;
            const earlier = seen.get(host);
            if (earlier !== undefined)
              report(
                at,
                `host "${host}" is in group ${earlier + 1} already; expected disjoint groups (each host in at most one)`,
              );
            else seen.set(host, g);
          });
        });
        break;
      }
      case "block": {
        const [from, to] = first.value;
        const fromKnown = knownHost(from, [...path, 0]);
        const toKnown = knownHost(to, [...path, 1]);
        if (fromKnown && toKnown && from === to)
          report([...path, 1], `is "${from}" again; expected two different hosts: [from, to]`);
        break;
      }
      case "isolate":
        knownHost(first.value, path);
        break;
      case "heal":
        break;
      case "impair": {
        const { host, iface, ...options } = first.value;
        knownInterface({ host, iface }, path);
        if (Object.keys(options).length === 0)
          report(
            path,
            "names the interface but no impairment; expected netem options beside host and iface, e.g. loss: 100",
          );
        else checkImpairment(options, path, report);
        break;
      }
      case "down":
      case "up":
        knownInterface(first.value, path);
        break;
      default: {
        const name = first.value;
        const count = programs.get(name) ?? 0;
        if (count === 0) {
          const names = [...programs.keys()];
          report(
            path,
            `unknown program "${name}"; expected the name of a program under programs (${names.join(", ") || "the file has none"})`,
          );
        } else if (count > 1) {
          report(path, `"${name}" names ${count} programs; give them different names (name: ...) to choose one`);
        }
      }
    }
  }
}

function checkGenerator(
  generator: FaultGeneratorSpec,
  knownHost: (host: string, path: NodePath) => boolean,
  report: Report,
): void {
  const path = generator.path;
  if (generator.every <= 0) report([...path, "every"], "is 0; expected a time between faults greater than 0");
  if (generator.for <= 0) report([...path, "for"], "is 0; expected how long to draw faults, greater than 0");
  const seen = new Set<string>();
  generator.hosts?.forEach((host, i) => {
    if (!knownHost(host, [...path, "hosts", i])) return;
    if (seen.has(host)) report([...path, "hosts", i], `host "${host}" is listed twice; expected each host once`);
    seen.add(host);
  });
}

/** One line per step for people: "at 1000 ms: partition [leader, f2] | [f1] for 2000 ms". */
export function describeFaults(faults: Topology["faults"]): string[] {
  if (faults === undefined) return [];
  if (!Array.isArray(faults)) {
    return [
      `every ${faults.every} ms for ${faults.for} ms: a random ${faults.faults.join(" or ")}` +
        (faults.hosts ? ` among ${faults.hosts.join(", ")}` : "") +
        (faults.seed !== undefined ? ` (seed ${faults.seed})` : ""),
    ];
  }
  return [...faults].sort((a, b) => a.at - b.at).map((step) => `at ${step.at} ms: ${describeStep(step)}`);
}

function describeStep(step: FaultStepSpec): string {
  const lasting = step.for !== undefined ? ` for ${step.for} ms` : "";
  const first = actionsOf(step).at(0);
  if (first === undefined) return "nothing";
  switch (first.action) {
    case "partition":
      return `partition ${first.value.map((group) => `[${group.join(", ")}]`).join(" | ")}${lasting}`;
    case "block":
      return `block ${first.value[0]} → ${first.value[1]}${lasting}`;
    case "isolate":
      return `isolate ${first.value}${lasting}`;
    case "heal":
      return "heal";
    case "impair": {
      const { host, iface, ...options } = first.value;
      return `impair ${host}:${iface} ${describeImpairment(options)}${lasting}`;
    }
    case "down":
    case "up":
      return `${first.action} ${first.value.host}:${first.value.iface}${lasting}`;
    default:
      return `${first.action} program ${first.value}${lasting}`;
  }
}
