/**
 * Whether a network runs rootless: the `rootless` option, else
 * DUMMYNET_ROOTLESS, else "auto" (rootless when this process is not root and
 * sudo does not work without a password; the log says so).
 */
import { InvalidArgumentError } from "../errors.js";
import type { Logger } from "../log.js";
import { isRoot, sudoWorksWithoutPassword } from "../system/privilege.js";

/**
 * The `rootless` option: on, off, or decided by the machine.
 * @inline
 */
export type RootlessOption = boolean | "auto";

let autoDecision: boolean | undefined;

/** The rootless option in effect: `option` when it is true or false, else DUMMYNET_ROOTLESS when set, else "auto". */
function rootlessSetting(option: unknown, env: NodeJS.ProcessEnv = process.env): RootlessOption {
  if (option !== undefined && option !== true && option !== false && option !== "auto") {
    throw new InvalidArgumentError("rootless", option, 'must be true, false or "auto"');
  }
  if (option === true || option === false) return option;
  const text = env["DUMMYNET_ROOTLESS"];
  if (text === undefined || text === "" || text === "auto") return "auto";
  if (text === "1" || text === "true") return true;
  if (text === "0" || text === "false") return false;
  throw new InvalidArgumentError(
    "DUMMYNET_ROOTLESS",
    text,
    'must be 1 (rootless), 0 (not rootless) or "auto" (rootless when not root and without passwordless sudo)',
  );
}

/** Whether to run rootless; "auto" asks once per process (`sudo -n true`) and logs the choice at info. */
export function useRootless(option: unknown, log: Logger): boolean {
  const setting = rootlessSetting(option);
  if (setting !== "auto") return setting;
  if (autoDecision === undefined) {
    autoDecision = !isRoot() && !sudoWorksWithoutPassword();
    if (autoDecision) {
      const message =
        "dummynet runs rootless: this process is not root and sudo needs a password; the network lives in a user namespace of this user (pass rootless: false to use sudo instead)";
      log.info(message);
      // Said once per process even with the default (silent) logger: the mode changes what works (no cgroups, no host links).
      process.emitWarning(message, { code: "DUMMYNET_ROOTLESS_AUTO" });
    }
  }
  return autoDecision;
}
