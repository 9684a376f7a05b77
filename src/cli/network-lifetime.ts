/**
 * The life of a network that `up` or `run` holds: build it, record it for the
 * other commands (`exec`, `down`, `ls`...), do the command's work, remove
 * everything whatever happened; and the messages of a background `up` to the
 * `up --detach` that started it.
 */
import { spawn } from "node:child_process";
import { closeSync, writeSync } from "node:fs";
import type { Socket } from "node:net";
import { resolve } from "node:path";
import { controlSocketPath, ownerRecordPath, recordNetwork, type NetworkRecord } from "../lifecycle/owners.js";
import type { DummyNet } from "../network/dummy-net.js";
import { signalExitStatus } from "../process/exit-status.js";
import { isRootless } from "../rootless/privilege.js";
import type { Privilege } from "../system/privilege.js";
import { interfaceRows } from "../topology/describe.js";
import type { Lab } from "../topology/lab.js";
import type { Topology } from "../topology/model.js";
import type { OutputSink } from "../topology/programs.js";
import { load, logger, warn, type GlobalOptions } from "./command-io.js";
import type { FaultControl } from "./fault-control.js";
import { dim, EXIT, Progress, red } from "./output.js";
import { DOWN_SIGNAL, StopSignals } from "./signals.js";

async function namesOf(topology: Topology, uid: number): Promise<Pick<NetworkRecord, "hosts" | "interfaces">> {
  const { InterfaceScoped, NamespaceScoped } = await import("../names/scoped.js");
  const hosts = Object.fromEntries(
    topology.hosts.map((host) => [host.name, new NamespaceScoped(host.name, uid).scoped]),
  );
  const interfaces = Object.fromEntries(
    interfaceRows(topology).map((row) => [`${row.host}:${row.iface}`, new InterfaceScoped(row.iface, uid).scoped]),
  );
  return { hosts, interfaces };
}

export interface LifeOptions extends GlobalOptions {
  json?: boolean;
  host?: string;
  command?: string[];
}

/**
 * Builds FILE, runs `work`, removes everything. `dummynet down` (SIGUSR2) is
 * the normal end of `up` (exit 0); for `run` it ends the job early, a failure.
 */
export async function withNetwork(
  file: string,
  options: LifeOptions,
  work: (ctx: NetworkContext) => Promise<number>,
  downEndsNormally = false,
): Promise<number> {
  const topology = await load(file);
  const { buildTopology } = await import("../topology/lab.js");
  const stop = new StopSignals();
  const progress = new Progress();
  let exitCode: number = EXIT.ok;
  let lab: Lab | undefined;
  let control: FaultControl | undefined;
  try {
    // exitCleanup off: this command handles the signals itself (and SIGUSR2 from `dummynet down`).
    lab = await buildTopology(topology, {
      log: await logger(),
      exitCleanup: false,
      ...(options.rootless ? { rootless: true } : {}),
      signal: stop.signal,
      onProgress: ({ done, total, step }) => {
        progress.update(done, total, step);
      },
    });
    const { net } = lab;
    progress.done();
    // `dummynet fault` asks this process, so that its faults are the network's and go with it.
    const { FaultControl } = await import("./fault-control.js");
    control = await FaultControl.listen(controlSocketPath(net.uid), lab);
    // Into the owner record the network's DummyNet holds: it goes when the network does (cleanup gives the uid back).
    const network: NetworkRecord = {
      name: topology.name,
      file: resolve(file),
      ...(await namesOf(topology, net.uid)),
      peers: Object.fromEntries(interfaceRows(topology).map((row) => [`${row.host}:${row.iface}`, row.peer])),
      ...(DETACHED.log ? { log: DETACHED.log } : {}),
      ...rootlessHolderOf(net),
      control: control.path,
    };
    recordNetwork(net.uid, network);
    tellDetachingParent("built", announcement(net.uid, network));
    exitCode = await work({ topology, net, built: lab, stop, network, options });
  } catch (error) {
    progress.done();
    if (!stop.received) {
      warn(`${red("error", process.stderr)}: ${(error as Error).message}`);
      exitCode = EXIT.failure;
    }
  } finally {
    if (stop.received && !options.json) warn(dim(`dummynet: ${stop.received}: removing the network`, process.stderr));
    await control?.close();
    try {
      await lab?.cleanup();
    } catch (error) {
      warn(`${red("error", process.stderr)}: cleanup: ${(error as Error).message}`);
      if (exitCode === EXIT.ok) exitCode = EXIT.failure;
    }
    stop.dispose();
  }
  if (stop.received === DOWN_SIGNAL) {
    if (downEndsNormally) return EXIT.ok;
    warn(`${red("error", process.stderr)}: \`dummynet down\` removed the network before the job finished`);
    return EXIT.failure;
  }
  if (stop.received) return signalExitStatus(stop.received);
  return exitCode;
}

