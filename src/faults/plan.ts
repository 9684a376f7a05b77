/**
 * Schedule plans: the steps a user writes (or a seeded generator draws),
 * checked as a whole before the schedule starts, so that a bad step changes
 * nothing. A checked step knows its action, its hosts resolved, and its `for`.
 */
import { execFileSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { InvalidArgumentError } from "../errors.js";
import type { NamespaceLike } from "../network/dummy-net.js";
import type { NamespaceHandle } from "../network/ops/handle.js";
import { parseScoped } from "../names/scoped.js";
import { RunInfo, formatCommand } from "../process/run-info.js";
import { systemPath } from "../system/privilege.js";
import { type NetemOptions, validateNetemOptions } from "../tc/netem.js";
import { checkFor, checkTime } from "./durations.js";
import { type FaultHost, resolveGroups, resolveHost } from "./hosts.js";
import { below, mulberry32 } from "./prng.js";
import { STEP_ACTION_NAMES } from "./types.js";

/** An interface of a host, as impair, down and up steps name it. */
interface HostInterface {
  /** The host (a namespace of the network). */
  host: NamespaceLike;
  /** The interface's name in that host. */
  iface: string;
}

/** The action of a step: exactly one of these keys. */
interface StepActions {
  /** Cut between groups of hosts, both ways (see DummyNet.partition()). */
  partition: readonly (readonly NamespaceLike[])[];
  /** Drop packets from the first host to the second, one way. */
  block: readonly [from: NamespaceLike, to: NamespaceLike];
  /** Cut the host from every other. */
  isolate: NamespaceLike;
  /** Heal every fault in force. */
  heal: true;
  /** Impair a link with netem (needs netem); `for` restores what was there. */
  impair: HostInterface & NetemOptions;
  /** Set a link down; `for` (or an `up` step) sets it up with its routes and IPv6 addresses. */
  down: HostInterface;
  /** Set a link up (healing its `down`, if one is in force). */
  up: HostInterface;
  /** Stop a program and what it forked (SIGSTOP); `for` (or a `resume` step) resumes it. */
  pause: RunInfo;
  /** Resume a paused program. */
  resume: RunInfo;
  /** End a program as asked (step `signal`); `for` restarts it. */
  kill: RunInfo;
  /** Start a program's command again (same host, cwd, env, cgroup). */
  restart: RunInfo;
}

/** The name of a step's action. */
export type StepAction = keyof StepActions;
const STEP_ACTIONS = STEP_ACTION_NAMES satisfies readonly StepAction[];

/** The actions whose effect `for` takes back (a partition heals, an impairment is restored, a link comes up, ...). */
const TIMED: readonly StepAction[] = ["partition", "block", "isolate", "impair", "down", "pause", "kill"];

/**
 * One step of a schedule: `at` (ms after the schedule starts), one action, and, for an action that can be taken
 * back, `for` (ms). `signal` goes with `kill` (default SIGKILL, as ProcessMonitor.kill()).
 */
export type ScheduleStep = {
  /** When, in ms after the schedule starts. */
  at: number;
  /** How long, in ms, for an action that can be taken back. */
  for?: number;
  /** The signal of a `kill`. @default "SIGKILL" */
  signal?: NodeJS.Signals;
} & {
  [A in StepAction]: { [K in A]: StepActions[A] } & { [K in Exclude<StepAction, A>]?: never };
}[StepAction];

/** The network faults a generator draws from. */
export type GeneratedFault = "partition" | "block" | "isolate";

/** A generated plan: a fault every `every` ms for `for` ms, each lasting up to half of `every`, drawn from the seed. */
export interface GeneratedPlan {
  /** A fault every this many ms (each lasting up to half of it). */
  every: number;
  /** For this many ms from the start. */
  for: number;
  /** The kinds to draw from. */
  faults: readonly GeneratedFault[];
  /** The hosts to draw from. @default every host of the network */
  hosts?: readonly NamespaceLike[];
}

/**
 * Options of `schedule()`.
 * @inline
 */
export interface ScheduleOptions {
  /** The seed of a generated plan: the same seed draws the same plan. @default a random one (see Schedule.seed) */
  seed?: number;
}

/** A step checked and resolved. */
export interface CheckedStep {
  readonly index: number;
  readonly at: number;
  readonly for: number | undefined;
  readonly action: StepAction;
  /** The hosts it concerns, by name. */
  readonly hosts: string[];
  readonly groups?: FaultHost[][];
  readonly link?: { host: FaultHost; iface: string };
  readonly netem?: NetemOptions;
  readonly program?: RunInfo;
  readonly signal?: NodeJS.Signals;
}

const GENERATED: readonly GeneratedFault[] = ["partition", "block", "isolate"];

/** Checks a plan (steps, or a generator whose steps it draws from `seed`): its steps as given, and checked, by time. */
export function checkPlan(
  at: NamespaceHandle,
  plan: unknown,
  seed: number,
): { steps: readonly ScheduleStep[]; checked: CheckedStep[] } {
  const steps = Array.isArray(plan) ? (plan as ScheduleStep[]) : generate(at, plan, seed);
  const checked = steps
    .map((step, index) => checkStep(at, step, index))
    .sort((x, y) => x.at - y.at || x.index - y.index);
  return { steps, checked };
}

function checkStep(at: NamespaceHandle, step: unknown, index: number): CheckedStep {
  const name = `plan[${index}]`;
  if (typeof step !== "object" || step === null) {
    throw new InvalidArgumentError(name, step, 'must be a step object, e.g. { at: 500, partition: [["a"], ["b"]] }');
  }
  const fields = step as Record<string, unknown>;
  const actions = STEP_ACTIONS.filter((action) => fields[action] !== undefined);
  if (actions.length !== 1) {
    throw new InvalidArgumentError(
      name,
      step,
      `has ${actions.length === 0 ? "no action" : `${actions.length} actions (${actions.join(", ")})`}: give exactly one of ${STEP_ACTIONS.join(", ")}`,
    );
  }
  const action = actions[0];
  const unknownKeys = Object.keys(fields).filter(
    (key) => !(STEP_ACTIONS as readonly string[]).includes(key) && !["at", "for", "signal"].includes(key),
  );
  if (unknownKeys.length > 0) {
    throw new InvalidArgumentError(
      `${name}.${unknownKeys[0]}`,
      fields[unknownKeys[0]],
      "is not a step field: use at, for, signal and one action",
    );
  }
  const when = checkTime(`${name}.at`, fields["at"]);
  const duration = checkFor(`${name}.for`, fields["for"]);
  if (duration !== undefined && !TIMED.includes(action)) {
    throw new InvalidArgumentError(
      `${name}.for`,
      duration,
      `does not go with ${action}, which nothing takes back: remove it`,
    );
  }
  const value = fields[action];
  const base = { index, at: when, for: duration, action };
  const where = `${name}.${action}`;
  switch (action) {
    case "partition": {
      const groups = resolveGroups(at, value);
      return { ...base, hosts: groups.flat().map((host) => host.name), groups };
    }
    case "block": {
      if (!Array.isArray(value) || value.length !== 2) {
        throw new InvalidArgumentError(where, value, 'must be [from, to], e.g. ["a", "b"]');
      }
      const [from, to] = [resolveHost(at, value[0], `${where}[0]`), resolveHost(at, value[1], `${where}[1]`)];
      if (from.scoped === to.scoped) throw new InvalidArgumentError(`${where}[1]`, to.name, "is the same host as from");
      return { ...base, hosts: [from.name, to.name], groups: [[from], [to]] };
    }
    case "isolate": {
      const host = resolveHost(at, value, where);
      return { ...base, hosts: [host.name], groups: [[host]] };
    }
    case "heal":
      if (value !== true) throw new InvalidArgumentError(where, value, "must be true (heal every fault in force)");
      return { ...base, hosts: [] };
    case "impair":
    case "down":
    case "up": {
      const link = checkLink(at, value, where);
      const netem =
        action === "impair"
          ? validateNetemOptions(withoutKeys(value as Record<string, unknown>, ["host", "iface"]))
          : undefined;
      return { ...base, hosts: [link.host.name], link, ...(netem ? { netem } : {}) };
    }
    default: {
      const program = checkProgram(value, where, action);
      const signal = fields["signal"];
      if (signal !== undefined && (action !== "kill" || typeof signal !== "string" || !/^SIG[A-Z0-9]+$/.test(signal))) {
        throw new InvalidArgumentError(
          `${name}.signal`,
          signal,
          'goes with kill only, as a signal name such as "SIGKILL"',
        );
      }
      return {
        ...base,
        hosts: [formatCommand(program.cmd)],
        program,
        ...(signal ? { signal: signal as NodeJS.Signals } : {}),
      };
    }
  }
}

function checkLink(at: NamespaceHandle, value: unknown, where: string): { host: FaultHost; iface: string } {
  if (typeof value !== "object" || value === null) {
    throw new InvalidArgumentError(where, value, 'must be { host, iface }, e.g. { host: "a", iface: "eth0" }');
  }
  const { host: hostValue, iface } = value as { host?: unknown; iface?: unknown };
  const host = resolveHost(at, hostValue, `${where}.host`);
  if (typeof iface !== "string" || iface === "") {
    throw new InvalidArgumentError(`${where}.iface`, iface, "must be the name of an interface of the host");
  }
  const scoped = at.iface(iface, `${where}.iface`).scoped;
  const [program, ...args] = at.shell.privilege.wrap(["ip", "-n", host.scoped, "link", "show", "dev", scoped]);
  try {
    execFileSync(program, args, { stdio: "ignore", timeout: 10_000 });
  } catch {
    throw new InvalidArgumentError(
      `${where}.iface`,
      iface,
      `is not an interface of host ${host.name} (no ${scoped} there): name one of its links`,
    );
  }
  return { host, iface: scoped };
}

function checkProgram(value: unknown, where: string, action: StepAction): RunInfo {
  if (!(value instanceof RunInfo)) {
    throw new InvalidArgumentError(where, value, "must be the RunInfo of a program (what runAsync() returned)");
  }
  if (action !== "restart" && value.hasExited) {
    throw new InvalidArgumentError(
      where,
      `pid ${value.pid ?? "?"} (${formatCommand(value.cmd)})`,
      `has ended already (${value.describeState()}): ${action} needs a running program; restart it first`,
    );
  }
  return value;
}

function withoutKeys(value: Record<string, unknown>, keys: readonly string[]): Record<string, unknown> {
  return Object.fromEntries(Object.entries(value).filter(([key]) => !keys.includes(key)));
}

/** Draws the steps of a generated plan from `seed`: the same seed, hosts and plan give the same steps. */
function generate(at: NamespaceHandle, plan: unknown, seed: number): ScheduleStep[] {
  const rule = '(a plan) must be an array of steps or a generator { every, for, faults: ["partition", ...], hosts? }';
  if (typeof plan !== "object" || plan === null) throw new InvalidArgumentError("plan", plan, rule);
  const generator = plan as Partial<Record<keyof GeneratedPlan, unknown>>;
  const every = checkTime("plan.every", generator.every, { positive: true });
  const total = checkTime("plan.for", generator.for, { positive: true });
  const kinds = generator.faults;
  if (
    !Array.isArray(kinds) ||
    kinds.length === 0 ||
    kinds.some((kind) => !GENERATED.includes(kind as GeneratedFault))
  ) {
    throw new InvalidArgumentError("plan.faults", kinds, `must be a non-empty array of ${GENERATED.join(", ")}`);
  }
  const hosts = (generator.hosts ?? networkHosts(at)) as unknown[];
  if (!Array.isArray(hosts)) throw new InvalidArgumentError("plan.hosts", hosts, "must be an array of hosts");
  const names = hosts.map((host, i) => resolveHost(at, host, `plan.hosts[${i}]`).name);
  if (names.length < 2) {
    throw new InvalidArgumentError("plan.hosts", hosts, "must name at least two hosts: a fault is between hosts");
  }
  const random = mulberry32(seed);
  const steps: ScheduleStep[] = [];
  for (let time = 0; time < total; time += every) {
    const kind = (kinds as GeneratedFault[])[below(random, kinds.length)];
    const lasting = Math.max(1, Math.round(random() * (every / 2)));
    const shuffled = shuffle(names, random);
    if (kind === "partition") {
      const cut = 1 + below(random, shuffled.length - 1);
      steps.push({ at: time, for: lasting, partition: [shuffled.slice(0, cut), shuffled.slice(cut)] });
    } else if (kind === "block") {
      steps.push({ at: time, for: lasting, block: [shuffled[0], shuffled[1]] });
    } else {
      steps.push({ at: time, for: lasting, isolate: shuffled[0] });
    }
  }
  return steps;
}

function shuffle<T>(items: readonly T[], random: () => number): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = below(random, i + 1);
    [copy[i], copy[j]] = [copy[j], copy[i]];
  }
  return copy;
}

/** Every host (namespace) of the network, by name, sorted (read from /run/netns: no process to start). */
export function networkHosts(at: NamespaceHandle): string[] {
  const entries = readdirSync(systemPath(at.shell.privilege, "/run/netns"));
  return entries
    .flatMap((entry) => {
      const parsed = parseScoped(entry);
      return parsed?.uid === at.uid ? [parsed.name] : [];
    })
    .sort();
}

/** A seed when none is given. */
export function randomSeed(): number {
  return Math.floor(Math.random() * 2 ** 32);
}
