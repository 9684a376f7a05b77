/**
 * Owners: every object carries its owner's uid in its name (d-<uid>-...).
 * Each DummyNet holds its uid through a record in
 * /run/dummynet/owners/<uid>.json (a user who is not root: in the user's own
 * directory, see STATE_DIRECTORY): the uid, the pid and the pid's start time
 * (from /proc/<pid>/stat), so a dead owner is told from a live one even after
 * its pid was reused. /run is a tmpfs: records vanish with a reboot, as do
 * the objects they describe.
 *
 * The record file is also the arbiter of who holds a uid: it is created
 * atomically (a complete file hard-linked into place, which fails if one is
 * there), so two instances, threads or processes never get the same uid by
 * accident. The first instance of a process gets the process id (the
 * reference's names); the others get a uid from RESERVED_UID_RANGE, which no
 * pid can take.
 */
import { randomInt, randomUUID } from "node:crypto";
import {
  chmodSync,
  linkSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  renameSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { readFile, readdir } from "node:fs/promises";
import { join } from "node:path";
import { threadId } from "node:worker_threads";
import { ensurePrivateDirectory, rootlessRecordDirectory } from "../rootless/record.js";
import type { HolderRef } from "../rootless/enter.js";
import { isRoot } from "../system/privilege.js";
import { processStartTime } from "../system/proc.js";

/** Re-exported for cli/state.ts until it imports it from system/proc.js. */

/**
 * Where the records live: DUMMYNET_STATE_DIR; else, for root, /run/dummynet
 * (one place for every root process and the reaper); else the user's own
 * directory, mode 0700 ($XDG_RUNTIME_DIR/dummynet or /tmp/dummynet-<uid>,
 * rootless/record.ts): an unprivileged user cannot write /run, and another
 * terminal of the same user finds its networks there (a rootless network's
 * objects live inside its holder, which only that user can enter).
 */
const PER_USER = process.env["DUMMYNET_STATE_DIR"] === undefined && !isRoot();
const STATE_DIRECTORY = process.env["DUMMYNET_STATE_DIR"] ?? (PER_USER ? rootlessRecordDirectory() : "/run/dummynet");
const OWNERS_DIRECTORY = join(STATE_DIRECTORY, "owners");

/** Why the records cannot be written, once found out (the message of recordNetwork's error). */
let unwritable: string | undefined;

/** Makes the state directory (for `up --detach`'s logs too): private to the user when it is the user's own. */
export function ensureStateDirectory(): string {
  if (PER_USER) return ensurePrivateDirectory(STATE_DIRECTORY);
  mkdirSync(STATE_DIRECTORY, { recursive: true, mode: 0o755 });
  return STATE_DIRECTORY;
}

/**
 * Uids handed to the second and later instances of a process: above any pid
 * (Linux caps pid_max at 2^22), below 58^4 (so the name prefix stays
 * "d-" + 4 base58 digits + "-"). A uid here is never mistaken for a live pid,
 * by this library or the Python one.
 */
export const RESERVED_UID_RANGE = {
  /** The first reserved uid, 2^22. */
  first: 2 ** 22,
  /** The last, 58^4 - 1. */
  last: 58 ** 4 - 1,
} as const;

export interface OwnerRecord {
  uid: number;
  pid: number;
  /** Start time of `pid` in clock ticks since boot (field 22 of /proc/<pid>/stat). */
  startTime: number;
  /** The owner's command line, for `dummynet ls`. */
  command: string;
  createdAt: string;
  /** Worker thread of the holder (0: the main thread). */
  threadId?: number;
  /** Identifies the module instance (one per thread or VM context) that holds it. */
  holder?: string;
  /** What the owner built, when it is `dummynet up` (or `run`): how the other commands find its network. */
  network?: NetworkRecord;
  /**
   * A failed test's network kept on purpose (DUMMYNET_KEEP=on-failure): it counts as alive whatever
   * its pid does, so the reaper leaves it and nobody else takes its uid, until `dummynet down` removes it.
   */
  kept?: { test: string; at: string; evidence?: string };
}

/**
 * The network of a `dummynet up` (or `run`), in its owner record, so that
 * `exec`, `impair`, `probe`, `inspect`, `down` and `ls` of another terminal
 * find it by name, file or uid, and its hosts and interfaces by their names
 * in the file.
 */
export interface NetworkRecord {
  /** The network's name (the file's `name`, or its base name). */
  name: string;
  /** Absolute path of the topology file. */
  file: string;
  /** Host name -> scoped namespace name. */
  hosts: Record<string, string>;
  /** "host:iface" -> scoped interface name. */
  interfaces: Record<string, string>;
  /** "host:iface" -> what it connects to, as the topology file says (the other end, a VLAN's parent, a bridge's members). */
  peers?: Record<string, string>;
  /** The daemons it started, once they are ready (`inspect` tells running from exited by pid and start time). */
  programs?: ProgramRecord[];
  /** Where the output of a background (`up --detach`) owner goes. */
  log?: string;
  /** A rootless network's holder (rootless/holder.ts): the other commands enter its namespaces, where the network lives. */
  rootlessHolder?: HolderRef;
  /** The socket where the owner takes `dummynet fault` commands (cli/fault-control.ts), so its faults go with it. */
  control?: string;
}

/** A daemon of a recorded network: its pid and that pid's start time (as OwnerRecord's), null when it never started. */
interface ProgramRecord {
  name: string;
  host: string;
  pid: number | null;
  startTime: number | null;
}

/** This module instance: instances made through it may share an explicit uid. */
const HOLDER = randomUUID();

/**
 * Uids this module instance holds, with how many DummyNet instances share each, whether they marked host
 * iptables rules (markHostRules) and whether a cleanup may have left some of them.
 */
const held = new Map<number, { shares: number; recorded: boolean; markedRules?: boolean; rulesMayRemain?: boolean }>();

export function ownerRecordPath(uid: number): string {
  return join(OWNERS_DIRECTORY, `${uid}.json`);
}

/** Where the owner of `uid` takes `dummynet fault` commands, beside its record (the reaper removes both). */
export function controlSocketPath(uid: number): string {
  return join(OWNERS_DIRECTORY, `${uid}.sock`);
}

function newRecord(uid: number): OwnerRecord {
  return {
    uid,
    pid: process.pid,
    startTime: processStartTime(process.pid) ?? 0,
    command: process.argv.join(" ").slice(0, 500),
    createdAt: new Date().toISOString(),
    threadId,
    holder: HOLDER,
  };
}

let temporaryCounter = 0;
let directoryReady = false;

type CreateOutcome = "created" | "exists" | "unwritable";

/** Creates the record of `uid` atomically, complete or not at all. */
function createRecord(uid: number): CreateOutcome {
  try {
    if (!directoryReady) {
      if (PER_USER) {
        try {
          ensurePrivateDirectory(STATE_DIRECTORY);
        } catch (error) {
          // Someone else's directory, or open to others: no records there (the library works on; `up` says why).
          unwritable = (error as Error).message;
          return "unwritable";
        }
      }
      mkdirSync(OWNERS_DIRECTORY, { recursive: true, ...(PER_USER ? { mode: 0o700 } : {}) });
      // Sticky and world-writable, like /tmp: callers that are not root can hold uids too, and remove only their own.
      if (isRoot()) chmodSync(OWNERS_DIRECTORY, 0o1777);
      directoryReady = true;
    }
    const temporary = join(OWNERS_DIRECTORY, `.${uid}.${HOLDER}.${temporaryCounter++}.tmp`);
    writeFileSync(temporary, JSON.stringify(newRecord(uid)) + "\n");
    try {
      linkSync(temporary, ownerRecordPath(uid));
      return "created";
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "EEXIST") return "exists";
      throw error;
    } finally {
      unlinkSync(temporary);
    }
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "EACCES" || code === "EPERM" || code === "EROFS" || code === "ENOENT") {
      unwritable = (error as Error).message;
      return "unwritable";
    }
    throw error;
  }
}

