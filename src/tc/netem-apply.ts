/**
 * Applying netem to a link, in both directions, and undoing it.
 *
 * Outgoing traffic: a netem root qdisc (handle d0:), installed with
 * `tc qdisc replace`, so later calls change it in place. Incoming traffic: an
 * IFB device named with the owner's prefix, an ingress qdisc and a filter that
 * redirects every incoming packet to the IFB (netem-ingress.ts), and netem on
 * the IFB's root.
 * One TcHandle per (namespace, interface) remembers what was there before the
 * first call, so `restore()` can put it back; a network keeps its handles in
 * one TcHandles.
 */
import { DummyNetError, SystemCommandError } from "../errors.js";
import { NETEM_DEFAULT_LIMIT } from "./netem-table.js";
import type { NetemOptions, NetemSettings } from "./netem-model.js";
import {
  derivedLimit,
  checkNetemCombination,
  clearingArguments,
  mergeNetem,
  settingsArguments,
} from "./netem-options.js";
import { validateNetemOptions } from "./netem-validate.js";
import { type KnownTables, type QdiscJson, type TcShell, appliedRoot, readNetem, showQdiscs } from "./netem-read.js";
import { netemAdvice } from "../fidelity/netem-advice.js";
import { type IngressState, ifbOf, removeIngress, setUpIngress } from "./netem-ingress.js";

/** Handle of the netem qdiscs this library installs ("d" for dummynet). */
const NETEM_HANDLE = "d0:";

/**
 * The root qdisc of a link is one dummynet cannot put back after shaping the link.
 *
 * @example
 * ```ts
 * try {
 *   await net.tc("eth0", { delay: 20 });
 * } catch (error) {
 *   if (error instanceof QdiscConflictError) console.error(`${error.iface} has ${error.qdisc.kind}: delete it first`);
 *   else throw error;
 * }
 * ```
 */
export class QdiscConflictError extends DummyNetError {
  constructor(
    /** The interface that could not be shaped (scoped system name). */
    readonly iface: string,
    /** Its root qdisc, as `tc -json qdisc show` gave it. */
    readonly qdisc: QdiscJson,
    options?: ErrorOptions,
  ) {
    super(
      `Cannot shape ${iface}: its root qdisc is ${qdisc.kind} ${qdisc.handle}, which dummynet could not re-create on cleanup ` +
        `(it re-creates the default qdisc, netem, pfifo, bfifo and pfifo_head_drop). ` +
        `Delete it first (tc qdisc del dev ${iface} root) or shape another interface.`,
      options,
    );
  }
}

const RESTORABLE_KINDS = ["netem", "pfifo", "bfifo", "pfifo_head_drop"];

/** Undoes what `applyNetem` did to one interface. */
export interface TcHandle {
  /** The interface (scoped system name). */
  readonly iface: string;
  /** Scoped name of the namespace it lives in; undefined for the host's. */
  readonly namespace: string | undefined;
  /** How many `applyNetem` calls went through this handle; 1 after the first. */
  readonly applyCount: number;
  /** Settings of outgoing traffic after the last call; undefined when not shaped. */
  readonly egress: NetemSettings | undefined;
  /** Settings of incoming traffic after the last call; undefined when not shaped. */
  readonly ingress: NetemSettings | undefined;
  /** The IFB device carrying incoming traffic, while there is one. */
  readonly ifb: string | undefined;
  /** True once `restore()` has run. */
  readonly restored: boolean;
  /**
   * Puts back the root qdisc seen before the first call and removes the IFB
   * device, ingress qdisc and filter this library added. Runs once; later calls
   * do nothing. A device that is already gone is logged, not an error.
   */
  restore(): Promise<void>;
}

class NetemHandle implements TcHandle {
  applyCount = 0;
  egress: NetemSettings | undefined;
  /** The root qdisc before the first call; undefined while we have not touched the root. */
  before: QdiscJson | undefined;
  egressTables: KnownTables = {};
  egressUserLimit = false;
  ingressState: IngressState | undefined;
  restored = false;
  #restoring: Promise<void> | undefined;

  constructor(
    readonly shell: TcShell,
    readonly iface: string,
    readonly ownerUid: number,
    readonly key: string,
    readonly handles: Map<string, NetemHandle>,
  ) {}

  get namespace(): string | undefined {
    return this.shell.namespace;
  }
  get ingress(): NetemSettings | undefined {
    return this.ingressState?.settings;
  }
  get ifb(): string | undefined {
    return this.ingressState?.ifb;
  }

  restore(): Promise<void> {
    this.#restoring ??= this.#restore();
    return this.#restoring;
  }

