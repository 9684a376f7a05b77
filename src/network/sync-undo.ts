/**
 * Synchronous undos for the process.exit() path (UndoLog.replaySync), which
 * cannot await: the system module's quiet synchronous runner, with the
 * shell's Privilege, and its synchronous /proc reader.
 */
import type { NamespaceScoped } from "../names/scoped.js";
import type { Shell } from "../shell/shell.js";
import { processesInNetnsSync } from "../system/proc.js";
import { killQuietlySync, runQuietlySync } from "../system/quiet.js";

/** The synchronous undo of an object made in the host namespace: none for objects inside namespaces. */
export function syncUndo(shell: Shell, namespace: NamespaceScoped, argv: readonly string[]): (() => void) | undefined {
  if (!namespace.isRoot) return undefined;
  return () => {
    runQuietlySync(shell.privilege, argv);
  };
}

/** Kills the processes of a namespace and deletes it, synchronously. */
export function deleteNamespaceSync(shell: Shell, scopedNamespace: string): void {
  for (const pid of processesInNetnsSync(scopedNamespace)) killQuietlySync(shell.privilege, pid);
  runQuietlySync(shell.privilege, ["ip", "netns", "delete", scopedNamespace]);
}