/** The record of `uid` as the file holds it (text and parsed), or undefined when there is none. */
function readRecord(uid: number): { text: string; record: OwnerRecord | undefined } | undefined {
  let text: string;
  try {
    text = readFileSync(ownerRecordPath(uid), "utf8");
  } catch {
    return undefined;
  }
  try {
    return { text, record: JSON.parse(text) as OwnerRecord };
  } catch {
    // Written by an older version without the atomic link: not finished yet, or from a process killed mid-write.
    return { text, record: undefined };
  }
}

/**
 * Removes a record whose owner is dead, unless it changed meanwhile: the file
 * is renamed away (atomic: one remover gets it) and put back if it turns out
 * to be another one.
 */
function removeStaleRecord(uid: number, staleText: string): void {
  const path = ownerRecordPath(uid);
  const tombstone = join(OWNERS_DIRECTORY, `.${uid}.${HOLDER}.${temporaryCounter++}.stale`);
  try {
    renameSync(path, tombstone);
  } catch {
    return; // someone else removed it first
  }
  try {
    if (readFileSync(tombstone, "utf8") !== staleText) linkSync(tombstone, path);
  } catch {
    // Put back failed: a new record is in place already.
  } finally {
    try {
      unlinkSync(tombstone);
    } catch {
      // Gone already.
    }
  }
}

