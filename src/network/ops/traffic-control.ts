/**
 * Traffic control: netem on a link (both directions), read back and shown.
 * The tc modules load on first use: most networks never impair a link. The
 * network keeps one TcHandles, so later calls on a link find what the first
 * one saw.
 */
import type { InterfaceScoped } from "../../names/scoped.js";
import type { RunInfo } from "../../process/run-info.js";
import type { AppliedQdisc, NetemOptions } from "../../tc/netem.js";
import type { NamespaceHandle } from "./handle.js";

export class TrafficControl {
  constructor(private readonly at: NamespaceHandle) {}

  async tc(iface: unknown, options: NetemOptions): Promise<void> {
    const at = this.at;
    const link: InterfaceScoped = at.iface(iface);
    // Loaded on first use: most networks never impair a link.
    const { applyNetem, TcHandles, validateNetemOptions } = await import("../../tc/netem.js");
    const checked = validateNetemOptions(options);
    at.refuseHostInRootless("tc");
    const handles = (at.network.tcHandles ??= new TcHandles());
    const handle = await applyNetem(at.shell, link.scoped, checked, { uid: at.uid, handles });
    // One undo per interface: later calls change the same handle, whose restore puts back what was there first.
    if (handle.applyCount === 1) {
      at.register({
        targets: [link],
        reason: "tc",
        obsoleteWhen: at.diesWithLinks(link),
        clean: () => handle.restore(),
        // Its qdiscs and IFB went with the link's namespace: a later network must not inherit the handle.
        discard: () => {
          handles.discard(at.shell, link.scoped);
        },
      });
    }
  }

  async read(iface: unknown): Promise<AppliedQdisc | undefined> {
    const link = this.at.iface(iface);
    const { readNetem } = await import("../../tc/netem.js");
    return readNetem(this.at.shell, link.scoped);
  }

  async show(iface: unknown): Promise<RunInfo> {
    const link = this.at.iface(iface);
    return this.at.shell.run(["tc", "qdisc", "show", "dev", link.scoped]);
  }
}
