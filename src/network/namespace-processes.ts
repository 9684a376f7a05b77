/**
 * Which processes of a network namespace are the user's: the system module
 * lists them (a /proc scan when the shell's Privilege is `direct`, else
 * `ip netns pids` through the shell), and the shell's own workers and the
 * capture engines (tcpdump) are left out.
 */
import { captureEnginePids } from "../evidence/tcpdump.js";
import type { Shell } from "../shell/shell.js";
import { systemPath } from "../system/privilege.js";
import { isInNetns, processesInNetns, readStat } from "../system/proc.js";
import { killQuietly } from "../system/quiet.js";

export async function namespaceProcesses(shell: Shell, scopedNamespace: string): Promise<number[]> {
  return (await processesByNamespace(shell, [scopedNamespace])).get(scopedNamespace) ?? [];
}

/** The processes of several namespaces at once: one pass over /proc however many namespaces. */
export async function processesByNamespace(
  shell: Shell,
  scopedNamespaces: readonly string[],
): Promise<Map<string, number[]>> {
  const found = shell.privilege.direct
    ? await processesInNetns(scopedNamespaces, (path) => systemPath(shell.privilege, path))
    : await listThroughShell(shell, scopedNamespaces);
  // The shell's own workers (and, under sudo, their children) live in namespaces too: they are not the user's.
  const helpers = new Set([...(shell.helperPids?.() ?? []), ...captureEnginePids]);
  if (helpers.size === 0) return found;
  const isHelper = async (pid: number) => helpers.has(pid) || helpers.has((await readStat(pid))?.ppid ?? 0);
  for (const [name, pids] of found) {
    const own = await Promise.all(pids.map(isHelper));
    found.set(
      name,
      pids.filter((_, i) => !own[i]),
    );
  }
  return found;
}

/** `ip netns pids` per namespace, for a Privilege that may not read other users' /proc/<pid>/ns. */
async function listThroughShell(shell: Shell, scopedNamespaces: readonly string[]): Promise<Map<string, number[]>> {
  const found = new Map<string, number[]>();
  for (const name of scopedNamespaces) {
    const result = await shell.system(["ip", "netns", "pids", name], { allowFailure: true });
    found.set(name, result.stdout.split("\n").filter(Boolean).map(Number));
  }
  return found;
}

/** A process in each namespace whose /proc/<pid>/net shows that namespace, remembered while it lives there. */
const windows = new Map<string, number>();

/**
 * /proc/<pid>/net of a process in namespace `scopedNamespace` (its sockets, its ARP table, without a command), or
 * undefined when there is none this process may read. The shell's own workers there are tried first (no scan of
 * /proc); under sudo a worker is sudo, in the host's namespace, so each candidate is checked.
 */
export async function procNetOf(shell: Shell, scopedNamespace: string): Promise<string | undefined> {
  // Other users' /proc/<pid>/ns and /run/netns are read only where commands run as they are (root).
  if (!shell.privilege.direct) return undefined;
  const where = (path: string) => systemPath(shell.privilege, path); // rootless: the holder's private /run
  const remembered = windows.get(scopedNamespace);
  const helpers = shell.helperPids?.(scopedNamespace) ?? [];
  // A worker of the shell stays in its namespace while it runs: checked once, it is taken without a look.
  if (remembered !== undefined && helpers.includes(remembered)) return `/proc/${String(remembered)}/net`;
  for (const pid of [...(remembered === undefined ? [] : [remembered]), ...helpers]) {
    if (await isInNetns(pid, scopedNamespace, where)) {
      windows.set(scopedNamespace, pid);
      return `/proc/${String(pid)}/net`;
    }
  }
  windows.delete(scopedNamespace);
  const pid = (await processesInNetns([scopedNamespace], where)).get(scopedNamespace)?.at(0);
  if (pid === undefined) return undefined;
  windows.set(scopedNamespace, pid);
  return `/proc/${String(pid)}/net`;
}

/** Sends SIGKILL to `pid`; a process that is already gone is not an error. */
export function killProcess(shell: Shell, pid: number): Promise<void> {
  return killQuietly(shell.privilege, pid, (argv, options) => shell.system(argv, options));
}
