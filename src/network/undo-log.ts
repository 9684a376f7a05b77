/**
 * The undo log of a network: every change registers an undo, and teardown
 * runs them newest first, after the changes in flight have settled. Undos of
 * objects that go anyway with a namespace of ours are skipped, neighbouring
 * namespace deletions run together, and every failure is collected, so
 * teardown always finishes. `replaySync` is the last resort of a process that
 * is exiting and cannot await. What an undo does is its own business: the log
 * knows only its kind (UNDO_KINDS), so it can be tested with fake undos.
 */
import { DummyNetError } from "../errors.js";
import type { Logger } from "../log.js";
import type { NamespaceScoped, Scoped } from "../names/scoped.js";
import { isAlreadyGone } from "../system/already-gone.js";
import type { LinkPlace } from "./link-registry.js";

/** What the log and linkDelete need to know of an undo's kind. */
export interface UndoKindTraits {
  /** The undo deletes a namespace of ours: undos of what lives only inside it are moot, and such deletions run together. */
  readonly deletesNamespace?: true;
  /** The undo's object goes when its link is deleted, so linkDelete forgets it (iptables rules name links but outlive them). */
  readonly boundToLink?: true;
  /** The undo deletes the links it concerns; deleting one of them (one end of a veth pair) deletes them all. */
  readonly deletesLinks?: true;
  /** linkDelete runs the undo before it deletes the link: what it removes (an ingress IFB) would outlive the link. */
  readonly runsBeforeLinkDelete?: true;
}

const KINDS = {
  netnsAdd: { deletesNamespace: true },
  linkVethAdd: { boundToLink: true, deletesLinks: true },
  linkVlanAdd: { boundToLink: true, deletesLinks: true },
  bridgeAdd: { boundToLink: true, deletesLinks: true },
  linkSet: { boundToLink: true },
  bridgeSet: { boundToLink: true },
  addrAdd: { boundToLink: true },
  addrDel: { boundToLink: true },
  up: { boundToLink: true },
  down: { boundToLink: true },
  tc: { boundToLink: true, runsBeforeLinkDelete: true },
  route: {},
  sysctl: {},
  forward: {},
  nat: {},
  addCgroup: {},
  // A capture's stop: cleanup ends tcpdump before the namespace it records goes.
  capture: {},
} satisfies Record<string, UndoKindTraits>;

/** The kind of an undo: the name of the DummyNet method that registered it. */
export type UndoKind = keyof typeof KINDS;

/** Every kind of undo and its traits: a kind not listed here does not compile. */
export const UNDO_KINDS: Readonly<Record<UndoKind, UndoKindTraits>> = KINDS;

/** One entry of a network's undo log (`DummyNet.cleaners`): what a change made, and how to undo it. */
export interface CleanupItem {
  /** The namespace the undone object lives in. */
  readonly namespace: NamespaceScoped;
  /** The objects the cleaner concerns (both ends of a veth pair). */
  readonly targets: readonly Scoped[];
  /** The kind of undo: the method that registered it, e.g. "linkVethAdd". */
  readonly reason: UndoKind;
  /**
   * True when the undo is moot because its object goes with a namespace of
   * ours that cleanup deletes later anyway (`doomed`: their scoped names).
   * Skipping those undos is what makes teardown cost one step per namespace.
   */
  readonly obsoleteWhen: (doomed: ReadonlySet<string>) => boolean;
  /** Undoes the change. */
  readonly clean: () => Promise<void>;
  /**
   * The links the undo concerns, each with the namespace it lives in now
   * (linkSet moves them): linkDelete forgets exactly the undos of the links
   * it deleted, not those of same-named links elsewhere.
   */
  readonly links: readonly LinkPlace[];
  /** Called instead of `clean` when the undo is skipped or forgotten (its object went another way). */
  readonly discard?: (() => void) | undefined;
  /** Synchronous undo for the process.exit() path; absent where the object dies with a namespace. */
  readonly cleanSync?: (() => void) | undefined;
}

/** What teardown does around the undos; every hook is optional. */
export interface TeardownSteps {
  /** Where "already gone" warnings go. */
  readonly log: Logger;
  /** After the changes in flight settled, before the first undo (stop the processes); push failures to `errors`. */
  beforeUndo?(errors: unknown[]): Promise<void>;
  /** Before a batch of namespace deletions (kill the processes inside them). */
  beforeNamespaceDeletions?(scopedNamespaces: readonly string[]): Promise<void>;
  /** After the last undo, with the failures so far (forget the owner record). */
  afterUndo?(errors: readonly unknown[]): Promise<void>;
}

export class UndoLog {
  /** Newest last. */
  readonly #entries: CleanupItem[] = [];
  /** Undos taken off the log and not finished yet: the synchronous exit path must still see them. */
  readonly #undoing = new Set<CleanupItem>();
  /** Changes in progress; teardown waits for them, so that nothing made meanwhile is missed. */
  readonly #inFlight = new Set<Promise<unknown>>();
  #closing = false;
  /** What teardown is doing now, for the message when exit cleanup times out; "" when idle. */
  step = "";

