/**
 * The state one DummyNet shares with every namespaced DummyNet made from it,
 * and its life: the owner uid (claimed, given back by cleanup, claimed again
 * by a later change), exit cleanup, the undo log, the link registry, the
 * cgroups and traffic-control handles, and teardown (processes, then undos).
 */
import type { CGroup } from "../cgroups/cgroup.js";
import { DummyNetError, InvalidArgumentError } from "../errors.js";
import { type ExitCleanable, trackForExit, untrackForExit } from "../lifecycle/exit-cleanup.js";
import { claimUid, describeHolder, releaseUid } from "../lifecycle/owners.js";
import { reapAtNetworkStart } from "../lifecycle/reaper.js";
import type { Logger } from "../log.js";
import { formatCommand } from "../process/run-info.js";
import { isRootless } from "../rootless/privilege.js";
import type { NetworkFaults } from "../faults/network-faults.js";
import type { Shell } from "../shell/shell.js";
import type { TcHandles } from "../tc/netem-apply.js";
import { LinkRegistry } from "./link-registry.js";
import { namespacesDeleting } from "./namespace-watchers.js";
import { killProcess, processesByNamespace } from "./namespace-processes.js";
import { UndoLog } from "./undo-log.js";

/** The scoped name of the host's namespace. */
export const ROOT_NAMESPACE = "1";

/** What the network's life depends on, from DummyNetOptions. */
export interface NetworkSettings {
  readonly uid: number;
  /** The uid was given explicitly: instances of one module instance may share it. */
  readonly explicitUid: boolean;
  /** The shell of the host namespace (the root DummyNet's). */
  readonly hostShell: Shell;
  readonly log: Logger | undefined;
  readonly exitCleanup: boolean;
  readonly reapDeadOwners: boolean | "once";
}

export class NetworkState {
  readonly uid: number;
  /** The shell of the host namespace (the root DummyNet's). */
  readonly hostShell: Shell;
  readonly undo = new UndoLog();
  readonly links = new LinkRegistry();
  readonly cgroups = new Map<string, CGroup>();
  /** The addresses (without prefix) addrAdd gave each namespace, by scoped name: what faults key their rules by. */
  readonly addresses = new Map<string, Set<string>>();
  /** The faults of this network (src/faults); made on first use. */
  faults: NetworkFaults | undefined;
  /** Whether this network has added an iptables rule in the host namespace (where rules outlive it unless removed). */
  madeHostIptablesRule = false;
  /** netem handles of this network's links; made on first use (most networks never impair a link). */
  tcHandles: TcHandles | undefined;
  readonly #settings: NetworkSettings;
  /** Whether this network holds its uid. */
  #claimed = true;
  /** Resolves once the owner is recorded (and dead owners reaped, if asked): before the first change. */
  #started: Promise<void> | undefined;
  /** What exit cleanup holds while this network has something to undo. */
  #exitHandle: ExitCleanable | undefined;
  /** The cleanup in progress, which later calls join. */
  #cleaning: Promise<void> | undefined;

  /** `settings.uid` must be claimed already (see claimExplicitUid). */
  constructor(settings: NetworkSettings) {
    this.#settings = settings;
    this.uid = settings.uid;
    this.hostShell = settings.hostShell;
  }

  get log(): Logger {
    return this.#settings.log ?? this.hostShell.log;
  }

