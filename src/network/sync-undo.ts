/**
 * Synchronous undos for the process.exit() path (UndoLog.replaySync), which
 * cannot await: hand-built argv run with runSyncQuietly, /proc read directly.
 *
 * TODO(system): this builds its own sudo prefix and reads /proc itself; the
 * system layer's synchronous runner and /proc readers replace it.
 */
import { readdirSync, readlinkSync, statSync } from "node:fs";
import type { NamespaceScoped } from "../names/scoped.js";
import { runSyncQuietly } from "../lifecycle/exit-cleanup.js";
import type { Shell } from "../shell/shell.js";

/** The synchronous undo of an object made in the host namespace: none for objects inside namespaces. */
// TODO(system): hand-built sudo prefix.
export function syncUndo(shell: Shell, namespace: NamespaceScoped, argv: string[]): (() => void) | undefined {
  if (!namespace.isRoot) return undefined;
  return () => runSyncQuietly(shell.sudo ? ["sudo", "-n", "--", ...argv] : argv);
}

/** Kills the processes of a namespace and deletes it, synchronously. */
// TODO(system): hand-built sudo prefix.
export function deleteNamespaceSync(shell: Shell, scopedNamespace: string): void {
  const sudo = shell.sudo ? ["sudo", "-n", "--"] : [];
  for (const pid of namespacePidsSync(scopedNamespace)) killSyncQuietly(pid, sudo);
  runSyncQuietly([...sudo, "ip", "netns", "delete", scopedNamespace]);
}

/** SIGKILL for the exit path: directly when root (no `kill` program needed), else through sudo. */
function killSyncQuietly(pid: string, sudo: readonly string[]): void {
  if (sudo.length > 0) {
    runSyncQuietly([...sudo, "kill", "-KILL", pid]);
    return;
  }
  try {
    process.kill(Number(pid), "SIGKILL");
  } catch {
    // Gone already.
  }
}

/** Pids in a namespace, read synchronously (for the exit path). */
// TODO(system): a synchronous twin of the /proc scan in namespace-processes.ts.
function namespacePidsSync(scopedNamespace: string): string[] {
  try {
    const wanted = `net:[${statSync(`/run/netns/${scopedNamespace}`).ino}]`;
    return readdirSync("/proc").filter((entry) => {
      if (!/^\d+$/.test(entry)) return false;
      try {
        return readlinkSync(`/proc/${entry}/ns/net`) === wanted;
      } catch {
        return false;
      }
    });
  } catch {
    return [];
  }
}
