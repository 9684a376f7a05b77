/**
 * DummyNet.capture(): checks the host and interface, starts a Capture there
 * and registers its stop as an undo, so that cleanup stops it (before the
 * namespace it records goes) and the exit path kills it.
 */
import { InvalidArgumentError } from "../errors.js";
import type { NamespaceHandle } from "../network/ops/handle.js";
import { ROOT_NAMESPACE } from "../network/network-state.js";
import { parseIpJsonArray } from "../system/ip-json.js";
import { Capture, type CaptureOptions, validateCaptureOptions } from "./capture.js";
import { requireTcpdump } from "./tcpdump.js";
import { isRootless } from "../rootless/privilege.js";

/** Starts capturing `iface` of `host` (a namespace of the network, as the API accepts it). */
export async function captureOn(
  at: NamespaceHandle,
  host: unknown,
  iface: unknown,
  options: CaptureOptions,
): Promise<Capture> {
  validateCaptureOptions(options);
  const namespace = at.ns(host);
  at.requireNamespace(namespace);
  const link = at.iface(iface);
  const links = parseIpJsonArray<{ ifname: string }>(await at.ipIn(namespace.scoped, ["-j", "link", "show"]));
  if (!links.some((candidate) => candidate.ifname === link.scoped)) {
    const names = links.map((candidate) => candidate.ifname);
    throw new InvalidArgumentError(
      "iface",
      link.name,
      `is not an interface of host ${namespace.name} (${link.scoped} not found there); its interfaces: ${names.join(", ") || "none"}`,
    );
  }
  // Rootless captures run the packet engine (perl, always there), not tcpdump.
  if (!isRootless(at.shell.privilege)) requireTcpdump();
  const capture = await Capture.start(
    {
      privilege: at.shell.privilege,
      namespace: namespace.scoped === ROOT_NAMESPACE ? undefined : namespace.scoped,
      iface: link.scoped,
      what: `${namespace.name}-${link.name}`,
    },
    options,
  );
  at.register({
    namespace,
    targets: [link],
    links: [],
    reason: "capture",
    clean: async () => {
      // A failed capture does not fail cleanup: its error is for whoever calls stop().
      await capture.stop().catch(() => undefined);
    },
    cleanSync: () => {
      capture.stopSync();
    },
  });
  return capture;
}