function isOurs(record: OwnerRecord | undefined): boolean {
  return record?.pid === process.pid && record.holder === HOLDER;
}

/** Who holds `uid` now, described for an error message. */
export function describeHolder(record: OwnerRecord | undefined): string {
  if (!record) return "an owner whose record cannot be read";
  const thread =
    record.pid === process.pid
      ? record.threadId === threadId
        ? " (this thread, another module instance)"
        : ` (this process, worker thread ${record.threadId ?? "?"})`
      : "";
  return `pid ${record.pid}${thread}, \`${record.command.slice(0, 80)}\`, since ${record.createdAt}`;
}

export type ClaimResult = { claimed: true } | { claimed: false; holder: OwnerRecord | undefined };

/**
 * Takes `uid` for a DummyNet instance of this module instance. `share`: an
 * explicit uid, which instances of this module instance may share (a second
 * network on the same namespaces, as the reference allows); otherwise it must
 * be free. A record whose owner is dead is replaced.
 */
export function claimUid(uid: number, options: { share: boolean }): ClaimResult {
  const mine = held.get(uid);
  if (mine) {
    if (!options.share) return { claimed: false, holder: newRecord(uid) };
    mine.shares += 1;
    return { claimed: true };
  }
  for (let attempt = 0; attempt < 3; attempt++) {
    const outcome = createRecord(uid);
    if (outcome === "created" || outcome === "unwritable") {
      held.set(uid, { shares: 1, recorded: outcome === "created" });
      return { claimed: true };
    }
    const existing = readRecord(uid);
    if (!existing) continue; // released meanwhile: try again
    if (existing.record && ownerState(uid, existing.record) === "dead") {
      removeStaleRecord(uid, existing.text);
      continue;
    }
    return { claimed: false, holder: existing.record };
  }
  return { claimed: false, holder: readRecord(uid)?.record };
}

/** The uid of a new DummyNet without an explicit one: the process id if no live owner holds it, else a free reserved uid. */
export function claimDefaultUid(): number {
  if (claimUid(process.pid, { share: false }).claimed) return process.pid;
  return claimReservedUid();
}

