/** `dummynet doctor`: what this machine can do, with what to do about each missing feature. */
import { isRoot } from "../../system/privilege.js";
import { print, printJson } from "../command-io.js";
import { EXIT } from "../output.js";

export async function doctor(options: { json?: boolean }): Promise<number> {
  const { detectCapabilities, formatCapabilities } = await import("../../capabilities/index.js");
  const capabilities = await detectCapabilities();
  const { detectFidelity, formatFidelity } = await import("../../capabilities/fidelity-advice.js");
  const fidelity = await detectFidelity(capabilities);
  // Not root (or asked for): whether rootless mode works here, tried for real (rootless/doctor.ts).
  const rootlessWanted = !isRoot() || process.env["DUMMYNET_ROOTLESS"] === "1";
  const { checkRootless, formatRootlessReport } = await import("../../rootless/doctor.js");
  const rootless = rootlessWanted ? await checkRootless() : undefined;
  if (options.json) printJson({ ...capabilities, fidelity, ...(rootless ? { rootless } : {}) });
  else
    print(
      [
        formatCapabilities(capabilities),
        formatFidelity(fidelity),
        ...(rootless ? [formatRootlessReport(rootless)] : []),
      ].join("\n\n"),
    );
  return EXIT.ok;
}
