/**
 * The record of a running network: `dummynet up` writes one small JSON file
 * under /run/dummynet/ so that `exec`, `impair`, `down` and `ls` can find it,
 * and `cleanup` can tell a live owner from a dead one. The owner's process
 * start time (from /proc) is kept next to its pid, so a reused pid is never
 * mistaken for the owner.
 */
import { processStartTime as ownerProcessStartTime } from "../lifecycle/owners.js";
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { UsageError } from "./command-io.js";

/** Where the records live; DUMMYNET_STATE_DIR overrides it (tests, unprivileged use). */
export function stateDir(): string {
  return process.env["DUMMYNET_STATE_DIR"] ?? "/run/dummynet";
}

export interface NetworkState {
  version: 1;
  /** The network's name (the file's `name`, or its base name). */
  name: string;
  /** Absolute path of the topology file. */
  file: string;
  /** The owner uid carried in every object's name (d-<uid>-...). */
  uid: number;
  /** Process that holds the network up. */
  pid: number;
  /** That process's start time, field 22 of /proc/<pid>/stat (clock ticks since boot). */
  startTime: string;
  /** Host name -> scoped namespace name. */
  hosts: Record<string, string>;
  /** "host:iface" -> scoped interface name. */
  interfaces: Record<string, string>;
  /** "host:iface" -> what it connects to, as the topology file says (the other end, a VLAN's parent, a bridge's members). */
  peers?: Record<string, string>;
  /** The daemons `up` started, once they are ready (`inspect` tells running from exited by pid and start time). */
  programs?: ProgramState[];
  /** Where the output of a background (`up --detach`) owner goes. */
  log?: string;
  createdAt: string;
}

export interface ProgramState {
  name: string;
  host: string;
  pid: number | null;
  startTime: string | null;
}

export function statePath(uid: number): string {
  return `${stateDir()}/${uid}.json`;
}

/** Start time of a process as the state file records it (see lifecycle/owners), or undefined when it does not exist. */
export function processStartTime(pid: number): string | undefined {
  const ticks = ownerProcessStartTime(pid);
  return ticks === undefined ? undefined : String(ticks);
}

/** True when the recorded owner process still runs (same pid AND same start time). */
export function ownerAlive(state: Pick<NetworkState, "pid" | "startTime">): boolean {
  return processStartTime(state.pid) === state.startTime;
}

export function writeState(state: NetworkState): string {
  mkdirSync(stateDir(), { recursive: true, mode: 0o755 });
  const path = statePath(state.uid);
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, JSON.stringify(state, null, 2) + "\n", { mode: 0o644 });
  renameSync(temporary, path); // readers never see half a file
  return path;
}

export function removeState(uid: number): void {
  rmSync(statePath(uid), { force: true });
}

/** Every readable record, oldest first. Unreadable files are skipped. */
export function listStates(): NetworkState[] {
  let entries: string[];
  try {
    entries = readdirSync(stateDir());
  } catch {
    return [];
  }
  const states: NetworkState[] = [];
  for (const entry of entries) {
    if (!/^[0-9]+\.json$/.test(entry)) continue;
    try {
      const state = JSON.parse(readFileSync(`${stateDir()}/${entry}`, "utf8")) as NetworkState;
      if (state.version === 1 && Number.isInteger(state.uid) && Number.isInteger(state.pid)) states.push(state);
    } catch {
      // A record being written or a foreign file: not ours to read.
    }
  }
  return states.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
}

/**
 * Finds the network a command means: by name, by topology file, or by uid;
 * without a selector, the only running one. Throws a UsageError otherwise.
 */
export function findNetwork(selector: string | undefined, options: { liveOnly?: boolean } = {}): NetworkState {
  const all = listStates().filter((state) => !options.liveOnly || ownerAlive(state));
  if (selector === undefined) {
    if (all.length === 1) return all[0]!;
    if (all.length === 0) throw new UsageError("no network is up; start one with `dummynet up FILE`");
    throw new UsageError(`${all.length} networks are up (${all.map(describeState).join(", ")}); say which with --network NAME`);
  }
  const asFile = resolve(selector);
  const matches = all.filter((state) => state.name === selector || state.file === asFile || String(state.uid) === selector);
  if (matches.length === 1) return matches[0]!;
  if (matches.length === 0) {
    throw new UsageError(`no network named "${selector}" is up; running: ${all.map(describeState).join(", ") || "none"}`);
  }
  throw new UsageError(`${matches.length} networks match "${selector}" (${matches.map(describeState).join(", ")}); give the uid instead`);
}

/** The namespace of `host` in the network, or a UsageError naming the hosts it has. */
export function hostOf(state: NetworkState, host: string): string {
  const namespace = state.hosts[host];
  if (!namespace) throw new UsageError(`no host "${host}" in network ${state.name}; hosts: ${Object.keys(state.hosts).join(", ")}`);
  return namespace;
}

export function describeState(state: NetworkState): string {
  return `${state.name} (uid ${state.uid}, pid ${state.pid})`;
}