  async #restore(): Promise<void> {
    this.handles.delete(this.key);
    const errors: unknown[] = [];
    const attempt = async (what: string, step: () => Promise<unknown>) => {
      try {
        await step();
      } catch (error) {
        if (isGone(error)) this.shell.log.warn(`tc restore of ${this.iface}: ${what} already gone`);
        else errors.push(error);
      }
    };
    const ingress = this.ingressState;
    if (ingress) {
      await attempt("ingress shaping", () => removeIngress(this.shell, this.iface, ingress));
      this.ingressState = undefined;
    }
    if (this.before) {
      const before = this.before;
      await attempt("root qdisc", () => restoreRoot(this.shell, this.iface, before));
      this.before = undefined;
      this.egress = undefined;
    }
    this.restored = true;
    if (errors.length === 1) throw errors[0];
    if (errors.length > 1) throw new AggregateError(errors, `Restoring traffic control of ${this.iface} failed`);
  }
}

/** applyNetem's way to a TcHandles' map, which stays out of its public shape (NetemHandle is this module's own). */
let liveHandles: (handles: TcHandles) => Map<string, NetemHandle>;

/** The live handles of one network, one per (namespace, interface), so later calls find what the first one saw. */
export class TcHandles {
  readonly #live = new Map<string, NetemHandle>();
  static {
    liveHandles = (handles) => handles.#live;
  }

  /** The TcHandle of an interface, if `applyNetem` shaped it through these handles and it was not restored. */
  of(shell: TcShell, iface: string): TcHandle | undefined {
    return this.#live.get(handleKey(shell, iface));
  }

  /**
   * Forgets the handle of an interface whose qdiscs and IFB went with their
   * namespace (or were never restored), so that a later network reusing the
   * names starts afresh instead of from stale state.
   */
  discard(shell: TcShell, iface: string): void {
    this.#live.delete(handleKey(shell, iface));
  }
}

function handleKey(shell: TcShell, iface: string): string {
  return `${shell.namespace ?? ""}\u0000${iface}`;
}

function isGone(error: unknown): boolean {
  return error instanceof SystemCommandError && /Cannot find device|does not exist|No such device/i.test(error.stderr);
}

function egressKeys(options: NetemOptions): boolean {
  return Object.keys(options).some((key) => key !== "ingress");
}

function limitLooksSet(current: NetemSettings | undefined): boolean {
  return (
    current?.limit !== undefined &&
    current.limit !== NETEM_DEFAULT_LIMIT &&
    current.limit !== derivedLimit({ ...current, limit: undefined })
  );
}

/** Base settings for a merge: what the kernel has, less the limit when it was derived or netem's default. */
function baseSettings(
  current: NetemSettings | undefined,
  ours: boolean,
  userLimit: boolean,
): NetemSettings | undefined {
  if (!current) return undefined;
  const base = { ...current };
  if (ours ? !userLimit : base.limit === NETEM_DEFAULT_LIMIT) delete base.limit;
  return base;
}

interface NetemPlan {
  settings: NetemSettings;
  argv: string[];
  /** Replace the qdisc in place (true) or create it anew (false). */
  inPlace: boolean;
  tables: KnownTables;
  userLimit: boolean;
}

function planNetem(
  current: NetemSettings | undefined,
  ours: boolean,
  tables: KnownTables,
  userLimit: boolean,
  change: Omit<NetemOptions, "ingress">,
  prefix: string,
): NetemPlan {
  const base = baseSettings(current, ours, userLimit);
  const settings = mergeNetem(base, change);
  checkNetemCombination(settings, prefix);
  const argv = settingsArguments(settings);
  const delayTable =
    settings.jitter && settings.distribution && settings.distribution !== "uniform" ? settings.distribution : undefined;
  const slotTable = settings.slot && !("min" in settings.slot) ? settings.slot.distribution : undefined;
  const newUserLimit =
    change.limit === undefined && !change.reset
      ? userLimit || (!ours && base?.limit !== undefined)
      : change.limit !== null;
  if (ours && current) {
    const clearing = clearingArguments(current, settings, tables, argv);
    if (clearing) {
      return {
        settings,
        argv: [...argv, ...clearing],
        inPlace: true,
        tables: { delay: delayTable ?? tables.delay, slot: slotTable ?? tables.slot },
        userLimit: newUserLimit,
      };
    }
  }
  return { settings, argv, inPlace: false, tables: { delay: delayTable, slot: slotTable }, userLimit: newUserLimit };
}

const SEED_HINT =
  "netem's seed needs tc from iproute2 6.6 or later and a kernel with netem's seeded PRNG (Linux 6.4 or later); " +
  "remove `seed` or upgrade iproute2 and the kernel.";

