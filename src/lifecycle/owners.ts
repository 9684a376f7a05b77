/**
 * Owners: every object carries its owner's uid in its name (d-<uid>-...).
 * To tell a dead owner from a live one, even after its pid was reused, each
 * running DummyNet records its uid, pid and the pid's start time (from
 * /proc/<pid>/stat) in /run/dummynet/owners/<uid>.json. /run is a tmpfs, so
 * records vanish with a reboot, as do the objects they describe.
 */
import { readFileSync } from "node:fs";
import { mkdir, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";

export const STATE_DIRECTORY = process.env["DUMMYNET_STATE_DIR"] ?? "/run/dummynet";
const OWNERS_DIRECTORY = join(STATE_DIRECTORY, "owners");

export interface OwnerRecord {
  uid: number;
  pid: number;
  /** Start time of `pid` in clock ticks since boot (field 22 of /proc/<pid>/stat). */
  startTime: number;
  /** The owner's command line, for `dummynet ls`. */
  command: string;
  createdAt: string;
}

/** Start time of a process in clock ticks since boot, or undefined if it is not running. */
export function processStartTime(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may contain spaces and parentheses: count from the last ")".
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(fields[19]);
  } catch {
    return undefined;
  }
}

export function ownerRecordPath(uid: number): string {
  return join(OWNERS_DIRECTORY, `${uid}.json`);
}

/** Records that this process owns `uid`. Best effort: without a writable /run the library still works. */
export async function recordOwner(uid: number): Promise<void> {
  const record: OwnerRecord = {
    uid,
    pid: process.pid,
    startTime: processStartTime(process.pid) ?? 0,
    command: process.argv.join(" ").slice(0, 500),
    createdAt: new Date().toISOString(),
  };
  try {
    await mkdir(OWNERS_DIRECTORY, { recursive: true, mode: 0o755 });
    await writeFile(ownerRecordPath(uid), JSON.stringify(record) + "\n");
  } catch {
    // Not root and no sudo-writable /run: reaping then falls back to the pid rule.
  }
}

export async function forgetOwner(uid: number): Promise<void> {
  await rm(ownerRecordPath(uid), { force: true }).catch(() => undefined);
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
      // A record half-written by a process killed mid-write: treat as absent.
    }
  }
  return records;
}

export type OwnerState = "alive" | "dead";

/**
 * Whether the owner of `uid` is still running. With a record: its pid runs
 * and has the recorded start time. Without one (objects of the Python
 * reference, or of a run that could not write /run/dummynet, i.e. without
 * root): the default uid is the owner's pid, so the owner counts as alive while
 * a process with that pid exists. That guess is right for default uids and
 * keeps objects whose pid was reused; for an explicit uid without a record it
 * can be wrong either way, which is why records are written whenever possible.
 */
export function ownerState(uid: number, record: OwnerRecord | undefined): OwnerState {
  if (record) {
    const start = processStartTime(record.pid);
    return start !== undefined && (record.startTime === 0 || start === record.startTime) ? "alive" : "dead";
  }
  return processStartTime(uid) !== undefined ? "alive" : "dead";
}
