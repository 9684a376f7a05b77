/** `dummynet down [NETWORK]`: ask the process that holds a network to remove it; remove what a dead owner left. */
import { rmSync } from "node:fs";
import { print, printJson, waitUntil, warn } from "../command-io.js";
import { EXIT, green, red } from "../output.js";
import { DOWN_SIGNAL } from "../signals.js";
import { describeState, findNetwork, ownerAlive, removeState } from "../state.js";

export async function down(selector: string | undefined, options: { json?: boolean; timeout: number }): Promise<number> {
  const state = findNetwork(selector);
  if (ownerAlive(state)) {
    process.kill(state.pid, DOWN_SIGNAL);
    const gone = await waitUntil(() => !ownerAlive(state), options.timeout);
    if (!gone) {
      warn(`${red("error", process.stderr)}: ${describeState(state)} did not finish removing its network within ${options.timeout} ms`);
      return EXIT.failure;
    }
  }
  // An owner that died without cleaning up leaves its objects: remove them here.
  const { reapDeadOwners } = await import("../../lifecycle/reaper.js");
  const reaped = await reapDeadOwners({ only: [state.uid] });
  const removed = reaped.reaped.reduce((n, owner) => n + owner.objects.length, 0);
  removeState(state.uid);
  if (state.log) rmSync(state.log, { force: true });
  if (options.json) printJson({ name: state.name, uid: state.uid, removedLeftovers: removed, failures: reaped.failures });
  else print(`${green("removed")} ${state.name}${removed ? ` (and ${removed} leftover objects of its dead owner)` : ""}`);
  return reaped.failures.length > 0 ? EXIT.failure : EXIT.ok;
}
