/**
 * Who wants to know when a namespace of an owner (uid) is made or is about
 * to go: the test fixtures' evidence recorder, which captures every host from
 * its start and must let go of a namespace before it is deleted (a capture
 * inside would keep it alive). Keyed by uid, so a watcher can be set before
 * the network (or the topology) that will use the uid is built.
 */
import type { Privilege } from "../system/privilege.js";

/** What a watcher is told. */
export interface NamespaceWatcher {
  /** Namespace `scoped` was just made, reached through `privilege`. Must not throw; may start work it does not wait for. */
  added(scoped: string, privilege: Privilege): void;
  /** These namespaces are about to be deleted: resolves once nothing of the watcher's is left inside. */
  deleting(scoped: readonly string[]): Promise<void>;
}

const watchers = new Map<number, Set<NamespaceWatcher>>();

/** Tells `watcher` about the namespaces of owner `uid` from now on; returns the function that stops it. */
export function watchNamespaces(uid: number, watcher: NamespaceWatcher): () => void {
  let set = watchers.get(uid);
  if (!set) watchers.set(uid, (set = new Set()));
  set.add(watcher);
  return () => {
    set.delete(watcher);
    if (set.size === 0 && watchers.get(uid) === set) watchers.delete(uid);
  };
}

export function namespaceAdded(uid: number, scoped: string, privilege: Privilege): void {
  for (const watcher of watchers.get(uid) ?? []) watcher.added(scoped, privilege);
}

export async function namespacesDeleting(uid: number, scoped: readonly string[]): Promise<void> {
  const set = watchers.get(uid);
  if (set) await Promise.all([...set].map((watcher) => watcher.deleting(scoped).catch(() => undefined)));
}