async function installNetem(
  shell: TcShell,
  device: string,
  plan: NetemPlan,
  currentRoot: QdiscJson | undefined,
): Promise<void> {
  // "root" right before the kind, so a refusal's hint names the qdisc kind.
  const replace = ["tc", "qdisc", "replace", "dev", device, "handle", NETEM_HANDLE, "root", "netem", ...plan.argv];
  try {
    if (plan.inPlace || !currentRoot || currentRoot.handle === "0:" || currentRoot.kind !== "netem") {
      await shell.system(replace);
    } else {
      // The kernel refuses to graft a netem next to a duplicating one, so a netem is swapped by delete + add.
      await shell.system(["tc", "qdisc", "del", "dev", device, "root"]);
      await shell.system(["tc", "qdisc", "add", "dev", device, "handle", NETEM_HANDLE, "root", "netem", ...plan.argv]);
    }
  } catch (error) {
    if (error instanceof SystemCommandError && /What is "seed"/.test(error.stderr)) {
      throw new SystemCommandError(error.argv, error.exitCode, error.stderr.split("\n")[0] ?? error.stderr, SEED_HINT, {
        cause: error,
      });
    }
    throw error;
  }
  if (plan.settings.seed !== undefined) {
    // An older kernel ignores attributes it does not know: check that the seed arrived.
    const root = (await showQdiscs(shell, device)).find((qdisc) => qdisc.root);
    if (root?.options?.["seed"] === undefined) {
      throw new SystemCommandError(replace, 0, "the kernel did not keep netem's seed", SEED_HINT);
    }
  }
}

/** Re-creates `before` (or returns to the default qdisc) on the root of `iface`. */
async function restoreRoot(shell: TcShell, iface: string, before: QdiscJson): Promise<void> {
  const current = (await showQdiscs(shell, iface)).find((qdisc) => qdisc.root);
  if (current && !(current.kind === "netem" && current.handle === NETEM_HANDLE)) {
    shell.log.warn(
      `tc restore of ${iface}: the root qdisc is no longer dummynet's netem but ${current.kind} ${current.handle}; putting back ${before.kind} anyway`,
    );
  }
  // Deleting the root returns the device to its default qdisc.
  if (current && current.handle !== "0:") await shell.system(["tc", "qdisc", "del", "dev", iface, "root"]);
  if (before.handle === "0:") return;
  await shell.system([
    "tc",
    "qdisc",
    "add",
    "dev",
    iface,
    "handle",
    before.handle,
    "root",
    before.kind,
    ...qdiscArguments(before),
  ]);
}

/** Arguments that re-create a qdisc we can restore (see RESTORABLE_KINDS). */
function qdiscArguments(qdisc: QdiscJson): string[] {
  const options = qdisc.options ?? {};
  if (qdisc.kind === "netem") {
    const netem = appliedRoot([{ ...qdisc, root: true }])?.netem;
    return netem ? settingsArguments(netem) : [];
  }
  if (typeof options["limit"] === "number") return ["limit", String(options["limit"])];
  return [];
}

/**
 * Shapes the traffic of `iface` (a scoped system name, in `shell`'s namespace)
 * with netem. Options are validated and merged with what the link has before
 * anything changes; see docs/traffic-control.md for the semantics. Returns the
 * interface's TcHandle: the same object for every call on the same interface
 * through the same `owner.handles` until it is restored. Without `handles`
 * (`dummynet impair`, one change per process) the call starts from what the
 * kernel shows, as a new process does.
 */
