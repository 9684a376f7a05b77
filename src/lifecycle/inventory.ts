/**
 * What dummynet may have left on this machine, by owner: namespaces, links in
 * the host namespace (veth ends, bridges, IFB devices), iptables rules tagged
 * with an owner's prefix, and cgroups. The one lister: the reaper, `dummynet
 * ls` and the tests' "nothing left" check all read the machine through it.
 *
 * A listing that fails is an error, never an empty list. The honest skips:
 * iptables is not installed, so no rule of ours can exist (rules are only made
 * through it), or the caller knows its owner made none (InventoryOptions).
 * Namespaces and links of this machine can be read from files instead of
 * running `ip` (InventoryOptions.direct), which costs no process.
 */
import { spawnSync } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import { DummyNetError, MissingProgramError } from "../errors.js";
import { scopedCgroupDirectories } from "../cgroups/directories.js";
import { cgroupMounts } from "../cgroups/layout.js";
import { parseScoped } from "../names/scoped.js";
import type { CommandRunner } from "../system/command-runner.js";
import { PACKAGE_OF_PROGRAM, missingProgramHint } from "../system/hints.js";
import { parseIpJsonArray } from "../system/ip-json.js";
import { type Privilege, defaultPrivilege } from "../system/privilege.js";
import { readMountsSync } from "../system/proc.js";
import { programNotFoundBy } from "../system/spawn-runner.js";

/** What kind of object a leftover is. */
export type LeftoverKind = "netns" | "link" | "iptables" | "cgroup";

/** An object of dummynet's found on the machine: a namespace, link, cgroup or iptables rule. */
export interface Leftover {
  /** What kind of object it is. */
  kind: LeftoverKind;
  /** The scoped name (a namespace, link or cgroup), or the iptables rule as `iptables -S` prints it. */
  name: string;
  /** Where: the iptables table, or the cgroup directory. */
  where?: string;
}

/** A listing step left out, and why that is safe (e.g. the program that makes such objects is not installed). */
export interface SkippedStep {
  /** What was left out, e.g. `iptables rules`. */
  step: string;
  /** Why that is safe. */
  why: string;
}

export interface Inventory {
  /** Every object found, with the uid that owns it. */
  objects: { uid: number; object: Leftover }[];
  /** Steps that could be left out honestly. */
  skipped: SkippedStep[];
}

/**
 * A listing command failed: what is on the machine is unknown, so nothing may be concluded from it.
 *
 * @example
 * ```ts
 * const owners = await listOwners().catch((error) => {
 *   if (error instanceof ListingError) console.error(`cannot tell what is left: ${error.step} (${error.reason})`);
 *   throw error;
 * });
 * ```
 */
export class ListingError extends DummyNetError {
  constructor(
    /** What could not be listed, e.g. `network namespaces`. */
    readonly step: string,
    /** The listing command, as run. */
    readonly argv: readonly string[],
    /** How it failed (its stderr, or exit status). */
    readonly reason: string,
    options?: ErrorOptions,
  ) {
    super(`Cannot list ${step}: \`${argv.join(" ")}\` failed: ${reason}`, options);
  }
}

/** What running a listing command gave: its output, or that its program is not installed. */
type Outcome = { stdout: string; stderr: string; exitCode: number | null } | { missingProgram: string };

interface ListingCommand {
  argv: readonly string[];
  parse(stdout: string): Leftover[];
}

interface ListingStep {
  step: string;
  commands: readonly ListingCommand[];
  /** The same listing read from a file of this process (for its own network namespace): no process to start. */
  read?: { path: string; parse(path: string): Leftover[] };
  /** The program whose absence means no such object can exist: the step is then skipped. */
  skipWithout?: string;
}

const RULE_TAG = /--comment "?(d-[1-9A-HJ-NP-Za-km-z]+-dummynet)"?/;

/** The owner of an iptables rule: its tag (every rule the library makes has one), else any scoped name in it. */
function ruleOwner(rule: string): number | undefined {
  const tag = RULE_TAG.exec(rule);
  if (tag) return parseScoped(tag[1])?.uid;
  for (const word of rule.split(" ")) {
    const owner = parseScoped(word.replaceAll('"', ""));
    if (owner) return owner.uid;
  }
  return undefined;
}