  /** Runs one change; cleanup waits for changes in flight and refuses new ones while it runs. */
  change<T>(change: () => Promise<T>): Promise<T> {
    if (this.undo.closing) return this.refused("changes");
    // Every change arms exit cleanup and records the owner first.
    return this.undo.track(this.#start().then(change));
  }

  refused(what: string): Promise<never> {
    return Promise.reject(
      new DummyNetError(`This network is being cleaned up: no more ${what} are accepted until cleanup() has finished`),
    );
  }

  /** Before the first change: record the owner (so a crash can be told from a live run), reap if asked, arm exit cleanup. */
  #start(): Promise<void> {
    this.#started ??= (async () => {
      const settings = this.#settings;
      if (!this.#claimed) {
        // Used again after cleanup() gave the uid back: take it again, unless another owner has it now.
        const claim = claimUid(this.uid, { share: settings.explicitUid });
        if (!claim.claimed) {
          throw new DummyNetError(
            `uid ${this.uid} was given back by cleanup() and is now held by ${describeHolder(claim.holder)}; make a new DummyNet instead of reusing this one`,
          );
        }
        this.#claimed = true;
      }
      // A rootless network keeps this process's holder until its cleanup.
      if (isRootless(this.hostShell.privilege)) this.hostShell.privilege.hold();
      if (settings.reapDeadOwners === "once") await reapDeadOwnersOnce(this.log);
      else if (settings.reapDeadOwners) await reapAtNetworkStart(this.log);
      if (settings.exitCleanup) {
        this.#exitHandle = {
          cleanup: () => this.cleanup(),
          cleanupSync: () => {
            this.#cleanupSync();
          },
          describe: () => `network of uid ${this.uid}: ${this.undo.step || "cleanup not started"}`,
        };
        trackForExit(this.#exitHandle);
      }
    })();
    return this.#started;
  }

  /**
   * The process is exiting and cannot await: remove namespaces (with their
   * processes) and what we made in the host namespace, synchronously.
   */
  #cleanupSync(): void {
    // Processes first: each leads its own process group and would outlive us.
    this.hostShell.processMonitor.killAllSync();
    const privilege = this.hostShell.privilege;
    // Rootless: everything lives in the holder's namespaces; killing it removes all at once.
    if (isRootless(privilege)) privilege.stopSync();
    else this.undo.replaySync();
  }

  /**
   * Leaves the network on the system past this process (a failed test's, kept on request): exit
   * cleanup is disarmed and nothing is undone; the owner record is kept by the caller (keepOwner).
   */
  keep(): void {
    if (this.#exitHandle) untrackForExit(this.#exitHandle);
    this.#exitHandle = undefined;
    this.#claimed = false;
  }

  /** Stops the processes, then runs every undo newest first; one cleanup at a time (later calls join it). */
  cleanup(): Promise<void> {
    // A second call (exit cleanup on Ctrl-C during `await using`, say) joins the first.
    this.#cleaning ??= this.#cleanupOnce().finally(() => (this.#cleaning = undefined));
    return this.#cleaning;
  }

  async #cleanupOnce(): Promise<void> {
    const monitor = this.hostShell.processMonitor;
    // Faults first: a namespace this network only uses (netnsUse) keeps its rules otherwise.
    const healing = this.faults?.healAll().then(
      () => [],
      (error: unknown) => (error instanceof AggregateError ? (error.errors as unknown[]) : [error]),
    );
    const healErrors: unknown[] = (await healing) ?? [];
    const errors = await this.undo.teardown({
      log: this.log,
      beforeUndo: async (errors) => {
        const running = monitor.processes;
        this.undo.step = `stopping ${running.length} process(es)${running.map((info) => `; pid ${info.pid}: ${formatCommand(info.cmd)}`).join("")}`;
        try {
          await monitor.stop();
        } catch (error) {
          errors.push(...(error instanceof AggregateError ? (error.errors as unknown[]) : [error]));
          await monitor.stop({ validateState: false }).catch((e: unknown) => errors.push(e));
        }
      },
      beforeNamespaceDeletions: (scopedNamespaces) => this.#killNamespaceProcesses(scopedNamespaces),
      afterUndo: async (errors) => {
        this.links.clear();
        this.addresses.clear();
        if (this.#started) {
          this.undo.step = "forgetting the owner record";
          await this.#started.catch(() => undefined);
          if (this.#exitHandle) untrackForExit(this.#exitHandle);
          const privilege = this.hostShell.privilege;
          if (isRootless(privilege)) {
            this.undo.step = "ending the rootless holder";
            await privilege.release();
          }
          this.#exitHandle = undefined;
          this.#started = undefined;
        }
        if (this.#claimed) {
          this.#claimed = false;
          releaseUid(this.uid, this.madeHostIptablesRule && errors.length > 0);
        }
      },
    });
    errors.unshift(...healErrors);
    if (errors.length > 0)
      throw new AggregateError(
        errors,
        `cleanup finished with ${errors.length} error(s): ${errors.map((e) => (e as Error).message).join("; ")}`,
      );
  }

  async #killNamespaceProcesses(scopedNamespaces: readonly string[]): Promise<void> {
    await namespacesDeleting(this.uid, scopedNamespaces);
    const byNamespace = await processesByNamespace(this.hostShell, scopedNamespaces);
    await Promise.all(
      [...byNamespace.values()].flat().map((pid) => killProcess(this.hostShell, pid).catch(() => undefined)),
    );
  }
}

let reapedOnce: Promise<unknown> | undefined;

/** One reaping per module instance for every network that asks for it "once"; a failed one is tried again. */
function reapDeadOwnersOnce(log: Logger): Promise<unknown> {
  reapedOnce ??= reapAtNetworkStart(log).catch((error: unknown) => {
    reapedOnce = undefined;
    throw error;
  });
  return reapedOnce;
}

/** Claims an explicit uid; refused while a live owner (another process, thread or module instance) holds it. */
export function claimExplicitUid(uid: number): number {
  const claim = claimUid(uid, { share: true });
  if (!claim.claimed) {
    throw new InvalidArgumentError(
      "uid",
      uid,
      `is held by a live owner: ${describeHolder(claim.holder)}. Omit uid to get a free one, or pick another`,
    );
  }
  return uid;
}
