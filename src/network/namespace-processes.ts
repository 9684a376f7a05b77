/**
 * Which processes live in a network namespace. As root this reads /proc
 * directly (one scan, no process spawned); otherwise it asks `ip netns pids`
 * through the shell, which runs it with sudo.
 */
import { readdir, readlink, stat } from "node:fs/promises";
import type { Shell } from "../shell/shell.js";

const isRoot = process.getuid?.() === 0;

export async function namespaceProcesses(shell: Shell, scopedNamespace: string): Promise<number[]> {
  if (!isRoot) {
    const result = await shell.system(["ip", "netns", "pids", scopedNamespace]);
    return result.stdout.split("\n").filter(Boolean).map(Number);
  }
  const inode = (await stat(`/run/netns/${scopedNamespace}`)).ino;
  const wanted = `net:[${inode}]`;
  const pids: number[] = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if ((await readlink(`/proc/${entry}/ns/net`)) === wanted) pids.push(Number(entry));
    } catch {
      // The process ended while we looked, or is a kernel thread without a namespace link.
    }
  }
  return pids;
}

/** Sends SIGKILL to `pid`; a process that is already gone is not an error. */
export async function killProcess(shell: Shell, pid: number): Promise<void> {
  if (!isRoot) {
    await shell.system(["kill", "-9", String(pid)], { allowFailure: true });
    return;
  }
  try {
    process.kill(pid, "SIGKILL");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ESRCH") throw error;
  }
}