/** The holder a rootless network lives in, for the owner record: the other commands of this user enter it. */
function rootlessHolderOf(net: DummyNet): Pick<NetworkRecord, "rootlessHolder"> {
  const privilege = (net.shell as { privilege?: Privilege }).privilege;
  const holder = privilege !== undefined && isRootless(privilege) ? privilege.holder : undefined;
  return holder === undefined ? {} : { rootlessHolder: { pid: holder.pid, startTime: holder.startTime } };
}

export interface NetworkContext {
  topology: Topology;
  net: DummyNet;
  built: Lab;
  stop: StopSignals;
  /** What the owner record says about the network; `up` adds its daemons and records it again. */
  network: NetworkRecord;
  options: LifeOptions;
}

export function outputSink(prefixed: boolean): OutputSink {
  return (program, stream, line) => {
    const text = prefixed
      ? `${dim(`[${program}]`, stream === "stdout" ? process.stdout : process.stderr)} ${line}\n`
      : `${line}\n`;
    (stream === "stdout" ? process.stdout : process.stderr).write(text);
  };
}

/** What `up --json` (and `up --detach --json`) prints once the network is up. */
export function announcement(uid: number, network: NetworkRecord) {
  return {
    name: network.name,
    uid,
    pid: process.pid,
    stateFile: ownerRecordPath(uid),
    hosts: network.hosts,
    interfaces: network.interfaces,
  };
}

/** Set by `up --detach` for the background `up` it starts; taken out of the environment so that its programs do not inherit them. */
const DETACHED = (() => {
  const fd = Number(process.env["DUMMYNET_ANNOUNCE_FD"]);
  const log = process.env["DUMMYNET_DETACHED_LOG"];
  delete process.env["DUMMYNET_ANNOUNCE_FD"];
  delete process.env["DUMMYNET_DETACHED_LOG"];
  return { announceFd: Number.isInteger(fd) && fd >= 3 ? fd : undefined, log: log || undefined };
})();

/**
 * The background `up` of `up --detach` tells its parent how far it got, one
 * JSON line per phase on the descriptor DUMMYNET_ANNOUNCE_FD names: "built"
 * (the network exists and is recorded), then "ready" (its daemons are ready).
 */
export function tellDetachingParent(phase: "built" | "ready", message: object): void {
  const fd = DETACHED.announceFd;
  if (fd === undefined) return;
  try {
    writeSync(fd, `${JSON.stringify({ phase, ...message })}\n`);
    if (phase === "ready") closeSync(fd);
  } catch {
    // The parent returned at "built" (no --wait) and closed its end: nobody to tell.
  }
}

/** The lines the exit watchdog writes start with this; `down` shows them (they land in a background `up`'s log). */
export const EXIT_WATCHDOG_MARK = "dummynet: exit watchdog:";
/** How long a process may take to exit once its network is removed before it ends itself, saying what kept it. */
const EXIT_WITHIN_MS = 5_000;
/** How long before the watchdog process kills it: a spinning event loop or a stuck exit cannot stop a kill. */
const KILL_AFTER_MS = 15_000;

/**
 * The watchdog's script: $1 seconds, $2 the pid. `cat` reads a pipe whose
 * other end only the watched process holds, so it sees EOF when every thread
 * of that process has gone (never a later process with the same pid), and
 * the watchdog ends with it; `timeout` (124) means it still runs.
 */
const WATCHDOG_SCRIPT = [
  'timeout "$1" cat >/dev/null',
  '[ "$?" -eq 124 ] || exit 0',
  `echo "${EXIT_WATCHDOG_MARK} pid $2 still ran $1 s after removing its network: killed it (SIGKILL)" >&2`,
  'kill -KILL "$2"',
].join("\n");

/**
 * Called once the network is removed and the process is about to exit:
 * makes sure it does. Nothing should keep it (main exits at once), but a
 * background `up` that lingers after `down` holds no network and nobody
 * watches it. After EXIT_WITHIN_MS it logs what keeps its event loop alive
 * and exits; if even that cannot run (a loop that spins, an exit that does
 * not finish), a watchdog process kills it after KILL_AFTER_MS.
 */
export function armExitWatchdog(exitCode: number): void {
  setTimeout(() => {
    const keeping = process.getActiveResourcesInfo(); // this timer is unref'd: not in the list
    warn(
      `${EXIT_WATCHDOG_MARK} pid ${process.pid} still ran ${EXIT_WITHIN_MS} ms after removing its network, kept alive by: ${keeping.join(", ") || "nothing it can name"}; exiting`,
    );
    process.exit(exitCode);
  }, EXIT_WITHIN_MS).unref();
  try {
    const watchdog = spawn(
      "sh",
      ["-c", WATCHDOG_SCRIPT, "dummynet-exit-watchdog", String(KILL_AFTER_MS / 1000), String(process.pid)],
      {
        stdio: ["pipe", "ignore", "inherit"],
      },
    );
    watchdog.on("error", () => undefined); // no sh: the in-process bound alone
    watchdog.stdin.on("error", () => undefined);
    watchdog.unref();
    (watchdog.stdin as unknown as Socket).unref();
  } catch {
    // Could not start it (out of processes): the in-process bound alone.
  }
}
