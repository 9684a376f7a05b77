/**
 * Finding and removing what dead owners left behind: namespaces (and the
 * processes inside), links in the host namespace (veth ends, bridges, IFB
 * devices), iptables rules tagged with the owner's prefix, and cgroups.
 * Never touches an object whose owner is alive, unless asked by uid.
 */
import { removeCgroupDirectories } from "../cgroups/directories.js";
import { defaultLogger, type Logger } from "../log.js";
import { isAlreadyGone } from "../system/already-gone.js";
import type { CommandRunner } from "../system/command-runner.js";
import { attachRootlessPrivilege } from "../rootless/privilege.js";
import { type HolderRef, holderAlive } from "../rootless/enter.js";
import { listOwnHolders } from "../rootless/holder.js";
import { type RootlessOption, useRootless } from "../rootless/mode.js";
import { defaultPrivilege, isRoot, type Privilege, sudoWorksWithoutPassword } from "../system/privilege.js";
import { killQuietly } from "../system/quiet.js";
import { SpawnRunner } from "../system/spawn-runner.js";
import { type Inventory, type Leftover, type LeftoverKind, type SkippedStep, takeInventory } from "./inventory.js";
import {
  type OwnerRecord,
  type OwnerState,
  forgetOwner,
  forgetRulesMark,
  ownerState,
  readOwnerRecords,
  rulesMarks,
} from "./owners.js";

export type { SkippedStep } from "./inventory.js";

/** An owner uid with objects on the machine: whether it is alive, its record, and what it owns. */
export interface Owner {
  /** The uid in the objects' names (`d-<uid>-...`). */
  uid: number;
  /** Whether the owner is alive, dead, or unknown (no record, and the uid is not a live pid). */
  state: OwnerState;
  /** The owner's record (pid, start time, host), if it left one. */
  record: OwnerRecord | undefined;
  /** The objects it owns. */
  objects: Leftover[];
  /** The rootless holder its objects are in (they were listed, and are removed, through it). */
  holder?: HolderRef | undefined;
}

/**
 * Options of `reapDeadOwners()`.
 * @inline
 */
export interface ReapOptions {
  /** Also remove the objects of these uids, alive or not. */
  force?: readonly number[];
  /** Only look at these uids. @default every owner found */
  only?: readonly number[];
  /** Runs the listing and removal commands. @default a SpawnRunner with this process's default privilege (sudo -n when not root) */
  runner?: CommandRunner;
  /** Where to log what was removed. @default a logger silent unless DUMMYNET_LOG is set */
  log?: Logger;
  /**
   * Look in this user's rootless holders (their networks live there), as `DummyNet`'s option of that name decides.
   * @default DUMMYNET_ROOTLESS, else "auto"
   */
  rootless?: RootlessOption;
}

/** What `reapDeadOwners()` did. */
export interface ReapResult {
  /** Owners whose objects were removed. */
  reaped: Owner[];
  /** Owners left alone because they are alive. */
  spared: Owner[];
  /** Objects that could not be removed, with why. */
  failures: {
    /** The object that could not be removed. */
    object: Leftover;
    /** Its owner. */
    uid: number;
    /** Why removing it failed. */
    error: string;
  }[];
  /** Listing steps left out because no such object can exist (e.g. iptables is not installed). */
  skipped: SkippedStep[];
}

/** What `surveyOwners()` found. */
export interface OwnerSurvey {
  /** Every owner with objects on the machine, by uid. */
  owners: Owner[];
  /** Listing steps left out because no such object can exist (e.g. iptables is not installed), or because this user cannot list them. */
  skipped: SkippedStep[];
  /** False when only this user's rootless holders could be looked in, not the machine's own namespaces, links and rules. */
  machineListed: boolean;
}

function defaultRunner(log: Logger): CommandRunner {
  return new SpawnRunner({ privilege: defaultPrivilege(), log });
}

/**
 * Every owner that has objects on this machine (or a record), with its
 * objects and whether it is alive, and the listing steps that were left out.
 * Rejects with a ListingError when a listing fails: an unknown state is never
 * reported as "nothing there".
 *
 * @throws ListingError when a listing command fails.
 * @example
 * ```ts
 * const { owners, skipped } = await surveyOwners();
 * for (const step of skipped) console.log(`not looked at: ${step.step} (${step.why})`);
 * ```
 */
export function surveyOwners(options: Pick<ReapOptions, "runner" | "log" | "rootless"> = {}): Promise<OwnerSurvey> {
  return survey(options, "always");
}

/**
 * When iptables is listed: "always", or only "when left" by an owner that is gone (the reaping at a network's
 * start: a rule outlives its namespaces only in the host namespace, and an owner marks such rules before making
 * them, owners.ts markHostRules), or by one that left no record (nothing says what it made).
 */
type RulesListing = "always" | "when left";

