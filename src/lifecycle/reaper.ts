/**
 * Finding and removing what dead owners left behind: namespaces (and the
 * processes inside), links in the host namespace (veth ends, bridges, IFB
 * devices), iptables rules tagged with the owner's prefix, and cgroups.
 * Never touches an object whose owner is alive, unless asked by uid.
 */
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { removeCgroupDirectories } from "../cgroups/cgroup.js";
import { detectCgroupLayout } from "../cgroups/layout.js";
import { defaultLogger, type Logger } from "../log.js";
import { parseScoped } from "../names/scoped.js";
import type { CommandRunner } from "../system/command-runner.js";
import { SpawnRunner } from "../system/spawn-runner.js";
import { parseIpJsonArray } from "../system/ip-json.js";
import { type OwnerRecord, type OwnerState, forgetOwner, ownerState, readOwnerRecords } from "./owners.js";

export type LeftoverKind = "netns" | "link" | "iptables" | "cgroup";

export interface Leftover {
  kind: LeftoverKind;
  /** The scoped name (a namespace, link or cgroup), or the iptables rule as `iptables -S` prints it. */
  name: string;
  /** Where: the iptables table, or the cgroup directory. */
  where?: string;
}

export interface Owner {
  uid: number;
  state: OwnerState;
  record: OwnerRecord | undefined;
  objects: Leftover[];
}

export interface ReapOptions {
  /** Also remove the objects of these uids, alive or not. */
  force?: readonly number[];
  /** Only look at these uids. @default every owner found */
  only?: readonly number[];
  runner?: CommandRunner;
  log?: Logger;
}

export interface ReapResult {
  /** Owners whose objects were removed. */
  reaped: Owner[];
  /** Owners left alone because they are alive. */
  spared: Owner[];
  /** Objects that could not be removed, with why. */
  failures: { object: Leftover; uid: number; error: string }[];
}

function defaultRunner(log: Logger): CommandRunner {
  return new SpawnRunner({ sudo: process.getuid?.() !== 0, log });
}

/** Every owner that has objects on this machine (or a record), with its objects and whether it is alive. */
export async function listOwners(options: { runner?: CommandRunner; log?: Logger } = {}): Promise<Owner[]> {
  const log = options.log ?? defaultLogger;
  const runner = options.runner ?? defaultRunner(log);
  const records = await readOwnerRecords();
  const owners = new Map<number, Owner>();
  const add = (uid: number, object?: Leftover) => {
    let owner = owners.get(uid);
    if (!owner) {
      const record = records.get(uid);
      owner = { uid, record, state: ownerState(uid, record), objects: [] };
      owners.set(uid, owner);
    }
    if (object) owner.objects.push(object);
  };

  const namespaces = await runner.run(["ip", "-j", "netns", "list"], { allowFailure: true });
  for (const entry of parseIpJsonArray<{ name: string }>(namespaces.stdout)) {
    const owner = parseScoped(entry.name);
    if (owner) add(owner.uid, { kind: "netns", name: entry.name });
  }
  const links = await runner.run(["ip", "-j", "link", "show"], { allowFailure: true });
  for (const entry of parseIpJsonArray<{ ifname: string }>(links.stdout)) {
    const owner = parseScoped(entry.ifname);
    if (owner) add(owner.uid, { kind: "link", name: entry.ifname });
  }
  for (const table of ["filter", "nat"]) {
    const rules = await runner.run(["iptables", "-w", "-t", table, "-S"], { allowFailure: true });
    for (const rule of rules.stdout.split("\n")) {
      const tag = /--comment "?(d-[1-9A-HJ-NP-Za-km-z]+-dummynet)"?/.exec(rule);
      const owner = tag && rule.startsWith("-A ") ? parseScoped(tag[1]!) : undefined;
      if (owner) add(owner.uid, { kind: "iptables", name: rule, where: table });
    }
  }
  for (const cgroup of await cgroupDirectories()) {
    const owner = parseScoped(cgroup.name);
    if (owner) add(owner.uid, { kind: "cgroup", name: cgroup.name, where: cgroup.path });
  }
  for (const uid of records.keys()) add(uid);
  return [...owners.values()].sort((a, b) => a.uid - b.uid);
}

/**
 * Removes the objects of owners that are gone (and of `force`d uids).
 * Processes in a dead owner's namespaces are killed first. Records of reaped
 * owners are deleted.
 */
export async function reapDeadOwners(options: ReapOptions = {}): Promise<ReapResult> {
  const log = options.log ?? defaultLogger;
  const runner = options.runner ?? defaultRunner(log);
  const force = new Set(options.force ?? []);
  const only = options.only ? new Set(options.only) : undefined;
  const result: ReapResult = { reaped: [], spared: [], failures: [] };
  for (const owner of await listOwners({ runner, log })) {
    if (only && !only.has(owner.uid)) continue;
    if (owner.state === "alive" && !force.has(owner.uid)) {
      result.spared.push(owner);
      continue;
    }
    log.info(`reaping ${owner.objects.length} objects of ${owner.state} owner ${owner.uid}`);
    // Namespaces first (they take their links with them), then host links, rules, cgroups.
    const order: LeftoverKind[] = ["netns", "link", "iptables", "cgroup"];
    for (const kind of order) {
      for (const object of owner.objects.filter((o) => o.kind === kind)) {
        try {
          await removeLeftover(object, runner);
        } catch (error) {
          const message = (error as Error).message;
          // A veth end goes with its peer's namespace: not a failure.
          if (object.kind === "link" && /Cannot find device|does not exist/.test(message)) continue;
          result.failures.push({ object, uid: owner.uid, error: message });
        }
      }
    }
    await forgetOwner(owner.uid);
    result.reaped.push(owner);
  }
  return result;
}

async function removeLeftover(object: Leftover, runner: CommandRunner): Promise<void> {
  switch (object.kind) {
    case "netns": {
      const pids = await runner.run(["ip", "netns", "pids", object.name], { allowFailure: true });
      for (const pid of pids.stdout.split("\n").filter(Boolean)) {
        await runner.run(["kill", "-KILL", pid], { allowFailure: true });
      }
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
      await removeCgroupDirectories([object.where!], object.name);
      return;
  }
}

async function cgroupDirectories(): Promise<{ name: string; path: string }[]> {
  let parents: string[];
  try {
    const layout = await detectCgroupLayout();
    parents = layout.version === 2 ? [layout.parent] : Object.values(layout.hierarchies);
  } catch {
    return [];
  }
  const found: { name: string; path: string }[] = [];
  for (const parent of parents) {
    let entries: string[] = [];
    try {
      entries = (await readdir(parent, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name);
    } catch {
      continue;
    }
    for (const name of entries) if (parseScoped(name)) found.push({ name, path: join(parent, name) });
  }
  return found;
}


