/**
 * `dummynet up FILE`: build the network and hold it until Ctrl-C, SIGTERM or
 * `dummynet down`; with --detach, the same in a background process.
 */
import { spawn } from "node:child_process";
import { closeSync, openSync, readFileSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { ensureStateDirectory, recordNetwork } from "../../lifecycle/owners.js";
import { processStartTime } from "../../system/proc.js";
import { formatTable } from "../../topology/describe.js";
import { globalsOf, load, print, UsageError, waitUntil, warn, type GlobalOptions } from "../command-io.js";
import {
  announcement,
  armExitWatchdog,
  outputSink,
  tellDetachingParent,
  withNetwork,
  type LifeOptions,
} from "../network-lifetime.js";
import { bold, dim, EXIT, red } from "../output.js";
import type { RunInfo } from "../../process/run-info.js";
import type { Lab } from "../../topology/lab.js";
import type { ProgramSpec, Topology } from "../../topology/model.js";

export type UpOptions = LifeOptions & DetachOptions & { detach?: boolean };

export async function up(file: string, options: UpOptions): Promise<number> {
  if (options.wait && !options.detach)
    throw new UsageError("--wait goes with --detach (without it, `up` holds the terminal and is ready when it prints)");
  return options.detach ? upDetached(file, options) : upInForeground(file, options);
}

async function upInForeground(file: string, options: LifeOptions): Promise<number> {
  const exitCode = await withNetwork(
    file,
    options,
    async ({ topology, built, stop, network }) => {
      const { startDaemons } = await import("../../topology/programs.js");
      const daemons = await startDaemons(built, {
        signal: stop.signal,
        ...(options.json ? {} : { onOutput: outputSink(true) }),
      });
      const daemonSpecs = built.topology.programs.filter((program) => program.daemon);
      network.programs = daemons.map((info, i) => ({
        name: daemonSpecs[i]?.name ?? String(info.cmd),
        host: daemonSpecs[i]?.host ?? "",
        pid: info.pid ?? null,
        startTime: info.pid === undefined ? null : (processStartTime(info.pid) ?? null),
      }));
      // Started before the announcement, so that a plan the network refuses fails `up --detach --wait` too;
      // its events print from the next timer tick on, after the announcement.
      const killed = topology.faults
        ? await followFileFaults(built, topology.faults, daemonSpecs, daemons, options)
        : new Set<string>();
      recordNetwork(built.uid, network);
      tellDetachingParent("ready", announcement(built.uid, network));
      if (options.json) {
        print(JSON.stringify(announcement(built.uid, network)));
      } else {
        print(`${bold(`network ${topology.name}`)} is up ${dim(`(owner uid ${built.uid}, pid ${process.pid})`)}`);
        print(formatTable(topology, new Map(Object.entries(network.hosts))));
        print(
          dim(
            `\nkeeping it up: Ctrl-C or \`dummynet down ${topology.name}\` removes it; \`dummynet exec HOST -- COMMAND\` runs in a host`,
          ),
        );
      }
      // A daemon that dies ends the network: nothing else would notice (one the file's faults kill is meant to).
      const watched = daemons.filter((_, i) => !killed.has(daemonSpecs[i]?.name ?? ""));
      const died =
        watched.length > 0
          ? Promise.race(watched.map((info) => info.finished)).then((dead) => dead.describe())
          : new Promise<string>(() => undefined);
      // Waiting on promises alone does not keep Node running: hold the process until a signal, `down` or a dead daemon.
      const hold = setInterval(() => undefined, 1 << 30);
      const outcome = await Promise.race([stop.wait().then(() => undefined), died]).finally(() => {
        clearInterval(hold);
      });
      if (outcome !== undefined) {
        warn(`${red("error", process.stderr)}: a daemon exited: ${outcome}`);
        return EXIT.failure;
      }
      return EXIT.ok;
    },
    true,
  );
  // The network is removed: nothing may keep this process now (`down` waits for it to exit).
  armExitWatchdog(exitCode);
  return exitCode;
}

/**
 * Starts the file's `faults:` on the network (program steps name its daemons) and prints each event as it
 * happens: a line of text, or with --json one JSON line `{"fault": event}`. Returns the daemons that a step
 * kills, which the network must not take for dead ones.
 */
async function followFileFaults(
  built: Lab,
  faults: NonNullable<Topology["faults"]>,
  specs: readonly ProgramSpec[],
  daemons: readonly RunInfo[],
  options: LifeOptions,
): Promise<Set<string>> {
  const { describeFaultEvent, filePlan, followSchedule } = await import("../../topology/lab-faults.js");
  const { plan, options: scheduleOptions } = filePlan(faults, new Map(specs.map((spec, i) => [spec.name, daemons[i]])));
  const schedule = built.schedule(plan, scheduleOptions);
  void followSchedule(schedule, (event) => {
    print(options.json ? JSON.stringify({ fault: event }) : `${dim("[faults]")} ${describeFaultEvent(event)}`);
  }).then((history) => {
    if (!options.json) {
      const failed = history.filter((event) => event.error !== undefined).length;
      print(dim(`[faults] the schedule is done: ${history.length} events${failed > 0 ? `, ${failed} failed` : ""}`));
    }
  });
  return new Set(Array.isArray(faults) ? faults.flatMap((step) => (step.kill === undefined ? [] : [step.kill])) : []);
}

interface DetachOptions extends GlobalOptions {
  json?: boolean;
  wait?: boolean;
  timeout: number;
}

/**
 * `up --detach`: the same command, started in the background (its own
 * session, output to a log file under the state directory), holds the
 * network; this one returns once it says the network is built (or, with
 * --wait, its daemons are ready). If it fails or takes longer than
 * --timeout, its log is shown, nothing is left, and the status is 1.
 */
async function upDetached(file: string, options: DetachOptions): Promise<number> {
  await load(file); // a bad file is refused here, before anything starts
  const logFile = join(ensureStateDirectory(), `up-${Date.now()}-${process.pid}.log`);
  const logFd = openSync(logFile, "a", 0o644);
  const rootless = options.rootless ? ["--rootless"] : [];
  const child = spawn(process.execPath, [...process.execArgv, process.argv[1], ...rootless, "up", resolve(file)], {
    detached: true,
    stdio: ["ignore", logFd, logFd, "pipe"],
    env: { ...process.env, DUMMYNET_ANNOUNCE_FD: "3", DUMMYNET_DETACHED_LOG: logFile },
  });
  closeSync(logFd);
  const wanted = options.wait ? "ready" : "built";
  const messages = child.stdio[3] as NodeJS.ReadableStream & { destroy(): void };
  let uid: number | undefined;
  const outcome = await new Promise<{ ok: true; message: Record<string, unknown> } | { ok: false; why: string }>(
    (settle) => {
      let buffered = "";
      const timer = setTimeout(() => {
        settle({ ok: false, why: `the network was not ${wanted} within ${options.timeout} ms (--timeout)` });
      }, options.timeout);
      const finish = (result: Parameters<typeof settle>[0]) => {
        clearTimeout(timer);
        settle(result);
      };
      messages.on("data", (chunk: Buffer) => {
        buffered += chunk.toString();
        let newline: number;
        while ((newline = buffered.indexOf("\n")) >= 0) {
          const line = buffered.slice(0, newline);
          buffered = buffered.slice(newline + 1);
          let message: Record<string, unknown>;
          try {
            message = JSON.parse(line) as Record<string, unknown>;
          } catch {
            continue; // not an announcement (a program that inherited the descriptor wrote to it)
          }
          if (typeof message["uid"] === "number") uid = message["uid"];
          if (message["phase"] === wanted) finish({ ok: true, message });
        }
      });
      child.on("error", (error) => {
        finish({ ok: false, why: error.message });
      });
      child.on("exit", (code, signal) => {
        finish({
          ok: false,
          why: `the background \`dummynet up\` ended (${code ?? signal}) before the network was ${wanted}`,
        });
      });
    },
  );
  if (outcome.ok) {
    messages.destroy();
    child.unref();
    const { phase: _phase, ...message } = outcome.message;
    if (options.json) print(JSON.stringify(message));
    else {
      print(String(message["name"]));
      warn(
        dim(
          `network ${String(message["name"])} is up in the background (pid ${child.pid}, log ${logFile}); \`dummynet down ${String(message["name"])}\` removes it`,
          process.stderr,
        ),
      );
    }
    return EXIT.ok;
  }
  // Failed or too slow: end it (it removes what it built), then make sure nothing is left.
  if (child.exitCode === null && child.signalCode === null) {
    child.kill("SIGTERM");
    const ended = await waitUntil(() => child.exitCode !== null || child.signalCode !== null, 60_000);
    if (!ended) child.kill("SIGKILL");
  }
  messages.destroy();
  const { reapDeadOwners } = await import("../../lifecycle/reaper.js");
  await waitUntil(() => child.exitCode !== null || child.signalCode !== null, 5_000);
  // The reaper removes the owner record too, if the background `up` could not.
  const owner = uid ?? child.pid;
  if (owner !== undefined) await reapDeadOwners({ only: [owner], ...globalsOf(options) });
  warn(
    `${red("error", process.stderr)}: up --detach ${file}${uid !== undefined ? ` (owner uid ${uid})` : ""}: ${outcome.why}; its log (${logFile}):`,
  );
  warn(readFileSync(logFile, "utf8").trimEnd().replace(/^/gm, "  "));
  rmSync(logFile, { force: true });
  return EXIT.failure;
}
