/**
 * Incoming traffic of a link, shaped through an IFB device: the device (named
 * with the owner's prefix), an ingress qdisc and a filter that redirects every
 * incoming packet to it; netem-apply.ts puts netem on the IFB's root.
 */
import { SystemCommandError } from "../errors.js";
import { InterfaceScoped } from "../names/scoped.js";
import type { NetemSettings } from "./netem-model.js";
import type { KnownTables, QdiscJson, TcShell } from "./netem-read.js";

/** Preference of the ingress redirect filter this library installs. */
const REDIRECT_FILTER_PREF = "208";

/** The IFB of a shaped link's incoming traffic and what netem on it holds. */
export interface IngressState {
  ifb: string;
  /** The ingress qdisc was added by us (else we added only a filter to someone's). */
  createdQdisc: boolean;
  settings: NetemSettings | undefined;
  tables: KnownTables;
  userLimit: boolean;
}

/** The name of the IFB that shapes the incoming traffic of `iface` for `ownerUid` (from the interface's index). */
export async function ifbOf(shell: TcShell, iface: string, ownerUid: number): Promise<string> {
  const result = await shell.system(["ip", "-j", "link", "show", "dev", iface]);
  const ifindex = (JSON.parse(result.stdout) as Array<{ ifindex: number }>)[0].ifindex;
  return new InterfaceScoped(ifindex <= 99999 ? `ifb${ifindex}` : `i${ifindex}`, ownerUid).scoped;
}

/** Creates the IFB device and the redirect; undoes its own steps when one fails. */
export async function setUpIngress(
  shell: TcShell,
  iface: string,
  ownerUid: number,
  qdiscs: QdiscJson[],
): Promise<IngressState> {
  const ifb = await ifbOf(shell, iface, ownerUid);
  const hasIngressQdisc = qdiscs.some((qdisc) => qdisc.kind === "ingress" || qdisc.kind === "clsact");
  const state: IngressState = {
    ifb,
    createdQdisc: !hasIngressQdisc,
    settings: undefined,
    tables: {},
    userLimit: false,
  };
  const undo: Array<() => Promise<unknown>> = [];
  try {
    await shell.system(["ip", "link", "add", ifb, "type", "ifb"]);
    undo.push(() => shell.system(["ip", "link", "del", ifb]));
    await shell.system(["ip", "link", "set", ifb, "up"]);
    if (!hasIngressQdisc) {
      await shell.system(["tc", "qdisc", "add", "dev", iface, "handle", "ffff:", "ingress"]);
      undo.push(() => shell.system(["tc", "qdisc", "del", "dev", iface, "ingress"]));
    }
    const filter = ["tc", "filter", "add", "dev", iface, "ingress", "protocol", "all", "pref", REDIRECT_FILTER_PREF];
    const redirect = ["action", "mirred", "egress", "redirect", "dev", ifb];
    try {
      await shell.system([...filter, "matchall", ...redirect]);
    } catch (error) {
      // Kernels without cls_matchall still have u32; a zero mask matches every packet.
      if (!(
        error instanceof SystemCommandError && /filter kind|Unknown filter|classifier not found/i.test(error.stderr)
      ))
        throw error;
      await shell.system([...filter, "u32", "match", "u32", "0", "0", ...redirect]);
    }
    return state;
  } catch (error) {
    for (const step of undo.reverse()) await step().catch(() => undefined);
    throw error;
  }
}

export async function removeIngress(shell: TcShell, iface: string, state: IngressState): Promise<void> {
  try {
    if (state.createdQdisc) await shell.system(["tc", "qdisc", "del", "dev", iface, "ingress"]);
    else await shell.system(["tc", "filter", "del", "dev", iface, "ingress", "pref", REDIRECT_FILTER_PREF]);
  } finally {
    // The IFB is ours whatever happened to the interface (it may be gone with its namespace).
    await shell.system(["ip", "link", "del", state.ifb]);
  }
}
