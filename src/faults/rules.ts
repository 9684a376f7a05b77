/**
 * The kernel side of a cut: policy-routing rules in the receiving host's
 * namespace. `ip rule add pref 1 from <sender> to <receiver> blackhole`
 * drops, on the input path and silently, what the sender sends to this host;
 * for that rule to be consulted before local delivery, the `local` rule moves
 * from pref 0 to pref 2 while any cut is in force (and back when none is).
 * Rules are counted, so that overlapping faults share one kernel rule; the
 * changes of one namespace and family run one after the other, in the order
 * they were asked for, the commands of one change (the local rule's move
 * included) given together: the namespace's ip batch worker runs them in
 * order from one write, so a change costs one round trip. A schedule holds the
 * local rule moved from its start to its end (hold()), so that its steps add
 * and delete only their blackhole rules.
 */
import { SystemCommandError } from "../errors.js";
import type { Shell } from "../shell/shell.js";

/** The pref of the blackhole rules: ahead of everything but the rules a user put at pref 0 or 1. */
const CUT_PREF = "1";
/** Where the `local` rule waits while cuts are in force: right behind them, ahead of any other rule. */
const MOVED_LOCAL_PREF = "2";

export type Family = 4 | 6;

/** A sender's address or prefix (cut.ts) and the receiver's address (this namespace's), of one family. */
export interface Pair {
  readonly from: string;
  readonly to: string;
}

/** Waits for all; rejects with the first error once all have settled. */
export async function allSettledOrThrow(promises: readonly Promise<unknown>[]): Promise<void> {
  const results = await Promise.allSettled(promises);
  const failed = results.find((result): result is PromiseRejectedResult => result.status === "rejected");
  if (failed) throw failed.reason;
}

/** The rules of one namespace and address family. */
class FamilyRules {
  readonly #counts = new Map<string, number>();
  /** Holds on the local rule's move (hold()): it stays moved while any is kept, with or without blackhole rules. */
  #holds = 0;
  #queue: Promise<unknown> = Promise.resolve();
  /** The local rule's pref before we moved it; undefined while it is not moved. */
  #movedFrom: string | undefined;

  constructor(
    private readonly shell: Shell,
    private readonly family: Family,
  ) {}

  get size(): number {
    return this.#counts.size;
  }