/** A free uid from RESERVED_UID_RANGE, claimed. Records of dead owners there are left to the reaper. */
export function claimReservedUid(): number {
  const { first, last } = RESERVED_UID_RANGE;
  for (let attempt = 0; attempt < 1000; attempt++) {
    const uid = randomInt(first, last + 1);
    if (held.has(uid)) continue;
    const outcome = createRecord(uid);
    if (outcome === "exists") continue;
    held.set(uid, { shares: 1, recorded: outcome === "created" });
    return uid;
  }
  throw new Error(
    `no free uid in ${first}..${last} after 1000 attempts: is ${OWNERS_DIRECTORY} full of records? \`dummynet cleanup\` removes those of dead owners`,
  );
}

/**
 * Gives up one share of `uid`; the last one removes its record, and its rules mark unless a cleanup of one of
 * the shares may have left a rule (`rulesMayRemain`: it failed after making one).
 */
export function releaseUid(uid: number, rulesMayRemain = false): void {
  const mine = held.get(uid);
  if (!mine) return;
  if (rulesMayRemain) mine.rulesMayRemain = true;
  mine.shares -= 1;
  if (mine.shares > 0) return;
  held.delete(uid);
  if (mine.recorded) removeOwnRecord(uid);
  if (mine.markedRules && !mine.rulesMayRemain) forgetRulesMark(uid);
}

/**
 * Where the owner of `uid` notes that it makes iptables rules in the host namespace, which outlive its
 * namespaces: the reaping at a network's start lists iptables only when an owner that is gone left this mark.
 * It holds the owner's record (its pid and start time), since the record goes with the uid and the mark stays
 * until the rules are gone.
 */
export function rulesMarkPath(uid: number): string {
  return join(OWNERS_DIRECTORY, `${uid}.rules`);
}

/**
 * Marks `uid` as an owner of host iptables rules: before its first such rule, so no rule exists unmarked. A mark
 * that cannot be written goes with a record that could not be written either, and the reaper lists iptables
 * for a gone owner without a record.
 */
export function markHostRules(uid: number): void {
  const mine = held.get(uid);
  if (mine?.markedRules) return;
  try {
    writeFileSync(rulesMarkPath(uid), JSON.stringify(newRecord(uid)) + "\n");
    if (mine) mine.markedRules = true;
  } catch {
    // No state directory: see above.
  }
}

/** The owners that marked host iptables rules, with the record each mark holds. */
export function rulesMarks(): Map<number, OwnerRecord> {
  const marks = new Map<number, OwnerRecord>();
  let entries: string[];
  try {
    entries = readdirSync(OWNERS_DIRECTORY);
  } catch {
    return marks;
  }
  for (const entry of entries) {
    const uid = /^(\d+)\.rules$/.exec(entry)?.[1];
    if (uid === undefined) continue;
    try {
      marks.set(Number(uid), JSON.parse(readFileSync(join(OWNERS_DIRECTORY, entry), "utf8")) as OwnerRecord);
    } catch {
      // Removed meanwhile, or cut short by a crash while written: an owner that is gone.
      marks.set(Number(uid), { uid: Number(uid), pid: 0, startTime: 0, command: "", createdAt: "" });
    }
  }
  return marks;
}

/** Removes the rules mark of `uid`: its host rules are gone. */
export function forgetRulesMark(uid: number): void {
  try {
    unlinkSync(rulesMarkPath(uid));
  } catch {
    // Gone already.
  }
}

/**
 * Adds `network` to the record of `uid`, which this module instance holds
 * (replacing an earlier one), and returns the record's path. The new record
 * is renamed into place whole: a reader never sees half of one.
 */
export function recordNetwork(uid: number, network: NetworkRecord): string {
  const current = held.get(uid)?.recorded ? readRecord(uid)?.record : undefined;
  if (!current || !isOurs(current)) {
    throw new Error(
      `cannot record network ${network.name}: this process holds no record of uid ${uid} in ${OWNERS_DIRECTORY} (is it writable?${unwritable ? ` ${unwritable}` : ""})`,
    );
  }
  const temporary = join(OWNERS_DIRECTORY, `.${uid}.${HOLDER}.${temporaryCounter++}.tmp`);
  writeFileSync(temporary, JSON.stringify({ ...current, network }) + "\n");
  try {
    renameSync(temporary, ownerRecordPath(uid));
  } catch (error) {
    unlinkSync(temporary);
    throw error;
  }
  return ownerRecordPath(uid);
}