  /** Set while teardown runs: new changes and new processes are refused. */
  get closing(): boolean {
    return this.#closing;
  }

  /** The pending undos, newest last (a frozen copy). */
  get entries(): readonly CleanupItem[] {
    return Object.freeze([...this.#entries]);
  }

  register(item: CleanupItem): void {
    this.#entries.push(item);
  }

  /** Drops the undos `predicate` picks (their objects went another way), calling their `discard`. */
  forget(predicate: (item: CleanupItem) => boolean): void {
    const entries = this.#entries;
    for (let i = entries.length - 1; i >= 0; i--) {
      if (predicate(entries[i])) entries.splice(i, 1)[0].discard?.();
    }
  }

  /** Teardown waits for `running` to settle before it starts undoing. */
  track<T>(running: Promise<T>): Promise<T> {
    const inFlight = this.#inFlight;
    inFlight.add(running);
    const forget = () => inFlight.delete(running);
    running.then(forget, forget);
    return running;
  }

  /**
   * Refuses new work (see `closing`), waits for the changes in flight, then
   * runs every undo newest first. Always finishes; resolves with the failures
   * (of `beforeUndo` and of undos whose object was not already gone).
   */
  async teardown(steps: TeardownSteps): Promise<unknown[]> {
    const errors: unknown[] = [];
    this.#closing = true;
    try {
      // Changes already on their way finish (and register their undo) first.
      while (this.#inFlight.size > 0) {
        this.step = `waiting for ${this.#inFlight.size} change(s) or process start(s) in flight`;
        await Promise.allSettled([...this.#inFlight]);
      }
      await steps.beforeUndo?.(errors);
      await this.#replay(steps, errors);
      await steps.afterUndo?.(errors);
    } finally {
      this.#closing = false;
      this.step = "";
    }
    return errors;
  }

  async #replay(steps: TeardownSteps, errors: unknown[]): Promise<void> {
    const entries = this.#entries;
    // Namespaces of ours still to be deleted: what lives only inside them goes with them.
    const doomed = doomedNamespaces(entries);
    const undo = async (item: CleanupItem): Promise<void> => {
      this.#undoing.add(item);
      this.step = `undoing ${item.reason} of ${item.targets.join(", ") || "-"} in namespace ${item.namespace.scoped}`;
      try {
        await item.clean();
        this.#undoing.delete(item);
      } catch (error) {
        this.#undoing.delete(item);
        if (isAlreadyGone(error)) {
          steps.log.warn(
            `cleanup: ${item.reason} of ${item.targets.join(", ")} in ${item.namespace.scoped}: already gone (${(error as Error).message.split("\n")[0]})`,
          );
        } else {
          errors.push(
            new DummyNetError(
              `cleanup: undoing ${item.reason} of ${item.targets.join(", ") || "-"} in namespace ${item.namespace.scoped} failed: ${(error as Error).message}`,
              { cause: error },
            ),
          );
        }
      }
    };
    for (let item = entries.pop(); item !== undefined; item = entries.pop()) {
      if (item.obsoleteWhen(doomed)) {
        item.discard?.();
        continue;
      }
      if (!UNDO_KINDS[item.reason].deletesNamespace) {
        await undo(item);
        continue;
      }
      // Namespace deletions next to each other in the log are independent: do them together.
      const batch = [item];
      for (let next = entries.at(-1); next !== undefined; next = entries.at(-1)) {
        if (UNDO_KINDS[next.reason].deletesNamespace) batch.push(next);
        else if (next.obsoleteWhen(doomed)) next.discard?.();
        else break;
        entries.pop();
      }
      for (const b of batch) this.#undoing.add(b);
      this.step = `killing the processes of namespaces ${batch.map((b) => b.namespace.scoped).join(", ")}`;
      await steps.beforeNamespaceDeletions?.(batch.map((b) => b.namespace.scoped));
      await Promise.all(batch.map(undo));
      for (const b of batch) doomed.delete(b.namespace.scoped);
    }
  }

  /**
   * The process is exiting and cannot await: runs the synchronous undos newest
   * first, skipping those whose object goes with a namespace deleted later.
   */
  replaySync(): void {
    const entries = this.#entries;
    // Undos an interrupted teardown had begun go again (newest last, as they were in the log); a repeat is harmless.
    entries.push(...[...this.#undoing].reverse());
    this.#undoing.clear();
    const doomed = doomedNamespaces(entries);
    for (let item = entries.pop(); item !== undefined; item = entries.pop()) {
      if (!item.obsoleteWhen(doomed)) item.cleanSync?.();
      else item.discard?.();
      if (UNDO_KINDS[item.reason].deletesNamespace) doomed.delete(item.namespace.scoped);
    }
  }
}

/** The scoped names of the namespaces that undos in `entries` delete. */
function doomedNamespaces(entries: readonly CleanupItem[]): Set<string> {
  return new Set(
    entries.filter((item) => UNDO_KINDS[item.reason].deletesNamespace).map((item) => item.namespace.scoped),
  );
}