const STEPS: readonly ListingStep[] = [
  {
    step: "namespaces",
    commands: [
      {
        argv: ["ip", "-j", "netns", "list"],
        parse: (stdout) =>
          parseIpJsonArray<{ name: string }>(stdout).map((entry) => ({ kind: "netns", name: entry.name })),
      },
    ],
    // What `ip netns list` reads; no directory yet means no named namespace.
    read: { path: "/run/netns", parse: (path) => readdirIfAny(path).map((name) => ({ kind: "netns", name })) },
  },
  {
    step: "links",
    commands: [
      {
        argv: ["ip", "-j", "link", "show"],
        parse: (stdout) =>
          parseIpJsonArray<{ ifname: string }>(stdout).map((entry) => ({ kind: "link", name: entry.ifname })),
      },
    ],
    // Every device of this process's network namespace, up or down (unlike /sys/class/net, whatever netns mounted /sys).
    read: { path: "/proc/self/net/dev", parse: (path) => netDevNames(readFileSync(path, "utf8")) },
  },
  {
    step: "iptables rules",
    skipWithout: "iptables",
    // -w: wait for the xtables lock rather than fail while another program changes rules.
    commands: ["filter", "nat"].map((table) => ({
      argv: ["iptables", "-w", "-t", table, "-S"],
      parse: (stdout: string) =>
        stdout
          .split("\n")
          .filter((rule) => rule.startsWith("-A "))
          .map((rule) => ({ kind: "iptables" as const, name: rule, where: table })),
    })),
  },
];

function ownerOf(object: Leftover): number | undefined {
  return object.kind === "iptables" ? ruleOwner(object.name) : parseScoped(object.name)?.uid;
}

/**
 * The objects a step's command found, or undefined when the step is skipped
 * (its program is not installed). Throws ListingError when the command failed.
 */
function interpret(step: ListingStep, command: ListingCommand, outcome: Outcome): Leftover[] | undefined {
  if ("missingProgram" in outcome) {
    if (outcome.missingProgram === step.skipWithout) return undefined;
    throw new ListingError(
      step.step,
      command.argv,
      `${outcome.missingProgram} is not installed. ${missingProgramHint(outcome.missingProgram)}`,
    );
  }
  // The exit status decides: `ip netns list` prints "Error: Peer netns reference is invalid." and exits 0
  // when a namespace goes away while it lists, and its output is still whole.
  if (outcome.exitCode !== 0) {
    throw new ListingError(step.step, command.argv, outcome.stderr.trim() || `exit status ${String(outcome.exitCode)}`);
  }
  return command.parse(outcome.stdout);
}

function skippedBecauseMissing(step: ListingStep): SkippedStep {
  const program = step.skipWithout ?? "its program";
  return {
    step: step.step,
    why: `${program} is not installed (package ${PACKAGE_OF_PROGRAM[program] ?? program}), so there can be none of ours`,
  };
}

function collect(found: Leftover[], inventory: Inventory): void {
  for (const object of found) {
    const uid = ownerOf(object);
    if (uid !== undefined) inventory.objects.push({ uid, object });
  }
}

/** How to list: the choices a caller can make, knowing where it lists. */
export interface InventoryOptions {
  /**
   * Read namespaces and links from /run/netns and /proc/self/net/dev instead of running `ip`: only when
   * listing this process's own machine (as root or through sudo), not inside a rootless holder.
   */
  direct?: boolean;
  /** Leave out the iptables listing, for this reason: the caller knows no rule of its owner can exist. */
  skipIptables?: string;
}

/** A directory's entries; none when it does not exist. */
function readdirIfAny(path: string): string[] {
  try {
    return readdirSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw error;
  }
}

/** The device names of /proc/net/dev (after its two header lines, `  name: counters`). */
function netDevNames(text: string): Leftover[] {
  return text
    .split("\n")
    .slice(2)
    .flatMap((line) => {
      const colon = line.indexOf(":");
      return colon > 0 ? [{ kind: "link" as const, name: line.slice(0, colon).trim() }] : [];
    });
}

/** A step's objects read directly (InventoryOptions.direct); a read that fails is a ListingError. */
function readStep(step: ListingStep & { read: NonNullable<ListingStep["read"]> }): Leftover[] {
  try {
    return step.read.parse(step.read.path);
  } catch (error) {
    throw new ListingError(step.step, ["read", step.read.path], (error as Error).message, { cause: error });
  }
}

/**
 * The listing: each step's commands to run are yielded together, their
 * outcomes sent back in order; the inventory is returned. One plan for the
 * asynchronous lister (which runs a step's commands side by side) and the
 * synchronous one (one after the other).
 */
