/**
 * A topology file's impairment checked with the traffic-control module's own
 * rules, its problems reported at the file's path; for links (check.ts) and
 * fault steps (fault-steps.ts) alike.
 */
import { describeValue, InvalidArgumentError } from "../errors.js";
import { checkNetemCombination, mergeNetem } from "../tc/netem-options.js";
import type { NetemOptions } from "../tc/netem-model.js";
import { validateNetemOptions } from "../tc/netem-validate.js";
import type { NodePath } from "./model.js";

/** Checks an impairment with the traffic-control module's own rules (ranges, models, combinations). */
export function checkImpairment(
  impair: NetemOptions,
  path: NodePath,
  report: (path: NodePath, message: string) => void,
): void {
  try {
    const options = validateNetemOptions(impair);
    checkNetemCombination(mergeNetem(undefined, options));
    if (typeof options.ingress === "object" && options.ingress !== null) {
      checkNetemCombination(mergeNetem(undefined, options.ingress), "ingress.");
    }
  } catch (error) {
    if (!(error instanceof InvalidArgumentError)) throw error;
    // The tc module names the option as "tc option ingress.delay": keep the option path.
    const where = error.argument.replace(/^.* /, "").split(".").filter(Boolean);
    report([...path, ...where], `${describeValue(error.value)} ${error.rule}`);
  }
}
