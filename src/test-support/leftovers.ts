/**
 * Test support: what the system still holds of one owner (uid). Tests call
 * `assertNothingLeft(uid)` at their end: no namespace, link, cgroup, iptables
 * rule or IFB device named d-<uid>-* may remain.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import assert from "node:assert/strict";
import { intToBase58 } from "../names/base58.js";

export function ownerPrefix(uid: number): string {
  return `d-${intToBase58(uid)}-`;
}

function lines(argv: string[]): string[] {
  try {
    return execFileSync(argv[0]!, argv.slice(1), { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).split("\n");
  } catch {
    return [];
  }
}

/** Every object on this machine whose name carries `uid`, as "kind name" strings. */
export function leftovers(uid: number): string[] {
  const prefix = ownerPrefix(uid);
  const found: string[] = [];
  for (const line of lines(["ip", "netns", "list"])) {
    const name = line.split(" ")[0];
    if (name?.startsWith(prefix)) found.push(`netns ${name}`);
  }
  for (const line of lines(["ip", "-o", "link", "show"])) {
    const name = line.split(": ")[1]?.split("@")[0];
    if (name?.startsWith(prefix)) found.push(`link ${name}`);
  }
  for (const root of ["/sys/fs/cgroup", ...cgroupV1Hierarchies()]) {
    if (!existsSync(root)) continue;
    for (const entry of safeReaddir(root)) if (entry.startsWith(prefix)) found.push(`cgroup ${root}/${entry}`);
  }
  for (const table of ["filter", "nat"]) {
    for (const line of lines(["iptables", "-t", table, "-S"])) if (line.includes(prefix)) found.push(`iptables ${table} ${line}`);
  }
  return found;
}

export function assertNothingLeft(uid: number): void {
  assert.deepEqual(leftovers(uid), [], `objects of uid ${uid} (${ownerPrefix(uid)}*) are left on the system`);
}

function cgroupV1Hierarchies(): string[] {
  return safeReaddir("/sys/fs/cgroup")
    .map((entry) => `/sys/fs/cgroup/${entry}`)
    .filter((dir) => existsSync(`${dir}/cgroup.procs`) && !existsSync(`${dir}/cgroup.controllers`) && dir !== "/sys/fs/cgroup");
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
