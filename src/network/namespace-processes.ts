/**
 * Which processes live in a network namespace. As root this reads /proc
 * directly (one scan, no process spawned); otherwise it asks `ip netns pids`
 * through the shell, which runs it with sudo.
 */
import { readFile, readdir, readlink, stat } from "node:fs/promises";
import type { Shell } from "../shell/shell.js";
import { systemPath } from "../system/privilege.js";
import { netnsPath } from "../system/proc.js";

export async function namespaceProcesses(shell: Shell, scopedNamespace: string): Promise<number[]> {
  return (await processesByNamespace(shell, [scopedNamespace])).get(scopedNamespace) ?? [];
}

/** The processes of several namespaces at once: one pass over /proc however many namespaces. */
export async function processesByNamespace(shell: Shell, scopedNamespaces: readonly string[]): Promise<Map<string, number[]>> {
  const found = new Map<string, number[]>(scopedNamespaces.map((name) => [name, []]));
  // The shell's own workers (and, under sudo, their children) live in namespaces too: they are not the user's.
  const helpers = new Set(shell.helperPids?.() ?? []);
  const isHelper = async (pid: number) => helpers.has(pid) || helpers.has(await parentPid(pid));
  // Other users' /proc/<pid>/ns is readable only when commands run as they are (root, or rootless: our own processes).
  if (!shell.privilege.direct) {
    for (const name of scopedNamespaces) {
      const result = await shell.system(["ip", "netns", "pids", name], { allowFailure: true });
      const pids = result.stdout.split("\n").filter(Boolean).map(Number);
      const own = await Promise.all(pids.map(isHelper));
      found.set(name, pids.filter((_, i) => !own[i]));
    }
    return found;
  }
  const byLink = new Map<string, string>();
  for (const name of scopedNamespaces) {
    try {
      byLink.set(`net:[${(await stat(systemPath(shell.privilege, netnsPath(name)))).ino}]`, name);
    } catch {
      // Deleted already: no processes to find.
    }
  }
  if (byLink.size === 0) return found;
  const entries = (await readdir("/proc")).filter((entry) => /^\d+$/.test(entry));
  await Promise.all(
    entries.map(async (entry) => {
      try {
        const name = byLink.get(await readlink(`/proc/${entry}/ns/net`));
        if (name !== undefined && !(await isHelper(Number(entry)))) found.get(name)!.push(Number(entry));
      } catch {
        // The process ended while we looked, or is a kernel thread without a namespace link.
      }
    }),
  );
  return found;
}

async function parentPid(pid: number): Promise<number> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  } catch {
    return 0;
  }
}

/** Sends SIGKILL to `pid`; a process that is already gone is not an error. */
export async function killProcess(shell: Shell, pid: number): Promise<void> {
  // Other users' /proc/<pid>/ns is readable only when commands run as they are (root, or rootless: our own processes).
  if (!shell.privilege.direct) {
    await shell.system(["kill", "-9", String(pid)], { allowFailure: true });
    return;
  }
  try {
    process.kill(pid, "SIGKILL");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ESRCH") throw error;
  }
}
