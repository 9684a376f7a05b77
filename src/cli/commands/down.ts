/** `dummynet down [NETWORK]`: ask the process that holds a network to remove it; remove what a dead owner left. */
import { rmSync } from "node:fs";
import { print, printJson, waitUntil, warn } from "../command-io.js";
import { EXIT, green, red } from "../output.js";
import { DOWN_SIGNAL } from "../signals.js";
import { describeNetwork, findNetwork, isAlive } from "../networks.js";

export async function down(selector: string | undefined, options: { json?: boolean; timeout: number }): Promise<number> {
  const state = await findNetwork(selector);
  if (isAlive(state)) {
    process.kill(state.pid, DOWN_SIGNAL);
    const gone = await waitUntil(() => !isAlive(state), options.timeout);
    if (!gone) {
      warn(`${red("error", process.stderr)}: ${describeNetwork(state)} did not finish removing its network within ${options.timeout} ms`);
      return EXIT.failure;
    }
  }
  // An owner that died without cleaning up leaves its objects and its record: the reaper removes both.
  const { reapDeadOwners } = await import("../../lifecycle/reaper.js");
  const reaped = await reapDeadOwners({ only: [state.uid] });
  const removed = reaped.reaped.reduce((n, owner) => n + owner.objects.length, 0);
  if (state.network.log) rmSync(state.network.log, { force: true });
  if (options.json) printJson({ name: state.network.name, uid: state.uid, removedLeftovers: removed, failures: reaped.failures });
  else print(`${green("removed")} ${state.network.name}${removed ? ` (and ${removed} leftover objects of its dead owner)` : ""}`);
  return reaped.failures.length > 0 ? EXIT.failure : EXIT.ok;
}