/** The reason the reaping at a network's start gives for leaving iptables out. */
const NO_RULES_LEFT =
  "no owner that is gone marked host iptables rules, and every gone owner has a record (`dummynet cleanup` lists them always)";

async function survey(
  options: Pick<ReapOptions, "runner" | "log" | "rootless">,
  rules: RulesListing,
): Promise<OwnerSurvey> {
  const log = options.log ?? defaultLogger;
  const runner = options.runner ?? defaultRunner(log);
  // Rootless: this user's networks live inside its holders, each listed through its own way in; the machine's own
  // namespaces, links and rules only when this user may list them (root or passwordless sudo), and said so when not.
  const rootless = options.runner === undefined && useRootless(options.rootless, log);
  const machineListable = !rootless || isRoot() || sudoWorksWithoutPassword();
  const marks = rulesMarks();
  const gone = (uid: number, records: ReadonlyMap<number, OwnerRecord>) =>
    ownerState(uid, records.get(uid) ?? marks.get(uid)) === "dead";
  let skipRules: string | undefined;
  if (rules === "when left") {
    const records = await readOwnerRecords();
    if (![...marks.keys()].some((uid) => gone(uid, records))) skipRules = NO_RULES_LEFT;
  }
  // Objects first, records after: an owner records its uid before it makes anything, so every object listed
  // has its record by then (read before, a new owner's objects would look ownerless, hence dead).
  // With our own runner, namespaces and links are read from this process's files (no `ip` to start).
  const list = (skipIptables: string | undefined) =>
    machineListable
      ? takeInventory(runner, { direct: options.runner === undefined, ...(skipIptables ? { skipIptables } : {}) })
      : Promise.resolve({ objects: [], skipped: [MACHINE_NOT_LISTED] });
  let inventory = await list(skipRules);
  let records = await readOwnerRecords();
  if (skipRules !== undefined && inventory.objects.some(({ uid }) => !records.has(uid) && gone(uid, records))) {
    // An owner without a record could not mark its rules either: list everything.
    inventory = await list(undefined);
    records = await readOwnerRecords();
  }
  const inHolders = rootless ? await holderInventories(log) : [];
  const owners = new Map<number, Owner>();
  const ownerOf = (uid: number): Owner => {
    let owner = owners.get(uid);
    if (!owner) {
      const record = records.get(uid);
      owner = { uid, record, state: gone(uid, records) ? "dead" : "alive", objects: [] };
      owners.set(uid, owner);
    }
    return owner;
  };
  for (const { uid, object } of inventory.objects) ownerOf(uid).objects.push(object);
  for (const { holder, objects } of inHolders) {
    for (const { uid, object } of objects) {
      const owner = ownerOf(uid);
      owner.objects.push(object);
      owner.holder = holder;
    }
  }
  for (const uid of records.keys()) ownerOf(uid);
  // A mark whose rules are gone is an owner still: the reaping removes its mark.
  for (const uid of marks.keys()) ownerOf(uid);
  return {
    owners: [...owners.values()].sort((a, b) => a.uid - b.uid),
    skipped: inventory.skipped,
    machineListed: machineListable,
  };
}

/** What a user who is neither root nor has passwordless sudo cannot list, said beside the result. */
const MACHINE_NOT_LISTED: SkippedStep = {
  step: "the machine's own namespaces, links, iptables rules and cgroups",
  why:
    "this user is neither root nor has passwordless sudo, so only its rootless networks (inside its holders) were listed; " +
    "those leave nothing on the machine when they end, but networks built as root or through sudo do: `sudo dummynet ls` lists them",
};

/** The objects inside each of this user's holders; a holder that ends while it is listed held nothing any more. */
async function holderInventories(log: Logger): Promise<{ holder: HolderRef; objects: Inventory["objects"] }[]> {
  const found: { holder: HolderRef; objects: Inventory["objects"] }[] = [];
  for (const holder of listOwnHolders()) {
    try {
      const inventory = await takeInventory(new SpawnRunner({ privilege: attachRootlessPrivilege(holder), log }));
      // cgroups are the machine's (read from /sys, not through the holder) and refused in rootless mode.
      found.push({ holder, objects: inventory.objects.filter(({ object }) => object.kind !== "cgroup") });
    } catch (error) {
      if (holderAlive(holder)) throw error;
    }
  }
  return found;
}

/**
 * Every owner that has objects on this machine (or a record), with its objects and whether it is alive. Logs skipped steps.
 *
 * @example
 * ```ts
 * for (const owner of await listOwners()) console.log(owner.uid, owner.state, owner.objects.length);
 * ```
 *
 * @throws ListingError when a listing command fails.
 */
export async function listOwners(options: Pick<ReapOptions, "runner" | "log" | "rootless"> = {}): Promise<Owner[]> {
  const log = options.log ?? defaultLogger;
  const survey = await surveyOwners({ ...options, log });
  logSkipped(survey.skipped, log);
  return survey.owners;
}