function* listing(
  options: InventoryOptions,
): Generator<{ step: ListingStep; commands: readonly ListingCommand[] }, Inventory, Outcome[]> {
  const inventory: Inventory = { objects: [], skipped: [] };
  for (const step of STEPS) {
    if (options.direct && step.read) {
      collect(readStep({ ...step, read: step.read }), inventory);
      continue;
    }
    if (step.skipWithout === "iptables" && options.skipIptables !== undefined) {
      inventory.skipped.push({ step: step.step, why: options.skipIptables });
      continue;
    }
    const outcomes = yield { step, commands: step.commands };
    const found = step.commands.map((command, at) => interpret(step, command, outcomes[at]));
    if (found.includes(undefined)) inventory.skipped.push(skippedBecauseMissing(step));
    else for (const objects of found) collect(objects ?? [], inventory);
  }
  collect(cgroupDirectories(), inventory);
  return inventory;
}

/** Lists every object of every owner through `runner` (which may use sudo). Throws ListingError when a listing fails. */
export async function takeInventory(runner: CommandRunner, options: InventoryOptions = {}): Promise<Inventory> {
  const plan = listing(options);
  let next = plan.next();
  while (!next.done) {
    const { step, commands } = next.value;
    next = plan.next(await Promise.all(commands.map((command) => runListing(runner, step, command))));
  }
  return next.value;
}

async function runListing(runner: CommandRunner, step: ListingStep, command: ListingCommand): Promise<Outcome> {
  try {
    return await runner.run(command.argv, { allowFailure: true });
  } catch (error) {
    if (!(error instanceof MissingProgramError))
      throw new ListingError(step.step, command.argv, (error as Error).message, { cause: error });
    return { missingProgram: error.program };
  }
}

/** Longest a synchronous listing command may take (iptables may wait for its lock). */
const SYNC_LISTING_TIMEOUT_MS = 60_000;

/**
 * takeInventory for synchronous callers (the tests' leftovers check), running
 * the commands with `privilege` (by default this process's: as they are when
 * root, else through `sudo -n`; a rootless holder's to look inside it).
 * Throws ListingError when a listing fails.
 */
export function takeInventorySync(
  privilege: Privilege = defaultPrivilege(),
  options: InventoryOptions = {},
): Inventory {
  const plan = listing(options);
  let next = plan.next();
  while (!next.done) {
    const { step, commands } = next.value;
    next = plan.next(commands.map((command) => runListingSync(privilege, step, command)));
  }
  return next.value;
}

function runListingSync(privilege: Privilege, step: ListingStep, command: ListingCommand): Outcome {
  const [program, ...args] = privilege.wrap(command.argv) as [string, ...string[]];
  const reply = spawnSync(program, args, {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
    timeout: SYNC_LISTING_TIMEOUT_MS,
  });
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion -- tsc needs it: Error has no `code`
  const code = (reply.error as NodeJS.ErrnoException | undefined)?.code;
  if (reply.error && code !== "ENOENT") {
    const reason = code === "ETIMEDOUT" ? `no answer within ${SYNC_LISTING_TIMEOUT_MS} ms` : reply.error.message;
    throw new ListingError(step.step, command.argv, reason, { cause: reply.error });
  }
  // Behind sudo (or nsenter) a missing program is their exit status and words, not a spawn error.
  const wrapped = program !== command.argv[0];
  const notFound =
    code === "ENOENT" ? program : reply.status !== 0 && wrapped ? programNotFoundBy(reply.stderr) : undefined;
  return notFound !== undefined
    ? { missingProgram: notFound }
    : { stdout: reply.stdout, stderr: reply.stderr, exitCode: reply.status };
}

/**
 * Scoped directories at the top of every mounted cgroup hierarchy (v1 and v2),
 * where the library makes its cgroups. Read synchronously: a few directories,
 * shared by both listers. No cgroup file system mounted: no cgroups of ours.
 */
function cgroupDirectories(): Leftover[] {
  let mounts;
  try {
    mounts = cgroupMounts(readMountsSync());
  } catch (error) {
    throw new ListingError("cgroups", ["read", "/proc/self/mountinfo"], (error as Error).message, { cause: error });
  }
  const found: Leftover[] = [];
  const seen = new Set<string>();
  for (const mount of mounts) {
    if (seen.has(mount.mountPoint)) continue;
    seen.add(mount.mountPoint);
    let entries;
    try {
      // Unmounted since mountinfo was read: nothing there.
      entries = scopedCgroupDirectories(mount.mountPoint);
    } catch (error) {
      throw new ListingError("cgroups", ["readdir", mount.mountPoint], (error as Error).message, { cause: error });
    }
    for (const entry of entries) found.push({ kind: "cgroup", name: entry.name, where: entry.path });
  }
  return found;
}
