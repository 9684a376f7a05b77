/**
 * What the machine holds of every owner (d-<uid>-* namespaces, links,
 * cgroups, iptables rules), whether each owner is alive, and the removal of
 * a dead owner's objects. A live owner's objects are never touched unless
 * the caller names it.
 */
import { readdir, readFile, rmdir } from "node:fs/promises";
import { existsSync } from "node:fs";
import { detectCgroupLayout } from "../cgroups/layout.js";
import { parseScoped } from "../names/scoped.js";
import { SpawnRunner } from "../system/spawn-runner.js";
import { listStates, ownerAlive, processStartTime, removeState, type NetworkState } from "./state.js";

const isRoot = process.getuid?.() === 0;
const runner = new SpawnRunner({ sudo: !isRoot });

export type OwnerStatus = "alive" | "dead" | "unknown";

export interface OwnerObjects {
  uid: number;
  /** alive: the recorded process runs (same start time); dead: it does not; unknown: no record, but a process with that pid runs. */
  status: OwnerStatus;
  /** The network `dummynet up` recorded for this owner, if any. */
  network?: NetworkState;
  namespaces: string[];
  links: string[];
  cgroups: string[];
  /** "table: rule" as `iptables -S` prints it. */
  iptables: { table: string; rule: string }[];
}

function ownerOf(name: string): number | undefined {
  return parseScoped(name)?.uid;
}

/** Every owner with objects or a record on this machine, by uid. */
export async function survey(): Promise<OwnerObjects[]> {
  const owners = new Map<number, OwnerObjects>();
  const owner = (uid: number): OwnerObjects => {
    let entry = owners.get(uid);
    if (!entry) {
      entry = { uid, status: "unknown", namespaces: [], links: [], cgroups: [], iptables: [] };
      owners.set(uid, entry);
    }
    return entry;
  };
  for (const state of listStates()) owner(state.uid).network = state;

  const netns = await runner.run(["ip", "-j", "netns", "list"], { allowFailure: true });
  for (const { name } of parseJson<{ name: string }>(netns.stdout)) {
    const uid = ownerOf(name);
    if (uid !== undefined) owner(uid).namespaces.push(name);
  }
  const links = await runner.run(["ip", "-j", "link", "show"], { allowFailure: true });
  for (const { ifname } of parseJson<{ ifname: string }>(links.stdout)) {
    const uid = ownerOf(ifname);
    if (uid !== undefined) owner(uid).links.push(ifname);
  }
  for (const dir of await cgroupParents()) {
    for (const entry of await readdir(dir).catch(() => [] as string[])) {
      const uid = ownerOf(entry);
      if (uid !== undefined && existsSync(`${dir}/${entry}/cgroup.procs`)) owner(uid).cgroups.push(`${dir}/${entry}`);
    }
  }
  for (const table of ["filter", "nat"]) {
    const rules = await runner.run(["iptables", "-w", "-t", table, "-S"], { allowFailure: true });
    for (const rule of rules.stdout.split("\n")) {
      const match = /\bd-([1-9A-HJ-NP-Za-km-z]+)-\S*/.exec(rule);
      const uid = match ? ownerOf(match[0]) : undefined;
      if (uid !== undefined && rule.startsWith("-A ")) owner(uid).iptables.push({ table, rule });
    }
  }
  for (const entry of owners.values()) entry.status = statusOf(entry);
  return [...owners.values()].sort((a, b) => a.uid - b.uid);
}

function statusOf(entry: OwnerObjects): OwnerStatus {
  if (entry.network) return ownerAlive(entry.network) ? "alive" : "dead";
  // Without a record the uid is, by default, the owner's pid: a running pid may be the owner.
  return processStartTime(entry.uid) !== undefined ? "unknown" : "dead";
}

async function cgroupParents(): Promise<string[]> {
  try {
    const layout = await detectCgroupLayout();
    return layout.version === 2 ? [layout.parent] : Object.values(layout.hierarchies);
  } catch {
    return [];
  }
}

function parseJson<T>(text: string): T[] {
  try {
    return text.trim() ? (JSON.parse(text) as T[]) : [];
  } catch {
    return [];
  }
}

/** Removes every object of one owner: processes and namespaces, links, cgroups, iptables rules, its record. */
export async function reapOwner(entry: OwnerObjects): Promise<string[]> {
  const removed: string[] = [];
  const problems: string[] = [];
  const attempt = async (what: string, argv: string[]) => {
    const result = await runner.run(argv, { allowFailure: true });
    if (result.exitCode === 0) removed.push(what);
    else if (!/Cannot find|No such|does not exist|Bad rule/i.test(result.stderr)) problems.push(`${what}: ${result.stderr.trim()}`);
  };
  for (const ns of entry.namespaces) {
    // Processes first: a namespace with processes in it lives on after `ip netns delete`.
    const pids = await runner.run(["ip", "netns", "pids", ns], { allowFailure: true });
    for (const pid of pids.stdout.split("\n").filter(Boolean)) await runner.run(["kill", "-KILL", pid], { allowFailure: true });
    await attempt(`namespace ${ns}`, ["ip", "netns", "delete", ns]);
  }
  for (const link of entry.links) await attempt(`link ${link}`, ["ip", "link", "delete", "dev", link]);
  for (const { table, rule } of entry.iptables) {
    const argv = splitRule(rule);
    argv[0] = "-D";
    await attempt(`iptables ${table} ${rule}`, ["iptables", "-w", "-t", table, ...argv]);
  }
  for (const dir of entry.cgroups) {
    try {
      await removeCgroup(dir);
      removed.push(`cgroup ${dir}`);
    } catch (error) {
      problems.push(`cgroup ${dir}: ${(error as Error).message}`);
    }
  }
  if (entry.network) removeState(entry.uid);
  if (problems.length > 0) throw new Error(`could not remove everything of uid ${entry.uid}:\n  ${problems.join("\n  ")}`);
  return removed;
}

/** `iptables -S` output back into arguments (the comment may be quoted). */
export function splitRule(rule: string): string[] {
  const args: string[] = [];
  for (const match of rule.matchAll(/"((?:[^"\\]|\\.)*)"|(\S+)/g)) args.push(match[1] !== undefined ? match[1].replace(/\\(.)/g, "$1") : match[2]!);
  return args;
}

async function removeCgroup(dir: string): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    if (entry.isDirectory()) await removeCgroup(`${dir}/${entry.name}`);
  }
  for (let round = 0; round < 100; round++) {
    const pids = (await readFile(`${dir}/cgroup.procs`, "utf8").catch(() => "")).split("\n").filter(Boolean).map(Number);
    if (pids.length === 0) break;
    for (const pid of pids) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // Gone already.
      }
    }
    // Killed processes leave the cgroup when they are reaped; no event tells us on v1.
    await new Promise((done) => setTimeout(done, 10));
  }
  await rmdir(dir).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== "ENOENT") throw error;
  });
}