/**
 * Keeps the network of `uid` past this process: its record gets `network`
 * and `kept`, and this module instance lets go of it without removing the
 * file (neither releaseUid nor the exit handler touch it afterwards).
 */
export function keepOwner(uid: number, network: NetworkRecord, kept: NonNullable<OwnerRecord["kept"]>): string {
  const current = held.get(uid)?.recorded ? readRecord(uid)?.record : undefined;
  if (!current || !isOurs(current)) {
    throw new Error(
      `cannot keep the network of uid ${uid}: this process holds no record of it in ${OWNERS_DIRECTORY} (is it writable?${unwritable ? ` ${unwritable}` : ""})`,
    );
  }
  const temporary = join(OWNERS_DIRECTORY, `.${uid}.${HOLDER}.${temporaryCounter++}.tmp`);
  writeFileSync(temporary, JSON.stringify({ ...current, network, kept }) + "\n");
  renameSync(temporary, ownerRecordPath(uid));
  held.delete(uid);
  return ownerRecordPath(uid);
}

function removeOwnRecord(uid: number): void {
  if (!isOurs(readRecord(uid)?.record)) return;
  try {
    unlinkSync(ownerRecordPath(uid));
  } catch {
    // Gone already.
  }
}

// Records of a thread or process that ends are no longer held: remove them (objects left behind are judged by the pid rule then).
process.on("exit", () => {
  for (const [uid, mine] of held) if (mine.recorded) removeOwnRecord(uid);
  held.clear();
});

/** Removes the record of a reaped owner; with `expected`, only if it is still that record (not a new owner's). */
export function forgetOwner(uid: number, expected?: OwnerRecord): Promise<void> {
  const current = readRecord(uid);
  if (!current) return Promise.resolve();
  if (
    expected &&
    (current.record?.pid !== expected.pid ||
      current.record.startTime !== expected.startTime ||
      current.record.holder !== expected.holder)
  )
    return Promise.resolve();
  for (const path of [ownerRecordPath(uid), controlSocketPath(uid)]) {
    try {
      unlinkSync(path);
    } catch {
      // Gone already (or never made: most owners take no fault commands).
    }
  }
  return Promise.resolve();
}

export async function readOwnerRecords(): Promise<Map<number, OwnerRecord>> {
  const records = new Map<number, OwnerRecord>();
  let entries: string[];
  try {
    entries = await readdir(OWNERS_DIRECTORY);
  } catch {
    return records;
  }
  for (const entry of entries) {
    if (!/^\d+\.json$/.test(entry)) continue;
    try {
      const record = JSON.parse(await readFile(join(OWNERS_DIRECTORY, entry), "utf8")) as OwnerRecord;
      if (Number.isInteger(record.uid) && Number.isInteger(record.pid)) records.set(record.uid, record);
    } catch {
      // A record half-written by an older version, killed mid-write: treat as absent.
    }
  }
  return records;
}

/** Whether an owner's process still runs (its pid with the recorded start time). */
export type OwnerState = "alive" | "dead";

/**
 * Whether the owner of `uid` is still running. With a record: its pid runs
 * and has the recorded start time (a uid held by a worker thread counts as
 * alive while its process runs). Without one (objects of the Python
 * reference, or of a run that could not write /run/dummynet): the default uid
 * is the owner's pid, so the owner counts as alive while a process with that
 * pid exists. A reserved uid (above any pid) without a record is dead.
 */
export function ownerState(uid: number, record: OwnerRecord | undefined): OwnerState {
  if (record?.kept) return "alive";
  if (record) {
    const start = processStartTime(record.pid);
    return start !== undefined && (record.startTime === 0 || start === record.startTime) ? "alive" : "dead";
  }
  return processStartTime(uid) !== undefined ? "alive" : "dead";
}
