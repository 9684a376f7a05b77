/** `dummynet doctor`: what this machine can do, with what to do about each missing feature. */
import type { RootlessReport } from "../../rootless/doctor.js";
import { isRoot, sudoWorksWithoutPassword } from "../../system/privilege.js";
import { print, printJson, type GlobalOptions } from "../command-io.js";
import { EXIT } from "../output.js";

export async function doctor(options: { json?: boolean } & GlobalOptions): Promise<number> {
  const { detectCapabilities, formatCapabilities } = await import("../../capabilities/index.js");
  const capabilities = await detectCapabilities();
  const { detectFidelity, formatFidelity } = await import("../../fidelity/machine-advice.js");
  const fidelity = await detectFidelity(capabilities);
  // Not root (or asked for): whether rootless mode works here, tried for real (rootless/doctor.ts).
  const rootlessWanted = !isRoot() || rootlessAsked(options);
  const { checkRootless, formatRootlessReport } = await import("../../rootless/doctor.js");
  const rootless = rootlessWanted ? await checkRootless() : undefined;
  const mode = privilegeMode(rootless, rootlessAsked(options));
  if (options.json) printJson({ mode, ...capabilities, fidelity, ...(rootless ? { rootless } : {}) });
  else
    print(
      [
        `Mode: ${mode.mode}: ${mode.why}`,
        formatCapabilities(capabilities),
        formatFidelity(fidelity),
        ...(rootless ? [formatRootlessReport(rootless)] : []),
      ].join("\n\n"),
    );
  return EXIT.ok;
}

/** Who asks for rootless mode, if anyone: `--rootless`, or DUMMYNET_ROOTLESS=1. */
function rootlessAsked(options: GlobalOptions): string | undefined {
  if (options.rootless) return "--rootless";
  if (process.env["DUMMYNET_ROOTLESS"] === "1") return "DUMMYNET_ROOTLESS=1";
  return undefined;
}

/** Which way the library gets its rights on this machine (as `rootless: "auto"` decides, unless asked), and why. */
export function privilegeMode(
  rootless: RootlessReport | undefined,
  asked: string | undefined,
): {
  mode: "root" | "sudo" | "rootless" | "none";
  why: string;
} {
  if (asked !== undefined) return { mode: "rootless", why: `${asked} asks for it; programs in hosts run as you` };
  const sudoUid = process.env["SUDO_UID"];
  if (isRoot())
    return sudoUid && sudoUid !== "0"
      ? { mode: "root", why: `this process is root, started by sudo: programs in hosts run as uid ${sudoUid}` }
      : { mode: "root", why: "this process is root: programs in hosts run as root" };
  if (sudoWorksWithoutPassword())
    return {
      mode: "sudo",
      why: `passwordless sudo works (root for this user): the network is built through sudo -n; programs in hosts run as you (uid ${process.getuid?.() ?? "?"})`,
    };
  if (rootless?.available)
    return {
      mode: "rootless",
      why: "not root and sudo needs a password or is missing, and user namespaces work: no root at all; programs run as you",
    };
  return {
    mode: "none",
    why: `not root, no passwordless sudo, and rootless mode is unavailable${rootless?.problem ? ` (${rootless.problem.reason}; ${rootless.problem.fix})` : ""}`,
  };
}