function logSkipped(skipped: readonly SkippedStep[], log: Logger): void {
  for (const step of skipped) log.info(`not listing ${step.step}: ${step.why}`);
}

/**
 * Removes the objects of owners that are gone (and of `force`d uids).
 * Processes in a dead owner's namespaces are killed first. Records of reaped
 * owners are deleted.
 *
 * @example
 * ```ts
 * const { reaped, failures } = await reapDeadOwners();
 * console.log(`removed the leftovers of ${reaped.length} dead owners, ${failures.length} failures`);
 * ```
 *
 * @throws ListingError when a listing command fails (nothing is removed then); a removal that
 * fails is reported in `failures`, not thrown.
 */
export function reapDeadOwners(options: ReapOptions = {}): Promise<ReapResult> {
  return reap(options, "always");
}

/**
 * The reaping DummyNet's `reapDeadOwners` option does at a network's start: as reapDeadOwners(), but iptables
 * is listed only when a gone owner may have left a rule, which saves the first test of a process two
 * iptables runs.
 */
export function reapAtNetworkStart(log: Logger): Promise<ReapResult> {
  return reap({ log }, "when left");
}

async function reap(options: ReapOptions, rules: RulesListing): Promise<ReapResult> {
  const log = options.log ?? defaultLogger;
  const runner = options.runner ?? defaultRunner(log);
  const force = new Set(options.force ?? []);
  const only = options.only ? new Set(options.only) : undefined;
  const found = await survey(
    {
      ...(options.runner ? { runner } : {}),
      ...(options.rootless !== undefined ? { rootless: options.rootless } : {}),
      log,
    },
    rules,
  );
  logSkipped(found.skipped, log);
  // Rules were looked for (or cannot exist: no iptables), so a reaped owner's mark can go with them.
  const rulesListed = found.machineListed && !found.skipped.some(({ why }) => why === NO_RULES_LEFT);
  const result: ReapResult = { reaped: [], spared: [], failures: [], skipped: found.skipped };
  for (const owner of found.owners) {
    if (only && !only.has(owner.uid)) continue;
    if (owner.state === "alive" && !force.has(owner.uid)) {
      result.spared.push(owner);
      continue;
    }
    log.info(`reaping ${owner.objects.length} objects of ${owner.state} owner ${owner.uid}`);
    // Inside a holder through the holder's way in; nothing of a rootless owner that ended is left (its holder took it along).
    const ownerPrivilege = owner.holder ? attachRootlessPrivilege(owner.holder) : defaultPrivilege();
    const ownerRunner = owner.holder ? new SpawnRunner({ privilege: ownerPrivilege, log }) : runner;
    // Namespaces first (they take their links with them), then host links, rules, cgroups.
    const order: LeftoverKind[] = ["netns", "link", "iptables", "cgroup"];
    for (const kind of order) {
      for (const object of owner.objects.filter((o) => o.kind === kind)) {
        try {
          await removeLeftover(object, ownerRunner, ownerPrivilege);
        } catch (error) {
          // Gone already: a veth end with its peer's namespace, or removed by another reaper at the same time.
          if (isAlreadyGone(error)) continue;
          result.failures.push({ object, uid: owner.uid, error: (error as Error).message });
        }
      }
    }
    if (owner.record) await forgetOwner(owner.uid, owner.record);
    if (rulesListed && !result.failures.some((f) => f.uid === owner.uid && f.object.kind === "iptables"))
      forgetRulesMark(owner.uid);
    result.reaped.push(owner);
  }
  return result;
}

async function removeLeftover(object: Leftover, runner: CommandRunner, privilege: Privilege): Promise<void> {
  switch (object.kind) {
    case "netns": {
      // `ip netns pids` reads /proc itself: no nsenter needed to find what runs inside.
      const pids = await runner.run(["ip", "netns", "pids", object.name], { allowFailure: true });
      // Directly when root or inside a holder (this process sees its pids; no `kill` program needed), else through the runner, which has the privilege.
      for (const pid of pids.stdout.split("\n").filter(Boolean))
        await killQuietly(privilege, Number(pid), (argv, options) => runner.run(argv, options));
      await runner.run(["ip", "netns", "delete", object.name]);
      return;
    }
    case "link":
      await runner.run(["ip", "link", "delete", "dev", object.name]);
      return;
    case "iptables": {
      // `iptables -S` prints "-A CHAIN spec..."; the same spec after -D deletes it. Our rules have no quoted blanks.
      const words = object.name.replaceAll('"', "").split(" ").filter(Boolean);
      await runner.run(["iptables", "-w", "-t", object.where ?? "filter", "-D", ...words.slice(1)]);
      return;
    }
    case "cgroup":
      if (object.where !== undefined) await removeCgroupDirectories([object.where], object.name);
      return;
  }
}
