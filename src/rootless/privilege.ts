/**
 * Rootless mode's way into the system (a Privilege, system/privilege.ts):
 * every command of the library runs inside the namespaces of a holder
 * (holder.ts) through `nsenter`, as root of the holder's user namespace.
 *
 * - An owning privilege starts its holder lazily, on the first command
 *   (`ready()`), and ends it when the last network that holds it is cleaned up
 *   (`release()`) or the process exits (`stopSync()`); the kernel removes
 *   everything inside with it. One per process (`ownRootlessPrivilege()`), so
 *   the networks of one process see each other's namespaces.
 * - An attached privilege (`attachRootlessPrivilege(ref)`) enters a holder
 *   that another process of the same user owns (`dummynet exec` after `up`).
 *
 * `direct` is true: the holder mounts no /proc of its own, so this process
 * reads its own processes' /proc/<pid>/ns and signals them itself (pids as
 * this process sees them); only the holder's private /run is elsewhere, and
 * `systemPath()` maps it (/proc/<holder>/root/run/...).
 */
import { DummyNetError } from "../errors.js";
import type { Logger } from "../log.js";
import type { Privilege } from "../system/privilege.js";
import { type HolderRef, enterArgv, holderAlive, holderPath } from "./enter.js";
import { HolderEndedError, type RootlessHolder, startRootlessHolder } from "./holder.js";

export class RootlessPrivilege implements Privilege {
  readonly mode = "rootless" as const;
  readonly direct = true;
  /** The holder this privilege enters: the one it started, or the one it was attached to. */
  #ref: HolderRef | undefined;
  #holder: RootlessHolder | undefined;
  #starting: Promise<void> | undefined;
  #holds = 0;
  readonly #attached: boolean;
  log: Logger | undefined;

  /** @internal Use ownRootlessPrivilege() or attachRootlessPrivilege(). */
  constructor(attachTo?: HolderRef) {
    this.#ref = attachTo;
    this.#attached = attachTo !== undefined;
  }

  /** The holder commands enter now (undefined before the first command of an owning privilege). */
  get holder(): HolderRef | undefined {
    return this.#ref;
  }

  wrap(argv: readonly string[]): string[] {
    return this.#enter(argv);
  }

  // nsenter enters the namespace itself: no `ip -n`, whose mount namespace and /sys cost each ip worker's start and exit;
  // and not the PID namespace, which would make nsenter fork and wait (a worker ends with its input).
  wrapInNamespace(namespace: string, argv: readonly string[]): string[] {
    return this.#enter(argv, false, namespace);
  }

  // nsenter keeps the environment; entering the mount namespace resets the working directory, so nsenter keeps the one
  // it was started in: the cwd the caller spawned the command with (run({ cwd })), else this process's.
  wrapUserCommand(argv: readonly string[]): string[] {
    return this.#enter(argv, true);
  }

  systemPath(path: string): string {
    return this.#ref === undefined ? path : holderPath(this.#ref, path);
  }

  ready(): Promise<void> {
    if (this.#attached) {
      const ref = this.#ref;
      if (ref && holderAlive(ref)) return Promise.resolve();
      return Promise.reject(new HolderEndedError(ref?.pid ?? -1));
    }
    if (this.#holder?.running) return Promise.resolve();
    this.#starting ??= startRootlessHolder({ log: this.log })
      .then((holder) => {
        this.#holder = holder;
        this.#ref = holder.ref;
      })
      .finally(() => (this.#starting = undefined));
    return this.#starting;
  }

  /** A network uses this holder: it stays until every holder of it has called release(). */
  hold(): void {
    this.#holds++;
  }

  /** A network is done with the holder; the last one ends it (and everything inside). */
  async release(): Promise<void> {
    this.#holds = Math.max(0, this.#holds - 1);
    if (this.#holds > 0 || this.#attached) return;
    await this.#starting?.catch(() => undefined);
    const holder = this.#holder;
    this.#holder = undefined;
    this.#ref = undefined;
    await holder?.stop();
  }

  /** The process is exiting: kill the holder now (the kernel removes its namespaces and processes). */
  stopSync(): void {
    if (this.#attached) return;
    this.#holder?.stopSync();
    this.#holder = undefined;
    this.#ref = undefined;
  }

  #enter(argv: readonly string[], keepCwd = false, namespace?: string): string[] {
    if (this.#holder !== undefined && !this.#holder.running) throw new HolderEndedError(this.#holder.pid);
    if (this.#ref === undefined) {
      throw new DummyNetError(
        "The rootless holder is not running: await privilege.ready() before running commands (HostShell does)",
      );
    }
    if (this.#attached && !holderAlive(this.#ref)) throw new HolderEndedError(this.#ref.pid);
    const net = namespace === undefined ? undefined : holderPath(this.#ref, `/run/netns/${namespace}`);
    return enterArgv(this.#ref, argv, { keepCwd, net, pid: namespace === undefined });
  }
}

let own: RootlessPrivilege | undefined;

/** This process's own rootless privilege (one holder per process, started on the first command). */
export function ownRootlessPrivilege(log?: Logger): RootlessPrivilege {
  own ??= new RootlessPrivilege();
  own.log ??= log;
  return own;
}

/** A privilege that enters the holder another process of this user owns (found through its record). */
export function attachRootlessPrivilege(ref: HolderRef): RootlessPrivilege {
  return new RootlessPrivilege(ref);
}

/** True for a rootless privilege. */
export function isRootless(privilege: Privilege): privilege is RootlessPrivilege {
  return privilege instanceof RootlessPrivilege;
}
