/**
 * Per-user records of running rootless networks, so that another process of
 * the same user (`dummynet exec`, `down` from another terminal) finds the
 * holder to enter. One JSON file per network name in a directory only the
 * user can read: $XDG_RUNTIME_DIR/dummynet, else /tmp/dummynet-<uid>. The
 * holder's start time is kept with its pid, so a reused pid is never taken
 * for it; a record whose holder has ended is stale and removed when read.
 */
import { lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DummyNetError, InvalidArgumentError } from "../errors.js";
import { processStartTime } from "../system/proc.js";
import { type HolderRef, holderAlive } from "./enter.js";
import { effectiveUid } from "../system/proc.js";

export interface RootlessRecord {
  version: 1;
  /** The network's name (the record's file name). */
  name: string;
  /** The holder to enter. */
  holder: HolderRef;
  /** The process that owns the holder (the holder ends with it). */
  owner: HolderRef;
  /** ISO time of writing. */
  createdAt: string;
}

const NAME = /^[A-Za-z0-9_.-]{1,100}$/;

/** The user's record directory: DUMMYNET_ROOTLESS_DIR, else $XDG_RUNTIME_DIR/dummynet, else /tmp/dummynet-<uid>. */
export function rootlessRecordDirectory(env: NodeJS.ProcessEnv = process.env): string {
  const explicit = env["DUMMYNET_ROOTLESS_DIR"];
  if (explicit) return explicit;
  const runtime = env["XDG_RUNTIME_DIR"];
  if (runtime && runtime.startsWith("/")) return join(runtime, "dummynet");
  return join(tmpdir(), `dummynet-${effectiveUid()}`);
}

/**
 * Creates the directory (mode 0700) or checks the existing one (the owner
 * records of a user who is not root live here too, lifecycle/owners.ts): it must be a
 * real directory (not a link) owned by this user and closed to others, since
 * in /tmp anybody could have made it first.
 */
export function ensurePrivateDirectory(directory: string): string {
  mkdirSync(directory, { recursive: true, mode: 0o700 });
  const stat = lstatSync(directory);
  const uid = effectiveUid();
  if (!stat.isDirectory() || stat.uid !== uid || (stat.mode & 0o077) !== 0) {
    throw new DummyNetError(
      `Refusing the rootless record directory ${directory}: it must be a directory owned by uid ${uid} with mode 0700, ` +
        `and it is ${stat.isDirectory() ? `a directory of uid ${stat.uid} with mode 0${(stat.mode & 0o777).toString(8)}` : "not a directory"}; ` +
        "remove it (if it is not yours, someone else made it first) or set DUMMYNET_ROOTLESS_DIR to a directory of your own",
    );
  }
  return directory;
}

function validateName(name: string): void {
  if (!NAME.test(name))
    throw new InvalidArgumentError(
      "name",
      name,
      "must be 1 to 100 letters, digits, '_', '.' or '-' (it names the record's file)",
    );
}

/** Records that `name`'s holder runs, owned by this process; returns the record's path. */
export function writeRootlessRecord(name: string, holder: HolderRef, directory = rootlessRecordDirectory()): string {
  validateName(name);
  const ownerStart = processStartTime(process.pid);
  if (ownerStart === undefined)
    throw new DummyNetError(`Cannot read this process's start time from /proc/${process.pid}/stat`);
  const record: RootlessRecord = {
    version: 1,
    name,
    holder: { pid: holder.pid, startTime: holder.startTime },
    owner: { pid: process.pid, startTime: ownerStart },
    createdAt: new Date().toISOString(),
  };
  const path = join(ensurePrivateDirectory(directory), `${name}.json`);
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(record)}\n`, { mode: 0o600 });
  renameSync(temporary, path);
  return path;
}

/** The record of `name` whose holder still runs; a stale record is removed and undefined returned. */
export function findRootlessRecord(name: string, directory = rootlessRecordDirectory()): RootlessRecord | undefined {
  validateName(name);
  const path = join(directory, `${name}.json`);
  let record: RootlessRecord;
  try {
    record = parseRecord(readFileSync(path, "utf8"), path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
  if (holderAlive(record.holder)) return record;
  rmSync(path, { force: true });
  return undefined;
}

/** Removes `name`'s record (when the network is taken down). */
export function removeRootlessRecord(name: string, directory = rootlessRecordDirectory()): void {
  validateName(name);
  rmSync(join(directory, `${name}.json`), { force: true });
}

/** Every record whose holder still runs (stale ones are removed). */
export function listRootlessRecords(directory = rootlessRecordDirectory()): RootlessRecord[] {
  let names: string[];
  try {
    names = readdirSync(directory);
  } catch {
    return [];
  }
  return names
    .filter((file) => file.endsWith(".json") && NAME.test(file.slice(0, -5)))
    .map((file) => findRootlessRecord(file.slice(0, -5), directory))
    .filter((record): record is RootlessRecord => record !== undefined);
}

function parseRecord(text: string, path: string): RootlessRecord {
  const value = JSON.parse(text) as Partial<RootlessRecord>;
  const ref = (r: unknown) =>
    typeof r === "object" &&
    r !== null &&
    Number.isSafeInteger((r as HolderRef).pid) &&
    Number.isSafeInteger((r as HolderRef).startTime);
  if (value.version !== 1 || typeof value.name !== "string" || !ref(value.holder) || !ref(value.owner)) {
    throw new DummyNetError(`${path} is not a rootless record of this version of dummynet: remove it`);
  }
  return value as RootlessRecord;
}
