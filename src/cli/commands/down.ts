/** `dummynet down [NETWORK]`: ask the process that holds a network to remove it; remove what a dead owner or a kept test left. */
import { existsSync, readFileSync, rmSync } from "node:fs";
import { ownerRecordPath } from "../../lifecycle/owners.js";
import { processRuns, readStatSync } from "../../system/proc.js";
import { globalsOf, print, printJson, waitUntil, warn, type GlobalOptions } from "../command-io.js";
import { EXIT_WATCHDOG_MARK } from "../network-lifetime.js";
import { describeNetwork, findNetwork } from "../networks.js";
import { EXIT, green, red, yellow } from "../output.js";
import { DOWN_SIGNAL } from "../signals.js";

export async function down(
  selector: string | undefined,
  options: { json?: boolean; timeout: number } & GlobalOptions,
): Promise<number> {
  const state = await findNetwork(selector);
  // "Removed" means the holding process has gone too (every thread of it), not only its record or its network.
  const runs = () => processRuns(state.pid, state.startTime);
  // A kept test network (DUMMYNET_KEEP=on-failure) belongs to no process any more (its test run may still be
  // running other tests, which must not be signalled): it is removed here, as a dead owner's leftovers are.
  if (!state.kept && runs()) {
    signal(state.pid);
    // Its cleanup removes the owner record last: from then on, only the process's own exit is awaited.
    const removed = await waitUntil(() => !runs() || !existsSync(ownerRecordPath(state.uid)), options.timeout);
    if (!removed) {
      warn(
        `${red("error", process.stderr)}: ${describeNetwork(state)} did not finish removing its network within ${options.timeout} ms`,
      );
      return EXIT.failure;
    }
    if (!(await waitUntil(() => !runs(), options.timeout))) {
      const stat = readStatSync(state.pid);
      const how = stat ? ` (state ${stat.state}, ${(stat.utime + stat.stime).toFixed(1)} s of CPU)` : "";
      const log = state.network.log ? `; its log: ${state.network.log}` : "";
      warn(
        `${red("error", process.stderr)}: ${describeNetwork(state)} removed its network but its process, pid ${state.pid}${how}, has not exited ${options.timeout} ms later${log}; \`kill ${state.pid}\` ends it`,
      );
      return EXIT.failure;
    }
  }
  // An owner that died without cleaning up leaves its objects and its record: the reaper removes both.
  const { reapDeadOwners } = await import("../../lifecycle/reaper.js");
  const reaped = await reapDeadOwners({
    only: [state.uid],
    ...(state.kept ? { force: [state.uid] } : {}),
    ...globalsOf(options),
  });
  const removed = reaped.reaped.reduce((n, owner) => n + owner.objects.length, 0);
  const watchdog = watchdogLines(state.network.log);
  for (const line of watchdog) warn(`${yellow("warning", process.stderr)}: ${line}`);
  if (state.network.log) rmSync(state.network.log, { force: true });
  if (options.json)
    printJson({
      name: state.network.name,
      uid: state.uid,
      removedLeftovers: removed,
      failures: reaped.failures,
      ...(watchdog.length ? { exitWatchdog: watchdog } : {}),
    });
  else
    print(
      `${green("removed")} ${state.network.name}${removed ? ` (and ${removed} leftover objects of its dead owner)` : ""}`,
    );
  return reaped.failures.length > 0 ? EXIT.failure : EXIT.ok;
}

function signal(pid: number): void {
  try {
    process.kill(pid, DOWN_SIGNAL);
  } catch {
    // Ended meanwhile: the reaper below removes what it left.
  }
}

/** What the exit watchdog of a background `up` said in its log (it had to end the process): worth showing before the log goes. */
function watchdogLines(log: string | undefined): string[] {
  if (!log) return [];
  try {
    return readFileSync(log, "utf8")
      .split("\n")
      .filter((line) => line.startsWith(EXIT_WATCHDOG_MARK));
  } catch {
    return [];
  }
}
