/** `dummynet capture [NETWORK] HOST:IFACE -w FILE`: record an interface of a running (or kept) network into a pcap file. */
import { UsageError, print, printJson } from "../command-io.js";
import { EXIT, green } from "../output.js";
import { findNetwork, hostOf, privilegeOf } from "../networks.js";
import { StopSignals } from "../signals.js";

export interface CaptureFlags {
  write: string;
  seconds?: number;
  snaplen?: number;
  network?: string;
  json?: boolean;
}

export async function capture(targets: string[], flags: CaptureFlags): Promise<number> {
  if (targets.length < 1 || targets.length > 2)
    throw new UsageError(`expected [NETWORK] HOST:IFACE, got ${targets.length} arguments: ${targets.join(" ")}`);
  const target = targets.length === 2 ? targets[1] : targets[0];
  const selector = targets.length === 2 ? targets[0] : flags.network;
  const colon = target.indexOf(":");
  if (colon <= 0 || colon === target.length - 1)
    throw new UsageError(`"${target}" is not HOST:IFACE (e.g. client:eth0)`);
  if (flags.seconds !== undefined && !(flags.seconds > 0))
    throw new UsageError(`--seconds must be a positive number, got ${flags.seconds}`);
  const host = target.slice(0, colon);
  const state = await findNetwork(selector, { liveOnly: true });
  const namespace = hostOf(state, host);
  if (!Object.hasOwn(state.network.interfaces, target)) {
    const known = Object.keys(state.network.interfaces).filter((key) => key.startsWith(`${host}:`));
    throw new UsageError(
      `no interface "${target.slice(colon + 1)}" on host ${host} of ${state.network.name}; its interfaces: ${known.join(", ") || "none"}`,
    );
  }
  const iface = state.network.interfaces[target];
  const { Capture } = await import("../../evidence/capture.js");
  // Signals first: a Ctrl-C during the start still stops the capture in order.
  const stop = new StopSignals();
  const running = await Capture.start(
    { privilege: privilegeOf(state), namespace, iface, what: target },
    { file: flags.write, ...(flags.snaplen !== undefined ? { snaplen: flags.snaplen } : {}) },
  );
  if (!flags.json)
    print(
      `capturing ${target} of ${state.network.name} into ${running.file}; ${flags.seconds !== undefined ? `for ${flags.seconds} s` : "Ctrl-C stops"}`,
    );
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    stop.wait(),
    new Promise<void>((resolve) => {
      if (flags.seconds !== undefined) timer = setTimeout(resolve, flags.seconds * 1000);
    }),
  ]);
  clearTimeout(timer);
  const result = await running.stop();
  if (flags.json) printJson(result);
  else print(`${green("captured")} ${result.packets} packets (${result.bytes} bytes) into ${result.file}`);
  return EXIT.ok;
}
