/** `dummynet probe [NETWORK] FROM TO`: measure loss, reordering, round trips (and TCP goodput) on a path of a running network. */
import { DummyNetError, InvalidArgumentError } from "../../errors.js";
import type { ProbePlan } from "../../probe/probe.js";
import { signalExitStatus } from "../../process/exit-status.js";
import { logger, print, printJson, UsageError } from "../command-io.js";
import { EXIT } from "../output.js";
import { StopSignals } from "../signals.js";
import { findNetwork, hostOf, privilegeOf } from "../networks.js";

export interface ProbeFlags {
  network?: string;
  count?: number;
  intervalMs?: number;
  size?: number;
  address?: string;
  tcp?: boolean;
  tcpSeconds?: number;
  timeout?: number;
  json?: boolean;
}

export async function probe(hosts: string[], flags: ProbeFlags): Promise<number> {
  if (hosts.length < 2 || hosts.length > 3)
    throw new UsageError(
      `expected [NETWORK] FROM TO, got ${hosts.length} argument(s): dummynet probe [NETWORK] FROM TO`,
    );
  if (hosts.length === 3 && flags.network !== undefined)
    throw new UsageError("give the network once: as the first argument or with --network");
  const [from, to] = hosts.slice(-2) as [string, string];
  const selector = hosts.length === 3 ? hosts[0] : flags.network;
  const { checkProbeOptions, probeEndpoints } = await import("../../probe/probe.js");
  const { describeProbeReport } = await import("../../probe/describe.js");
  let plan: ProbePlan;
  try {
    const tcp = flags.tcpSeconds !== undefined ? { seconds: flags.tcpSeconds } : flags.tcp;
    const given = {
      count: flags.count,
      intervalMs: flags.intervalMs,
      size: flags.size,
      address: flags.address,
      tcp,
      timeout: flags.timeout,
    };
    plan = checkProbeOptions(Object.fromEntries(Object.entries(given).filter(([, value]) => value !== undefined)));
  } catch (error) {
    if (error instanceof DummyNetError) throw new UsageError(error.message);
    throw error;
  }
  const state = await findNetwork(selector, { liveOnly: true });
  // As for impair: the network belongs to the `up` process, so no DummyNet here, only shells into its hosts.
  const [{ HostShell }, { NamespaceShell }] = await Promise.all([
    import("../../shell/host-shell.js"),
    import("../../shell/namespace-shell.js"),
  ]);
  const hostShell = new HostShell({ log: await logger(), privilege: privilegeOf(state) });
  const endpoint = (host: string) => ({
    name: host,
    shell: new NamespaceShell(hostOf(state, host), hostShell),
  });
  const [fromHost, toHost] = [endpoint(from), endpoint(to)];
  const stop = new StopSignals();
  try {
    const report = await probeEndpoints(fromHost, toHost, { ...plan, signal: stop.signal });
    if (flags.json) printJson({ network: state.network.name, ...report });
    else print(describeProbeReport(report));
    return EXIT.ok;
  } catch (error) {
    if (stop.received) return signalExitStatus(stop.received);
    if (error instanceof InvalidArgumentError) throw new UsageError(error.message);
    throw error;
  } finally {
    stop.dispose();
    await hostShell.processMonitor.stop({ validateState: false });
  }
}
