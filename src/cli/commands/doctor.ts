/** `dummynet doctor`: what this machine can do, with what to do about each missing feature. */
import { print, printJson } from "../command-io.js";
import { EXIT } from "../output.js";

export async function doctor(options: { json?: boolean }): Promise<number> {
  const { detectCapabilities, formatCapabilities } = await import("../../capabilities/index.js");
  const capabilities = await detectCapabilities();
  const { detectFidelity, formatFidelity } = await import("../../capabilities/fidelity-advice.js");
  const fidelity = await detectFidelity(capabilities);
  if (options.json) printJson({ ...capabilities, fidelity });
  else print(`${formatCapabilities(capabilities)}\n\n${formatFidelity(fidelity)}`);
  return EXIT.ok;
}
