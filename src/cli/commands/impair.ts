/** `dummynet impair HOST:IFACE --delay ...`: change the netem impairment of a link of a running network. */
import { DummyNetError } from "../../errors.js";
import type { NetemOptions } from "../../tc/netem-model.js";
import { describeImpairment } from "../../topology/describe.js";
import { logger, print, printJson, UsageError } from "../command-io.js";
import { netemFromFlags } from "../netem-flags.js";
import { dim, EXIT, green } from "../output.js";
import { findNetwork, hostOf, privilegeOf } from "../networks.js";

export async function impair(target: string, flags: Record<string, unknown>): Promise<number> {
  const colon = target.indexOf(":");
  if (colon <= 0) throw new UsageError(`"${target}" is not HOST:IFACE, e.g. client:eth0`);
  const host = target.slice(0, colon);
  const iface = target.slice(colon + 1);
  const state = await findNetwork(flags["network"] as string | undefined, { liveOnly: true });
  hostOf(state, host);
  if (!state.network.interfaces[`${host}:${iface}`]) {
    const known = Object.keys(state.network.interfaces).filter((key) => key.startsWith(`${host}:`));
    throw new UsageError(
      `no interface "${iface}" in host ${host} of ${state.network.name}; its interfaces: ${known.join(", ") || "none"}`,
    );
  }
  const options = netemFromFlags(flags);
  if (Object.keys(options).length === 0)
    throw new UsageError("say what to change, e.g. --delay 20 --loss 1 (see dummynet impair --help)");
  const { validateNetemOptions } = await import("../../tc/netem-validate.js");
  let checked: NetemOptions;
  try {
    checked = validateNetemOptions(options);
  } catch (error) {
    if (error instanceof DummyNetError) throw new UsageError(error.message);
    throw error;
  }
  // The network belongs to the `up` process: no DummyNet here (it would record itself as the
  // owner and undo its change on exit); the library's tc layer changes the link and leaves it so.
  const [{ HostShell }, { NamespaceShell }, { applyNetem }] = await Promise.all([
    import("../../shell/host-shell.js"),
    import("../../shell/namespace-shell.js"),
    import("../../tc/netem.js"),
  ]);
  const hostShell = new HostShell({ log: await logger(), privilege: privilegeOf(state) });
  const shell = new NamespaceShell(hostOf(state, host), hostShell);
  const scopedIface = state.network.interfaces[`${host}:${iface}`];
  await applyNetem(shell, scopedIface, checked, { uid: state.uid });
  const shown = await shell.system(["tc", "qdisc", "show", "dev", scopedIface]);
  if (flags["json"])
    printJson({
      network: state.network.name,
      host,
      interface: iface,
      options: checked,
      qdiscs: shown.stdout.trim().split("\n"),
    });
  else {
    print(`${green("impaired")} ${host}:${iface}: ${describeImpairment(checked)}`);
    print(dim(shown.stdout.trim()));
  }
  return EXIT.ok;
}