  /**
   * Drops packets from each `from` to its `to` (addresses of this family, each `to` one of this namespace's).
   * The kernel rules a call adds go out together (pipelined through the namespace's ip worker).
   */
  acquire(pairs: readonly Pair[]): Promise<void> {
    const added: Pair[] = [];
    for (const pair of pairs) {
      const key = `${pair.from} ${pair.to}`;
      const count = this.#counts.get(key) ?? 0;
      this.#counts.set(key, count + 1);
      if (count === 0) added.push(pair);
    }
    return this.#enqueue(async () => {
      const moving = added.length > 0 && this.#movedFrom === undefined ? this.#moveLocal() : Promise.resolve();
      const adding = added.map(({ from, to }) =>
        this.#ip(["rule", "add", "pref", CUT_PREF, "from", from, "to", to, "blackhole"]),
      );
      // The move's failure first: rules added without it are inert (local delivery comes first) and the caller's
      // release takes them back.
      await allSettledOrThrow([moving, ...adding]);
    });
  }

  /** Takes back one acquire() of each pair; a kernel rule goes with its last, the local rule moves back with the last rule. */
  release(pairs: readonly Pair[]): Promise<void> {
    const removed: Pair[] = [];
    for (const pair of pairs) {
      const key = `${pair.from} ${pair.to}`;
      const count = this.#counts.get(key) ?? 0;
      if (count === 0) continue;
      if (count > 1) this.#counts.set(key, count - 1);
      else {
        this.#counts.delete(key);
        removed.push(pair);
      }
    }
    return this.#enqueue(async () => {
      const removing = removed.map(({ from, to }) =>
        this.#ip(["rule", "del", "pref", CUT_PREF, "from", from, "to", to, "blackhole"], { gone: true }),
      );
      await allSettledOrThrow([...removing, ...(removed.length > 0 ? [this.#restoreIfUnused()] : [])]);
    });
  }

  /** Moves the local rule now (if it is not moved) and keeps it moved until unhold(), rules or not. */
  hold(): Promise<void> {
    this.#holds++;
    return this.#enqueue(async () => {
      if (this.#movedFrom === undefined) await this.#moveLocal();
    }).catch((error: unknown) => {
      this.#holds--;
      throw error;
    });
  }

  /** Lets go of one hold(); the local rule moves back if no rule and no other hold needs it moved. */
  unhold(): Promise<void> {
    this.#holds--;
    return this.#enqueue(() => this.#restoreIfUnused());
  }

  /**
   * Decided when the change runs, not when it was asked for: changes asked for meanwhile are counted already and
   * queued behind this one, and find the local rule where they need it.
   */
  #restoreIfUnused(): Promise<void> {
    return this.#counts.size === 0 && this.#holds === 0 ? this.#restoreLocal() : Promise.resolve();
  }

  /** Runs `work` after everything asked for before it, whether that succeeded or not. */
  #enqueue(work: () => Promise<void>): Promise<void> {
    const done = this.#queue.then(work, work);
    this.#queue = done.catch(() => undefined);
    return done;
  }

  /** Its two commands go out with the rules given in the same turn (one write); the add runs before the del. */
  async #moveLocal(): Promise<void> {
    // Added before the old one goes: there is never a moment without local delivery.
    const [added, deleted] = await Promise.allSettled([
      this.#ip(["rule", "add", "pref", MOVED_LOCAL_PREF, "lookup", "local"]),
      this.#ip(["rule", "del", "pref", "0", "lookup", "local"]),
    ]);
    if (added.status === "rejected") {
      // Put back what the del took (if it did): local delivery must stay.
      if (deleted.status === "fulfilled") await this.#ip(["rule", "add", "pref", "0", "lookup", "local"]);
      throw added.reason as Error;
    }
    if (deleted.status === "rejected") {
      const error = deleted.reason as SystemCommandError;
      await this.#ip(["rule", "del", "pref", MOVED_LOCAL_PREF, "lookup", "local"], { gone: true });
      throw new SystemCommandError(
        error.argv,
        error.exitCode,
        error.stderr,
        "the `local` routing rule of this host is not at pref 0 (someone moved it): faults need it there to start from",
        { cause: error },
      );
    }
    this.#movedFrom = "0";
  }

  /** Given with the rules' deletes (one write); the add runs before the del. */
  async #restoreLocal(): Promise<void> {
    if (this.#movedFrom === undefined) return;
    const [back, deleted] = await Promise.allSettled([
      this.#ip(["rule", "add", "pref", this.#movedFrom, "lookup", "local"]),
      this.#ip(["rule", "del", "pref", MOVED_LOCAL_PREF, "lookup", "local"], { gone: true }),
    ]);
    if (back.status === "rejected") {
      // The del ran anyway: unless the rule was back already (File exists), local delivery needs the moved one again.
      const exists = /File exists/.test((back.reason as SystemCommandError).stderr);
      if (deleted.status === "fulfilled" && !exists) {
        await this.#ip(["rule", "add", "pref", MOVED_LOCAL_PREF, "lookup", "local"]).catch(() => undefined);
      }
      throw back.reason as Error;
    }
    if (deleted.status === "rejected") throw deleted.reason as Error;
    this.#movedFrom = undefined;
  }

  /** `gone`: a rule already gone (its namespace deleted, say) is no error when taking it back. */
  async #ip(args: readonly string[], options: { gone?: boolean } = {}): Promise<void> {
    const argv = ["ip", ...(this.family === 6 ? ["-6"] : []), ...args];
    if (!options.gone) {
      await this.shell.system(argv);
      return;
    }
    const result = await this.shell.system(argv, { allowFailure: true });
    if (result.exitCode !== 0 && !/No such file|not exist|Cannot open network namespace/i.test(result.stderr)) {
      throw new SystemCommandError(result.argv, result.exitCode, result.stderr);
    }
  }
}

/** The cut rules of one namespace, both families. */
export class NamespaceRules {
  readonly #families: Record<Family, FamilyRules>;

  constructor(shell: Shell) {
    this.#families = { 4: new FamilyRules(shell, 4), 6: new FamilyRules(shell, 6) };
  }

  /** Whether no rule is in force (the namespace is as it was). */
  get empty(): boolean {
    return this.#families[4].size === 0 && this.#families[6].size === 0;
  }

  acquire(family: Family, pairs: readonly Pair[]): Promise<void> {
    return this.#families[family].acquire(pairs);
  }

  release(family: Family, pairs: readonly Pair[]): Promise<void> {
    return this.#families[family].release(pairs);
  }

  hold(family: Family): Promise<void> {
    return this.#families[family].hold();
  }

  unhold(family: Family): Promise<void> {
    return this.#families[family].unhold();
  }
}