export async function applyNetem(
  shell: TcShell,
  iface: string,
  options: NetemOptions,
  owner: { uid: number; handles?: TcHandles },
): Promise<TcHandle> {
  const change = validateNetemOptions(options);
  const key = handleKey(shell, iface);
  const handles = liveHandles(owner.handles ?? new TcHandles());
  let handle = handles.get(key);
  const qdiscs = await showQdiscs(shell, iface);
  const root = qdiscs.find((qdisc) => qdisc.root);
  const rootIsOurs = root?.kind === "netem" && root.handle === NETEM_HANDLE;
  if (handle && handle.before && !rootIsOurs) {
    // Our qdisc is gone (the device was re-created, or someone replaced it): start over.
    shell.log.warn(
      `tc on ${iface}: dummynet's netem is no longer there (root is ${root?.kind ?? "none"}); taking the current qdisc as the one to restore`,
    );
    handle.before = undefined;
    handle.egress = undefined;
    handle.egressTables = {};
  }
  const fresh = !handle;
  handle ??= new NetemHandle(shell, iface, owner.uid, key, handles);

  // Plan both directions first: every refusal happens before the system changes.
  let egressPlan: NetemPlan | undefined;
  if (egressKeys(change)) {
    if (!rootIsOurs && root && root.handle !== "0:" && !RESTORABLE_KINDS.includes(root.kind))
      throw new QdiscConflictError(iface, root);
    const current = appliedRoot(qdiscs, handle.egressTables);
    const currentNetem = current?.kind === "netem" ? current.netem : undefined;
    // A handle new to this process (e.g. `dummynet impair` on a running network) cannot remember whether
    // the limit was the user's: a limit that is neither netem's default nor derived must have been set.
    const userLimit = fresh && rootIsOurs ? limitLooksSet(currentNetem) : handle.egressUserLimit;
    egressPlan = planNetem(currentNetem, rootIsOurs, handle.egressTables, userLimit, change, "");
  }
  let ingressPlan: NetemPlan | undefined;
  let ingressCurrent: NetemSettings | undefined;
  const ingressOption = change.ingress;
  if (fresh && ingressOption !== undefined && !handle.ingressState) {
    // Another process (the one that built the network; `dummynet impair` runs apart from it) may have set up
    // ingress shaping already: adopt its IFB rather than make a second one.
    const existing = (await readNetem(shell, iface))?.ingress;
    if (existing && existing.ifb === (await ifbOf(shell, iface, owner.uid))) {
      handle.ingressState = {
        ifb: existing.ifb,
        createdQdisc: true,
        settings: existing.netem,
        tables: {},
        userLimit: limitLooksSet(existing.netem),
      };
    }
  }
  if (ingressOption !== undefined && ingressOption !== null && ingressOption !== false) {
    const state = handle.ingressState;
    if (state) ingressCurrent = (await readNetem(shell, state.ifb, { egress: state.tables }))?.netem;
    if (ingressOption === true) {
      const egressNow =
        egressPlan?.settings ?? (rootIsOurs ? appliedRoot(qdiscs, handle.egressTables)?.netem : undefined);
      if (!egressNow) {
        throw new DummyNetError(
          `tc option ingress: true copies the options of outgoing traffic, but ${iface} has none from dummynet: give ingress its own options, e.g. { ingress: { delay: 20 } }`,
        );
      }
      const mirror: Omit<NetemOptions, "ingress"> = { ...(egressNow as Omit<NetemOptions, "ingress">), reset: true };
      if (!egressPlan?.userLimit && !handle.egressUserLimit) delete mirror.limit;
      ingressPlan = planNetem(
        ingressCurrent,
        state !== undefined,
        state?.tables ?? {},
        state?.userLimit ?? false,
        mirror,
        "ingress.",
      );
    } else {
      ingressPlan = planNetem(
        ingressCurrent,
        state !== undefined,
        state?.tables ?? {},
        state?.userLimit ?? false,
        ingressOption,
        "ingress.",
      );
    }
  }

  if (fresh) handles.set(key, handle);
  try {
    if (egressPlan) {
      // A dummynet netem without a handle is a leftover: the default is what belongs there.
      const before = handle.before ?? (rootIsOurs || !root ? { kind: "default", handle: "0:" } : root);
      await installNetem(shell, iface, egressPlan, root);
      handle.before = before;
      handle.egress = egressPlan.settings;
      handle.egressTables = egressPlan.tables;
      handle.egressUserLimit = egressPlan.userLimit;
    }
    if (ingressPlan) {
      const created = !handle.ingressState;
      if (!handle.ingressState) handle.ingressState = await setUpIngress(shell, iface, owner.uid, qdiscs);
      const state = handle.ingressState;
      try {
        const ifbRoot = ingressPlan.inPlace
          ? undefined
          : (await showQdiscs(shell, state.ifb)).find((qdisc) => qdisc.root);
        await installNetem(shell, state.ifb, ingressPlan, ifbRoot);
      } catch (error) {
        // An IFB without its netem would only hide the refusal: take it away again.
        if (created) {
          await removeIngress(shell, iface, state).catch((undoError: unknown) => {
            shell.log.warn(`tc on ${iface}: could not undo ingress set-up: ${String(undoError)}`);
          });
          handle.ingressState = undefined;
        }
        throw error;
      }
      state.settings = ingressPlan.settings;
      state.tables = ingressPlan.tables;
      state.userLimit = ingressPlan.userLimit;
    } else if ((ingressOption === null || ingressOption === false) && handle.ingressState) {
      await removeIngress(shell, iface, handle.ingressState);
      handle.ingressState = undefined;
    }
  } catch (error) {
    if (fresh && !handle.before && !handle.ingressState) handles.delete(key);
    throw error;
  }
  handle.applyCount++;
  for (const [plan, direction] of [
    [egressPlan, "outgoing"],
    [ingressPlan, "incoming"],
  ] as const) {
    if (plan) for (const warning of netemAdvice(plan.settings, { iface, direction })) shell.log.warn(warning);
  }
  return handle;
}
