#!/usr/bin/env node
/**
 * The `dummynet` command: topology files in, test networks up and down.
 * Exit status: 0 ok; 1 failure; 2 usage or validation error; `run` exits
 * with its job's status; 128+N when ended by signal N (130 Ctrl-C, 143 SIGTERM).
 */
import { Argument, Command, CommanderError, InvalidArgumentError as CommanderArgumentError, Option } from "commander";
import { spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { join, resolve } from "node:path";
// Only what every command needs is imported here: each start of the command pays for its imports
// (seconds in the kernel lab's emulated machine), so the topology engine, the YAML parser and
// schema validator, tc, probe and the reaper are loaded (import()) by the commands that use them.
import { DummyNetError, InvalidArgumentError } from "../errors.js";
import type { DummyNet } from "../network/dummy-net.js";
import type { NetemSettings, TcOptions } from "../tc/netem-options.js";
import type { Lab } from "../topology/lab.js";
import { describeImpairment, formatTable, interfaceRows } from "../topology/describe.js";
import { formatIssue, TopologyError } from "../topology/errors.js";
import type { Impairment, ProgramSpec, Topology } from "../topology/model.js";
import type { OutputSink } from "../topology/programs.js";
import { bold, dim, EXIT, green, Progress, red, signalExitCode, switchColourOff, yellow } from "./output.js";
import { completionScript, SHELLS, type Shell } from "./completion.js";
import { addNetemOptions, netemFromFlags } from "./netem-flags.js";
import type { Owner, SkippedStep } from "../lifecycle/reaper.js";
import type { ProbePlan } from "../probe/probe.js";
import { DOWN_SIGNAL, StopSignals } from "./signals.js";
import {
  describeState,
  findNetwork,
  listStates,
  ownerAlive,
  processStartTime,
  removeState,
  stateDir,
  statePath,
  UsageError,
  writeState,
  type NetworkState,
} from "./state.js";

/** Ends the command with `code`, after stdout has drained. */
class Exit extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}

const print = (text: string) => process.stdout.write(text.endsWith("\n") ? text : `${text}\n`);
const printJson = (value: unknown) => print(JSON.stringify(value, null, 2));
const warn = (text: string) => process.stderr.write(`${text}\n`);
const logger = async () => (await import("../log.js")).createLogger((process.env["DUMMYNET_LOG"] as "debug" | "info" | "warn" | "error" | undefined) ?? "error");

async function load(file: string): Promise<Topology> {
  const { loadTopology } = await import("../topology/load.js");
  try {
    return await loadTopology(file);
  } catch (error) {
    if (error instanceof TopologyError) {
      warn(`${red("error", process.stderr)}: ${file} is not a valid topology (nothing was changed):`);
      for (const issue of error.problems) warn(`  ${formatIssue(issue)}`);
      throw new Exit(EXIT.usage);
    }
    throw error;
  }
}

async function namesOf(topology: Topology, uid: number): Promise<Pick<NetworkState, "hosts" | "interfaces">> {
  const { InterfaceScoped, NamespaceScoped } = await import("../names/scoped.js");
  const hosts = Object.fromEntries(topology.hosts.map((host) => [host.name, new NamespaceScoped(host.name, uid).scoped]));
  const interfaces = Object.fromEntries(interfaceRows(topology).map((row) => [`${row.host}:${row.iface}`, new InterfaceScoped(row.iface, uid).scoped]));
  return { hosts, interfaces };
}

// ------------------------------------------------------------------ up / run

interface LifeOptions {
  json?: boolean;
  host?: string;
  command?: string[];
}

/**
 * Builds the network, then `work` (wait for a signal, or run the jobs), then
 * removes everything whatever happened. Returns the exit status.
 */
/**
 * Builds FILE, runs `work`, removes everything. `dummynet down` (SIGUSR2) is
 * the normal end of `up` (exit 0); for `run` it ends the job early, a failure.
 */
async function withNetwork(
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
  let recorded = false;
  let lab: Lab | undefined;
  try {
    // exitCleanup off: this command handles the signals itself (and SIGUSR2 from `dummynet down`).
    lab = await buildTopology(topology, {
      log: await logger(),
      exitCleanup: false,
      signal: stop.signal,
      onProgress: ({ done, total, step }) => progress.update(done, total, step),
    });
    const { net } = lab;
    progress.done();
    const state: NetworkState = {
      version: 1,
      name: topology.name,
      file: resolve(file),
      uid: net.uid,
      pid: process.pid,
      startTime: processStartTime(process.pid) ?? "",
      ...(await namesOf(topology, net.uid)),
      peers: Object.fromEntries(interfaceRows(topology).map((row) => [`${row.host}:${row.iface}`, row.peer])),
      ...(DETACHED.log ? { log: DETACHED.log } : {}),
      createdAt: new Date().toISOString(),
    };
    writeState(state);
    recorded = true;
    tellDetachingParent("built", announcement(state));
    exitCode = await work({ topology, net, built: lab, stop, state, options });
  } catch (error) {
    progress.done();
    if (!stop.received) {
      warn(`${red("error", process.stderr)}: ${(error as Error).message}`);
      exitCode = EXIT.failure;
    }
  } finally {
    if (stop.received && !options.json) warn(dim(`dummynet: ${stop.received}: removing the network`, process.stderr));
    try {
      await lab?.cleanup();
    } catch (error) {
      warn(`${red("error", process.stderr)}: cleanup: ${(error as Error).message}`);
      if (exitCode === EXIT.ok) exitCode = EXIT.failure;
    }
    if (recorded && lab) removeState(lab.uid);
    stop.dispose();
  }
  if (stop.received === DOWN_SIGNAL) {
    if (downEndsNormally) return EXIT.ok;
    warn(`${red("error", process.stderr)}: \`dummynet down\` removed the network before the job finished`);
    return EXIT.failure;
  }
  if (stop.received) return signalExitCode(stop.received);
  return exitCode;
}

interface NetworkContext {
  topology: Topology;
  net: DummyNet;
  built: Lab;
  stop: StopSignals;
  state: NetworkState;
  options: LifeOptions;
}

function outputSink(prefixed: boolean): OutputSink {
  return (program, stream, line) => {
    const text = prefixed ? `${dim(`[${program}]`, stream === "stdout" ? process.stdout : process.stderr)} ${line}\n` : `${line}\n`;
    (stream === "stdout" ? process.stdout : process.stderr).write(text);
  };
}

/** What `up --json` (and `up --detach --json`) prints once the network is up. */
function announcement(state: NetworkState) {
  return { name: state.name, uid: state.uid, pid: state.pid, stateFile: statePath(state.uid), hosts: state.hosts, interfaces: state.interfaces };
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
function tellDetachingParent(phase: "built" | "ready", message: object): void {
  const fd = DETACHED.announceFd;
  if (fd === undefined) return;
  try {
    writeSync(fd, `${JSON.stringify({ phase, ...message })}\n`);
    if (phase === "ready") closeSync(fd);
  } catch {
    // The parent returned at "built" (no --wait) and closed its end: nobody to tell.
  }
}

async function up(file: string, options: LifeOptions): Promise<number> {
  return withNetwork(file, options, async ({ topology, built, stop, state }) => {
    const { startDaemons } = await import("../topology/programs.js");
    const daemons = await startDaemons(built, { signal: stop.signal, ...(options.json ? {} : { onOutput: outputSink(true) }) });
    const daemonSpecs = built.topology.programs.filter((program) => program.daemon);
    state.programs = daemons.map((info, i) => ({
      name: daemonSpecs[i]?.name ?? String(info.cmd),
      host: daemonSpecs[i]?.host ?? "",
      pid: info.pid ?? null,
      startTime: info.pid === undefined ? null : (processStartTime(info.pid) ?? null),
    }));
    writeState(state);
    tellDetachingParent("ready", announcement(state));
    if (options.json) {
      print(JSON.stringify(announcement(state)));
    } else {
      print(`${bold(`network ${topology.name}`)} is up ${dim(`(owner uid ${state.uid}, pid ${state.pid})`)}`);
      print(formatTable(topology, new Map(Object.entries(state.hosts))));
      print(dim(`\nkeeping it up: Ctrl-C or \`dummynet down ${topology.name}\` removes it; \`dummynet exec HOST -- COMMAND\` runs in a host`));
    }
    // A daemon that dies ends the network: nothing else would notice.
    const died = daemons.length > 0 ? Promise.race(daemons.map((info) => info.finished)).then((dead) => dead.describe()) : new Promise<string>(() => undefined);
    // Waiting on promises alone does not keep Node running: hold the process until a signal, `down` or a dead daemon.
    const hold = setInterval(() => undefined, 1 << 30);
    const outcome = await Promise.race([stop.wait().then(() => undefined), died]).finally(() => clearInterval(hold));
    if (outcome !== undefined) {
      warn(`${red("error", process.stderr)}: a daemon exited: ${outcome}`);
      return EXIT.failure;
    }
    return EXIT.ok;
  }, true);
}

interface DetachOptions {
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
  mkdirSync(stateDir(), { recursive: true, mode: 0o755 });
  const logFile = join(stateDir(), `up-${Date.now()}-${process.pid}.log`);
  const logFd = openSync(logFile, "a", 0o644);
  const child = spawn(process.execPath, [...process.execArgv, process.argv[1]!, "up", resolve(file)], {
    detached: true,
    stdio: ["ignore", logFd, logFd, "pipe"],
    env: { ...process.env, DUMMYNET_ANNOUNCE_FD: "3", DUMMYNET_DETACHED_LOG: logFile },
  });
  closeSync(logFd);
  const wanted = options.wait ? "ready" : "built";
  const messages = child.stdio[3] as NodeJS.ReadableStream & { destroy(): void };
  let uid: number | undefined;
  const outcome = await new Promise<{ ok: true; message: Record<string, unknown> } | { ok: false; why: string }>((settle) => {
    let buffered = "";
    const timer = setTimeout(() => settle({ ok: false, why: `the network was not ${wanted} within ${options.timeout} ms (--timeout)` }), options.timeout);
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
    child.on("error", (error) => finish({ ok: false, why: error.message }));
    child.on("exit", (code, signal) => finish({ ok: false, why: `the background \`dummynet up\` ended (${code ?? signal}) before the network was ${wanted}` }));
  });
  if (outcome.ok) {
    messages.destroy();
    child.unref();
    const { phase: _phase, ...message } = outcome.message;
    if (options.json) print(JSON.stringify(message));
    else {
      print(String(message["name"]));
      warn(dim(`network ${String(message["name"])} is up in the background (pid ${child.pid}, log ${logFile}); \`dummynet down ${String(message["name"])}\` removes it`, process.stderr));
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
  const { reapDeadOwners } = await import("../lifecycle/reaper.js");
  await waitUntil(() => child.exitCode !== null || child.signalCode !== null, 5_000);
  await reapDeadOwners({ only: [uid ?? child.pid!] });
  if (uid !== undefined) removeState(uid);
  warn(`${red("error", process.stderr)}: up --detach ${file}${uid !== undefined ? ` (owner uid ${uid})` : ""}: ${outcome.why}; its log (${logFile}):`);
  warn(readFileSync(logFile, "utf8").trimEnd().replace(/^/gm, "  "));
  rmSync(logFile, { force: true });
  return EXIT.failure;
}

async function run(file: string, options: LifeOptions): Promise<number> {
  const topology = await load(file);
  if (options.host !== undefined && !topology.hosts.some((host) => host.name === options.host)) {
    throw new UsageError(`--host ${options.host}: no such host in ${file}; hosts: ${topology.hosts.map((h) => h.name).join(", ")}`);
  }
  return withNetwork(file, options, async ({ built, stop }) => {
    const { runJobs, startDaemons } = await import("../topology/programs.js");
    const command = options.command ?? [];
    const jobs: ProgramSpec[] =
      command.length > 0
        ? [{ name: command.join(" "), host: options.host ?? topology.hosts[0]!.name, command, daemon: false, path: [] }]
        : built.topology.programs.filter((program) => !program.daemon);
    const onOutput = options.json ? undefined : outputSink(command.length === 0);
    await startDaemons(built, { signal: stop.signal, ...(onOutput ? { onOutput } : {}) });
    if (jobs.length === 0) warn(yellow("dummynet: nothing to run: the file has no jobs and no command was given", process.stderr));
    const result = await runJobs(built, jobs, { signal: stop.signal, ...(onOutput ? { onOutput } : {}) });
    if (stop.received) return signalExitCode(stop.received);
    if (options.json) {
      printJson({
        name: topology.name,
        uid: built.hosts.values().next().value?.uid,
        exitCode: result.exitCode,
        ...(result.failure ? { failure: result.failure } : {}),
        jobs: result.jobs.map((info, i) => ({ name: jobs[i]?.name, host: jobs[i]?.host, exitCode: info.exitCode, signal: info.signal, stdout: info.stdout, stderr: info.stderr })),
      });
    } else if (result.failure) warn(`${red("failed", process.stderr)}: ${result.failure}`);
    return result.exitCode;
  });
}

// ------------------------------------------------------------------ down / exec / impair

async function waitUntil(predicate: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  // Another process's exit gives us no event to wait on; look again every 20 ms.
  while (!predicate()) {
    if (Date.now() > deadline) return false;
    await new Promise((done) => setTimeout(done, 20));
  }
  return true;
}

async function down(selector: string | undefined, options: { json?: boolean; timeout: number }): Promise<number> {
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
  const { reapDeadOwners } = await import("../lifecycle/reaper.js");
  const reaped = await reapDeadOwners({ only: [state.uid] });
  const removed = reaped.reaped.reduce((n, owner) => n + owner.objects.length, 0);
  removeState(state.uid);
  if (state.log) rmSync(state.log, { force: true });
  if (options.json) printJson({ name: state.name, uid: state.uid, removedLeftovers: removed, failures: reaped.failures });
  else print(`${green("removed")} ${state.name}${removed ? ` (and ${removed} leftover objects of its dead owner)` : ""}`);
  return reaped.failures.length > 0 ? EXIT.failure : EXIT.ok;
}

function hostOf(state: NetworkState, host: string): string {
  const namespace = state.hosts[host];
  if (!namespace) throw new UsageError(`no host "${host}" in network ${state.name}; hosts: ${Object.keys(state.hosts).join(", ")}`);
  return namespace;
}

async function exec(host: string, command: string[], options: { network?: string }): Promise<number> {
  if (command.length === 0) throw new UsageError("no command given: dummynet exec HOST -- COMMAND [ARGS...]");
  const state = findNetwork(options.network, { liveOnly: true });
  const namespace = hostOf(state, host);
  const argv = ["ip", "netns", "exec", namespace, ...command];
  if (process.getuid?.() !== 0) argv.unshift("sudo", "-n", "--");
  const child = spawn(argv[0]!, argv.slice(1), { stdio: "inherit" });
  // Ctrl-C reaches the child through the terminal; other signals are passed on.
  const forward = (signal: NodeJS.Signals) => child.kill(signal);
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(signal, forward);
  return new Promise((resolveExit, reject) => {
    child.on("error", reject);
    child.on("exit", (code, signal) => resolveExit(code ?? (signal ? signalExitCode(signal) : EXIT.failure)));
  });
}

function numberArgument(value: string): number {
  const number = Number(value);
  if (value.trim() === "" || !Number.isFinite(number)) throw new CommanderArgumentError(`expected a number, got "${value}"`);
  return number;
}

async function impair(target: string, flags: Record<string, unknown>): Promise<number> {
  const colon = target.indexOf(":");
  if (colon <= 0) throw new UsageError(`"${target}" is not HOST:IFACE, e.g. client:eth0`);
  const host = target.slice(0, colon);
  const iface = target.slice(colon + 1);
  const state = findNetwork(flags["network"] as string | undefined, { liveOnly: true });
  hostOf(state, host);
  if (!state.interfaces[`${host}:${iface}`]) {
    const known = Object.keys(state.interfaces).filter((key) => key.startsWith(`${host}:`));
    throw new UsageError(`no interface "${iface}" in host ${host} of ${state.name}; its interfaces: ${known.join(", ") || "none"}`);
  }
  const options = netemFromFlags(flags);
  if (Object.keys(options).length === 0) throw new UsageError("say what to change, e.g. --delay 20 --loss 1 (see dummynet impair --help)");
  const { validateTcOptions } = await import("../tc/netem-options.js");
  let checked: TcOptions;
  try {
    checked = validateTcOptions(options);
  } catch (error) {
    if (error instanceof DummyNetError) throw new UsageError(error.message);
    throw error;
  }
  // The network belongs to the `up` process: no DummyNet here (it would record itself as the
  // owner and undo its change on exit); the library's tc layer changes the link and leaves it so.
  const [{ HostShell }, { NamespaceShell }, { applyNetem }] = await Promise.all([import("../shell/host-shell.js"), import("../shell/namespace-shell.js"), import("../tc/netem.js")]);
  const hostShell = new HostShell({ log: await logger() });
  const shell = new NamespaceShell(hostOf(state, host), hostShell);
  const scopedIface = state.interfaces[`${host}:${iface}`]!;
  await applyNetem(shell, scopedIface, checked, { uid: state.uid });
  const shown = await shell.system(["tc", "qdisc", "show", "dev", scopedIface]);
  if (flags["json"]) printJson({ network: state.name, host, interface: iface, options: checked, qdiscs: shown.stdout.trim().split("\n") });
  else {
    print(`${green("impaired")} ${host}:${iface}: ${describeImpairment(checked)}`);
    print(dim(shown.stdout.trim()));
  }
  return EXIT.ok;
}

// ------------------------------------------------------------------ probe

interface ProbeFlags {
  network?: string;
  count?: number;
  intervalMs?: number;
  size?: number;
  address?: string;
  tcp?: boolean;
  tcpSeconds?: number;
  timeout?: number;
  json?: boolean;
}

async function probeCommand(hosts: string[], flags: ProbeFlags): Promise<number> {
  if (hosts.length < 2 || hosts.length > 3) throw new UsageError(`expected [NETWORK] FROM TO, got ${hosts.length} argument(s): dummynet probe [NETWORK] FROM TO`);
  if (hosts.length === 3 && flags.network !== undefined) throw new UsageError("give the network once: as the first argument or with --network");
  const [selector, from, to] = hosts.length === 3 ? hosts : [flags.network, ...hosts];
  const { checkProbeOptions, probeEndpoints } = await import("../probe/probe.js");
  const { describeProbeReport } = await import("../probe/describe.js");
  let plan: ProbePlan;
  try {
    const tcp = flags.tcpSeconds !== undefined ? { seconds: flags.tcpSeconds } : flags.tcp;
    const given = { count: flags.count, intervalMs: flags.intervalMs, size: flags.size, address: flags.address, tcp, timeout: flags.timeout };
    plan = checkProbeOptions(Object.fromEntries(Object.entries(given).filter(([, value]) => value !== undefined)));
  } catch (error) {
    if (error instanceof DummyNetError) throw new UsageError(error.message);
    throw error;
  }
  const state = findNetwork(selector, { liveOnly: true });
  // As for impair: the network belongs to the `up` process, so no DummyNet here, only shells into its hosts.
  const [{ HostShell }, { NamespaceShell }] = await Promise.all([import("../shell/host-shell.js"), import("../shell/namespace-shell.js")]);
  const hostShell = new HostShell({ log: await logger() });
  const endpoint = (host: string | undefined) => ({ name: host!, shell: new NamespaceShell(hostOf(state, host!), hostShell) });
  const [fromHost, toHost] = [endpoint(from), endpoint(to)];
  const stop = new StopSignals();
  try {
    const report = await probeEndpoints(fromHost, toHost, { ...plan, signal: stop.signal });
    if (flags.json) printJson({ network: state.name, ...report });
    else print(describeProbeReport(report));
    return EXIT.ok;
  } catch (error) {
    if (stop.received) return signalExitCode(stop.received);
    if (error instanceof InvalidArgumentError) throw new UsageError(error.message);
    throw error;
  } finally {
    stop.dispose();
    await hostShell.processMonitor.stop({ validateState: false });
  }
}

// ------------------------------------------------------------------ inspect

interface InterfaceView {
  name: string;
  scoped: string;
  /** "up" or "down", as the user set it. */
  state: string;
  /** The kernel's operational state (up, down, lowerlayerdown, unknown). */
  operstate: string;
  mac: string | null;
  mtu: number | null;
  addresses: string[];
  peer: string | null;
  qdisc: string | null;
  impairment: NetemSettings | null;
  ingressImpairment: NetemSettings | null;
}

interface HostView {
  name: string;
  namespace: string;
  interfaces: InterfaceView[];
}

/** `ip -j addr show` of one interface, the parts inspect shows. */
interface IpAddrJson {
  ifname: string;
  operstate?: string;
  flags?: string[];
  address?: string;
  mtu?: number;
  addr_info?: { local: string; prefixlen: number; family: string; scope?: string }[];
}

/** What the kernel says about a network `up` holds: hosts, interfaces, impairments, programs. */
async function inspect(selector: string | undefined, options: { json?: boolean }): Promise<number> {
  const state = findNetwork(selector, { liveOnly: true });
  const [{ HostShell }, { NamespaceShell }, { readNetem }] = await Promise.all([import("../shell/host-shell.js"), import("../shell/namespace-shell.js"), import("../tc/netem-read.js")]);
  const hostShell = new HostShell({ log: await logger() });
  const nameOf = new Map(Object.entries(state.interfaces).map(([key, scoped]) => [scoped, key.slice(key.indexOf(":") + 1)]));
  const hosts: HostView[] = [];
  try {
    for (const [host, namespace] of Object.entries(state.hosts)) {
      const shell = new NamespaceShell(namespace, hostShell);
      const links = JSON.parse((await shell.system(["ip", "-j", "addr", "show"])).stdout || "[]") as IpAddrJson[];
      const interfaces: InterfaceView[] = [];
      for (const link of links) {
        if (link.ifname === "lo") continue;
        const applied = await readNetem(shell, link.ifname);
        const name = nameOf.get(link.ifname) ?? link.ifname;
        interfaces.push({
          name,
          scoped: link.ifname,
          // What the user set (the UP flag); the kernel's operstate follows a moment later (linkwatch) and
          // says UNKNOWN or LOWERLAYERDOWN for some kinds, so it is shown beside, not instead.
          state: link.flags?.includes("UP") ? "up" : "down",
          operstate: (link.operstate ?? "unknown").toLowerCase(),
          mac: link.address ?? null,
          mtu: link.mtu ?? null,
          addresses: (link.addr_info ?? []).filter((address) => address.scope !== "link").map((address) => `${address.local}/${address.prefixlen}`),
          peer: state.peers?.[`${host}:${name}`] ?? null,
          qdisc: applied ? applied.kind : null,
          impairment: applied?.netem ?? null,
          ingressImpairment: applied?.ingress?.netem ?? null,
        });
      }
      hosts.push({ name: host, namespace, interfaces });
    }
  } finally {
    await hostShell.processMonitor.stop({ validateState: false });
  }
  const programs = (state.programs ?? []).map((program) => ({
    ...program,
    state: program.pid !== null && processStartTime(program.pid) === program.startTime ? "running" : "exited",
  }));
  const view = { name: state.name, uid: state.uid, pid: state.pid, file: state.file, createdAt: state.createdAt, log: state.log ?? null, hosts, programs };
  if (options.json) {
    printJson(view);
    return EXIT.ok;
  }
  print(`${bold(`network ${state.name}`)} ${dim(`(uid ${state.uid}, pid ${state.pid}, ${state.file}${state.log ? `, log ${state.log}` : ""})`)}`);
  const rows = hosts.flatMap((host) =>
    host.interfaces.map((iface, i) => [
      i === 0 ? `${host.name} (${host.namespace})` : "",
      iface.name,
      iface.state === "up" && iface.operstate !== "up" ? `up (${iface.operstate})` : iface.state,
      iface.addresses.join(" ") || "-",
      iface.peer ?? "-",
      // Read-back settings have the file's names; only a slot's distribution may be absent, which describeImpairment does not show.
      [iface.impairment ? describeImpairment(iface.impairment as Impairment) : "", iface.ingressImpairment ? `received: ${describeImpairment(iface.ingressImpairment as Impairment)}` : ""].filter(Boolean).join("; ") || (iface.qdisc ?? "-"),
    ]),
  );
  print(table(["HOST", "INTERFACE", "STATE", "ADDRESSES", "PEER", "QDISC / IMPAIRMENT"], rows));
  if (programs.length > 0) {
    print("");
    print(table(["PROGRAM", "HOST", "PID", "STATE"], programs.map((program) => [program.name, program.host, String(program.pid ?? "-"), program.state === "running" ? green("running") : red("exited")])));
  }
  return EXIT.ok;
}

/** Columns padded to their widest cell (colour codes not counted). */
function table(header: string[], rows: string[][]): string {
  const strip = (text: string) => text.replace(/\x1b\[[0-9;]*m/g, "");
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((row) => strip(row[i] ?? "").length)));
  const line = (cells: string[]) => cells.map((cell, i) => cell + " ".repeat(widths[i]! - strip(cell).length)).join("  ").trimEnd();
  return [line(header), ...rows.map(line)].join("\n");
}

// ------------------------------------------------------------------ ls / cleanup

function ownerSummary(owner: Owner): string {
  const counts = new Map<string, number>();
  for (const object of owner.objects) counts.set(object.kind, (counts.get(object.kind) ?? 0) + 1);
  const words: Record<string, string> = { netns: "namespace", link: "link", iptables: "iptables rule", cgroup: "cgroup" };
  return [...counts].map(([kind, n]) => `${n} ${words[kind] ?? kind}${n === 1 ? "" : "s"}`).join(", ") || "no objects";
}

/** Owners (from the library's owner records and the objects found) joined with the networks `up` recorded, and the listing steps left out. */
async function owners(): Promise<{ all: { owner: Owner; network: NetworkState | undefined }[]; skipped: SkippedStep[] }> {
  const networks = new Map(listStates().map((state) => [state.uid, state]));
  const { surveyOwners } = await import("../lifecycle/reaper.js");
  const survey = await surveyOwners();
  const joined = survey.owners.map((owner) => ({ owner, network: networks.get(owner.uid) }));
  // A network record whose owner left nothing else behind is still worth showing (and removing).
  for (const [uid, network] of networks) {
    if (!survey.owners.some((owner) => owner.uid === uid)) {
      joined.push({ owner: { uid, state: ownerAlive(network) ? "alive" : "dead", record: undefined, objects: [] }, network });
    }
  }
  return { all: joined.sort((a, b) => a.owner.uid - b.owner.uid), skipped: survey.skipped };
}

/** A listing step left out (e.g. no iptables installed), said once, beside the result. */
const skippedNote = (skipped: readonly SkippedStep[]) => skipped.map((step) => dim(`not listed: ${step.step}: ${step.why}`)).join("\n");

async function ls(options: { json?: boolean }): Promise<number> {
  const { all, skipped } = await owners();
  if (options.json) {
    printJson({
      owners: all.map(({ owner, network }) => ({ uid: owner.uid, alive: owner.state === "alive", pid: owner.record?.pid ?? network?.pid ?? null, network: network ?? null, objects: owner.objects })),
      skipped,
    });
    return EXIT.ok;
  }
  if (skipped.length > 0) print(skippedNote(skipped));
  if (all.length === 0) {
    print("no networks and no leftover objects on this machine");
    return EXIT.ok;
  }
  const rows = all.map(({ owner, network }) => [
    String(owner.uid),
    String(owner.record?.pid ?? network?.pid ?? "-"),
    owner.state === "alive" ? green("alive") : red("gone"),
    network?.name ?? "-",
    network?.file ?? (owner.record?.command.slice(0, 60) || "-"),
    ownerSummary(owner),
  ]);
  print(table(["UID", "PID", "OWNER", "NETWORK", "FILE / COMMAND", "OBJECTS"], rows));
  if (all.some(({ owner }) => owner.state === "dead")) print(dim("\n`dummynet cleanup` removes the objects of owners that are gone"));
  return EXIT.ok;
}

async function cleanup(uids: number[], options: { force?: number[]; json?: boolean; dryRun?: boolean }): Promise<number> {
  const forced = new Set(options.force ?? []);
  const survey = await owners();
  const all = survey.all.filter(({ owner }) => uids.length === 0 || uids.includes(owner.uid));
  const targets = all.filter(({ owner }) => owner.state === "dead" || forced.has(owner.uid));
  const spared = all.filter(({ owner }) => owner.state === "alive" && !forced.has(owner.uid));
  const { reapDeadOwners } = await import("../lifecycle/reaper.js");
  let failures: Awaited<ReturnType<typeof reapDeadOwners>>["failures"] = [];
  if (!options.dryRun && targets.length > 0) {
    const result = await reapDeadOwners({ force: [...forced], only: targets.map(({ owner }) => owner.uid) });
    failures = result.failures;
    for (const { owner } of targets) removeState(owner.uid);
  }
  if (options.json) {
    printJson({
      dryRun: Boolean(options.dryRun),
      removed: targets.map(({ owner, network }) => ({ uid: owner.uid, network: network?.name ?? null, objects: owner.objects })),
      spared: spared.map(({ owner, network }) => ({ uid: owner.uid, network: network?.name ?? null })),
      failures,
      skipped: survey.skipped,
    });
  } else {
    if (survey.skipped.length > 0) print(skippedNote(survey.skipped));
    for (const { owner, network } of targets) {
      print(`${options.dryRun ? "would remove" : green("removed")} uid ${owner.uid}${network ? ` (network ${network.name})` : ""}: ${ownerSummary(owner)}`);
      for (const object of owner.objects) print(dim(`  ${object.kind} ${object.name}`));
    }
    for (const failure of failures) print(`${red("failed")}: uid ${failure.uid}: ${failure.object.kind} ${failure.object.name}: ${failure.error}`);
    for (const { owner } of spared) print(dim(`kept uid ${owner.uid}: its owner (pid ${owner.record?.pid ?? owner.uid}) is alive; --force ${owner.uid} removes it anyway`));
    if (targets.length === 0 && spared.length === 0) print("nothing to clean up");
  }
  return failures.length > 0 ? EXIT.failure : EXIT.ok;
}

// ------------------------------------------------------------------ validate / graph / doctor

/** Reads FILE, or standard input for "-". */
async function readTopologyText(file: string): Promise<{ text: string; format?: "json" }> {
  if (file !== "-") return { text: await readFile(file, "utf8") };
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString("utf8");
  // JSON is YAML too, but JSON's own parser reports JSON mistakes better.
  return /^\s*\{/.test(text) ? { text, format: "json" } : { text };
}

/** Checks each FILE ("-" for standard input); 2 when any is invalid. One file, --json: an object; several: an array. */
async function validate(files: string[], options: { json?: boolean }): Promise<number> {
  if (files.filter((file) => file === "-").length > 1) throw new UsageError('"-" (standard input) can be given once');
  const { loadTopology } = await import("../topology/load.js");
  const reports: Record<string, unknown>[] = [];
  let status: number = EXIT.ok;
  const count = (n: number, what: string) => `${n} ${what}${n === 1 ? "" : "s"}`;
  for (const file of files) {
    try {
      const topology =
        file === "-" ? await loadTopology({ ...(await readTopologyText(file)), name: "stdin" }) : await loadTopology(file);
      const numbers = { hosts: topology.hosts.length, links: topology.links.length, bridges: topology.bridges.length, vlans: topology.vlans.length, programs: topology.programs.length };
      reports.push({ file, valid: true, name: topology.name, ...numbers });
      if (!options.json) {
        print(
          `${green("valid")}: ${file === "-" ? "stdin" : file}: network ${topology.name}: ${[
            count(numbers.hosts, "host"),
            count(numbers.links, "link"),
            count(numbers.bridges, "bridge"),
            count(numbers.vlans, "VLAN"),
            count(numbers.programs, "program"),
          ].join(", ")}`,
        );
      }
    } catch (error) {
      if (!(error instanceof TopologyError)) throw error;
      status = EXIT.usage;
      reports.push({ file, valid: false, problems: error.problems });
      if (!options.json) {
        warn(`${red("error", process.stderr)}: ${file === "-" ? "stdin" : file} is not a valid topology (nothing was changed):`);
        for (const issue of error.problems) warn(`  ${formatIssue(issue)}`);
      }
    }
  }
  if (options.json) printJson(reports.length === 1 ? reports[0] : reports);
  return status;
}

async function graph(file: string, options: { format: string; output?: string }): Promise<number> {
  const topology = await load(file);
  const { toDot, toMermaid } = await import("../topology/graph.js");
  let text: string | Buffer;
  if (options.format === "mermaid") text = toMermaid(topology);
  else if (options.format === "dot") text = toDot(topology);
  else text = await renderSvg(toDot(topology));
  if (options.output) {
    writeFileSync(options.output, text);
    warn(dim(`wrote ${options.output}`, process.stderr));
  } else process.stdout.write(text);
  return EXIT.ok;
}

function renderSvg(dot: string): Promise<Buffer> {
  return new Promise((resolveSvg, reject) => {
    const child = spawn("dot", ["-Tsvg"], { stdio: ["pipe", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (chunk: Buffer) => out.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => err.push(chunk));
    child.on("error", (error: NodeJS.ErrnoException) => {
      if (error.code === "ENOENT") {
        reject(new DummyNetError("SVG needs Graphviz's `dot`, which is not installed: install graphviz (e.g. apt-get install graphviz), or use --format dot or --format mermaid"));
      } else reject(error);
    });
    child.on("close", (code) => {
      if (code === 0) resolveSvg(Buffer.concat(out));
      else reject(new DummyNetError(`dot -Tsvg failed (exit ${code}): ${Buffer.concat(err).toString().trim()}`));
    });
    child.stdin.end(dot);
  });
}

async function doctor(options: { json?: boolean }): Promise<number> {
  const { detectCapabilities, formatCapabilities } = await import("../capabilities/index.js");
  const capabilities = await detectCapabilities();
  if (options.json) printJson(capabilities);
  else print(formatCapabilities(capabilities));
  return EXIT.ok;
}

// ------------------------------------------------------------------ the program

const EXIT_CODES = `
Exit status:
  0    success
  1    failure (a command failed, a daemon died, cleanup reported errors)
  2    usage or validation error (nothing was changed)
  N    dummynet run: the job's own exit status
  130  ended by Ctrl-C (SIGINT), 143 by SIGTERM, 129 by SIGHUP (the network is removed first)`;

/** Commander's error, on one line: "error: unknown command 'vaildate'; did you mean validate?" */
function oneLineError(text: string): string {
  const lines = text.trim().split("\n").filter((line) => line.trim() !== "");
  const suggestion = lines.map((line) => /^\(Did you mean (.+)\?\)$/.exec(line.trim())).find(Boolean);
  const first = lines[0] ?? "error";
  if (suggestion) return `${first}; did you mean ${suggestion[1]}?\n`;
  return `${first} (see dummynet --help)\n`;
}

export function createProgram(): Command {
  const program = new Command("dummynet")
    .description("Throwaway test networks on one Linux machine: namespaces, veth links, bridges, VLANs, netem impairments.")
    .version("0.1.0")
    .option("--no-color", "no colours in the output (so do NO_COLOR=1 and FORCE_COLOR=0; FORCE_COLOR=1 colours a pipe too)")
    // A mistake gets one line (with commander's "did you mean", when it has one), not the whole help.
    .configureOutput({ outputError: (text, write) => write(oneLineError(text)) })
    .addHelpText(
      "after",
      `
Examples:
  dummynet validate examples/star.yaml
  dummynet up examples/star.yaml            # keep it up until Ctrl-C or \`dummynet down\`
  dummynet up examples/star.yaml --detach --wait   # or in the background; prints its name
  dummynet inspect star --json              # its hosts, interfaces, addresses, qdiscs, programs
  dummynet exec h1 -- ping -c 3 10.0.0.3    # from another terminal
  dummynet impair h1:h1-sw --delay 20 --loss 1
  dummynet probe h1 h3 --tcp                # loss, round trips, goodput, with Node.js alone
  dummynet down star
  dummynet run examples/star.yaml           # build, run the file's programs, remove
  dummynet graph examples/star.yaml --format mermaid
  dummynet ls && dummynet cleanup
  source <(dummynet completion bash)
${EXIT_CODES}

Output is coloured and shows progress only on a terminal; CI=true or a pipe keeps it plain.
--no-color or NO_COLOR=1 turns colours off, FORCE_COLOR=1 turns them on in a pipe too.`,
    );
  program.exitOverride();
  program.hook("preAction", (root) => {
    if (root.opts()["color"] === false) switchColourOff();
  });
  const action = (fn: (...args: never[]) => Promise<number>) => async (...args: unknown[]) => {
    throw new Exit(await (fn as (...a: unknown[]) => Promise<number>)(...args));
  };

  program
    .command("up")
    .description("build the network of FILE, print it, and keep it up until Ctrl-C, SIGTERM or `dummynet down`; then remove everything")
    .argument("<file>", "topology file (YAML or JSON)")
    .option("--json", "print one JSON line (name, uid, pid, hosts -> namespaces) once the network is up")
    .option("-d, --detach", "return once the network is built, leaving it up in the background (prints its name); `dummynet down` removes it")
    .option("--wait", "with --detach: return only once its programs are ready too")
    .addOption(new Option("--timeout <ms>", "with --detach: longest wait for the background network").argParser(numberArgument).default(300_000))
    .addHelpText("after", "\nExamples:\n  dummynet up examples/lossy-pair.yaml\n  dummynet up examples/star.yaml --detach --wait && dummynet exec h1 -- ping -c 1 10.0.0.2\n  dummynet up net.yaml --detach --json   # scripts: the uid, pid and names, one JSON line")
    .action(
      action((file: string, options: LifeOptions & DetachOptions & { detach?: boolean }) => {
        if (options.wait && !options.detach) throw new UsageError("--wait goes with --detach (without it, `up` holds the terminal and is ready when it prints)");
        return options.detach ? upDetached(file, options) : up(file, options);
      }),
    );

  program
    .command("down")
    .description("remove a network that `dummynet up` holds (by name, file or uid; the only one when omitted)")
    .argument("[network]", "network name, topology file or owner uid")
    .option("--json", "JSON output")
    .addOption(new Option("--timeout <ms>", "how long to wait for the removal").argParser(numberArgument).default(60_000))
    .addHelpText("after", "\nExamples:\n  dummynet down\n  dummynet down star\n  dummynet down examples/star.yaml")
    .action(action((selector: string | undefined, options: { json?: boolean; timeout: number }) => down(selector, options)));

  program
    .command("run")
    .description("build FILE, run its programs (or COMMAND in --host), remove everything, and exit with the job's status")
    .argument("<file>", "topology file")
    .argument("[command...]", "command to run instead of the file's jobs (after --)")
    .option("--host <host>", "host that runs COMMAND (default: the file's first host)")
    .option("--json", "print a JSON report (exit status, each job's output) at the end")
    .addHelpText("after", "\nExamples:\n  dummynet run examples/nat-router.yaml\n  dummynet run examples/star.yaml --host h1 -- ping -c 3 10.0.0.3")
    .action(action((file: string, command: string[], options: LifeOptions) => run(file, { ...options, command })));

  program
    .command("exec")
    .description("run COMMAND in HOST of a network that `dummynet up` holds (stdio passed through, exit status returned)")
    .argument("<host>", "host name from the topology file")
    .argument("<command...>", "command and arguments (after --)")
    .option("--network <name>", "network name, file or uid (needed when several are up)")
    .addHelpText("after", "\nExamples:\n  dummynet exec client -- ping -c 3 10.0.1.2\n  dummynet exec server --network nat-router -- ip addr")
    .action(action((host: string, command: string[], options: { network?: string }) => exec(host, command, options)));

  const impairCommand = program
    .command("impair")
    .description("change the impairments of a link of a running network (values not given are kept)")
    .argument("<host:iface>", "interface, e.g. client:eth0 (impairs the packets it sends)")
    .option("--network <name>", "network name, file or uid (needed when several are up)")
    .option("--json", "JSON output")
    .addHelpText("after", "\nExamples:\n  dummynet impair a:a-b --delay 50 --jitter 10\n  dummynet impair a:a-b --loss 0          # 0 removes a value\n  dummynet impair a:a-b --reset --rate 10");
  addNetemOptions(impairCommand);
  impairCommand.action(action((target: string, flags: Record<string, unknown>) => impair(target, flags)));

  program
    .command("probe")
    .description("measure what a path of a running network does to traffic (loss, duplicates, reordering, round trips; TCP goodput with --tcp), with Node.js alone")
    .argument("<hosts...>", "[NETWORK] FROM TO: the network (name, file or uid; the only one when omitted), the sending host and the echoing host")
    .option("--network <name>", "network name, file or uid (instead of the first argument)")
    .addOption(new Option("--count <n>", "UDP datagrams to send (default 200)").argParser(numberArgument))
    .addOption(new Option("--interval-ms <ms>", "milliseconds between datagrams (default 10)").argParser(numberArgument))
    .addOption(new Option("--size <bytes>", "UDP payload bytes, 16 to 65507 (default 64)").argParser(numberArgument))
    .option("--address <ip>", "address to probe (default: TO's first IPv4 address)")
    .option("--tcp", "also measure TCP goodput FROM -> TO for 2 s")
    .addOption(new Option("--tcp-seconds <s>", "measure TCP goodput for this long (implies --tcp)").argParser(numberArgument))
    .addOption(new Option("--timeout <ms>", "bound on the whole probe").argParser(numberArgument))
    .option("--json", "JSON output (the ProbeReport)")
    .addHelpText("after", "\nExamples:\n  dummynet probe a b\n  dummynet probe lossy-pair a b --count 500 --tcp\n  dummynet probe h1 h3 --network star --json")
    .action(action((hosts: string[], flags: ProbeFlags) => probeCommand(hosts, flags)));

  program
    .command("inspect")
    .description("what a network `dummynet up` holds looks like now: hosts, interfaces (state, addresses, peer), impairments (tc qdiscs), programs")
    .argument("[network]", "network name, topology file or owner uid (the only one when omitted)")
    .option("--json", "JSON output")
    .addHelpText("after", "\nExamples:\n  dummynet inspect\n  dummynet inspect star --json | jq '.hosts[].interfaces[].addresses'")
    .action(action((selector: string | undefined, options: { json?: boolean }) => inspect(selector, options)));

  program
    .command("ls")
    .description("networks and leftover d-<uid>-* objects on this machine, by owner, with whether the owner is alive")
    .option("--json", "JSON output")
    .addHelpText("after", "\nExamples:\n  dummynet ls\n  dummynet ls --json | jq '.owners[] | select(.alive | not) | .uid'")
    .action(action((options: { json?: boolean }) => ls(options)));

  program
    .command("cleanup")
    .description("remove the objects (namespaces and their processes, links, cgroups, iptables rules) of owners that are gone")
    .argument("[uid...]", "only these owners (default: every owner that is gone)")
    .addOption(new Option("--force <uid...>", "also remove the objects of these owners, even if alive").argParser((value: string, previous: number[] = []) => [...previous, numberArgument(value)]))
    .option("--dry-run", "only show what would be removed")
    .option("--json", "JSON output")
    .addHelpText("after", "\nExamples:\n  dummynet cleanup\n  dummynet cleanup --dry-run\n  dummynet cleanup 12345\n  dummynet cleanup --force 12345")
    .action(
      action((uids: string[], options: { force?: number[]; json?: boolean; dryRun?: boolean }) =>
        cleanup(uids.map((uid) => numberArgument(uid)), options),
      ),
    );

  program
    .command("doctor")
    .description("what this machine can do (kernel features, programs, privileges), with what to do about each missing one")
    .option("--json", "JSON output")
    .addHelpText("after", "\nExamples:\n  dummynet doctor\n  dummynet doctor --json")
    .action(action((options: { json?: boolean }) => doctor(options)));

  program
    .command("validate")
    .description("check topology files against the schema and the semantic rules; errors give file:line:column")
    .argument("<file...>", 'topology files ("-" reads one from standard input)')
    .option("--json", "JSON output (an array when several files are given)")
    .addHelpText("after", "\nExamples:\n  dummynet validate examples/star.yaml\n  dummynet validate examples/*.yaml\n  generate-topology | dummynet validate -\n  dummynet validate net.yaml --json")
    .action(action((files: string[], options: { json?: boolean }) => validate(files, options)));

  program
    .command("completion")
    .description("print a shell completion script (bash, zsh or fish) for the commands and options of this dummynet")
    .addArgument(new Argument("<shell>", "the shell").choices(SHELLS))
    .addHelpText(
      "after",
      '\nExamples:\n  source <(dummynet completion bash)                     # this bash session\n  dummynet completion bash > /etc/bash_completion.d/dummynet\n  dummynet completion zsh > "${fpath[1]}/_dummynet"\n  dummynet completion fish > ~/.config/fish/completions/dummynet.fish',
    )
    .action(
      action(async (shell: Shell) => {
        process.stdout.write(completionScript(program, shell));
        return EXIT.ok;
      }),
    );

  program
    .command("graph")
    .description("draw a topology: Mermaid, Graphviz DOT, or SVG (needs Graphviz)")
    .argument("<file>", "topology file")
    .addOption(new Option("--format <format>", "output format").choices(["mermaid", "dot", "svg"]).default("mermaid"))
    .option("-o, --output <file>", "write to a file instead of stdout")
    .addHelpText("after", "\nExamples:\n  dummynet graph examples/nat-router.yaml > net.mmd\n  dummynet graph examples/star.yaml --format svg -o star.svg")
    .action(action((file: string, options: { format: string; output?: string }) => graph(file, options)));

  for (const command of program.commands) command.exitOverride();
  return program;
}

export async function main(argv: readonly string[] = process.argv): Promise<number> {
  try {
    await createProgram().parseAsync([...argv]);
    return EXIT.ok;
  } catch (error) {
    if (error instanceof Exit) return error.code;
    if (error instanceof CommanderError) {
      return error.code === "commander.helpDisplayed" || error.code === "commander.version" || error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    if (error instanceof UsageError) {
      warn(`${red("error", process.stderr)}: ${error.message}`);
      return EXIT.usage;
    }
    warn(`${red("error", process.stderr)}: ${(error as Error).message ?? String(error)}`);
    return EXIT.failure;
  }
}

// Run when executed (node dist/cli/main.js, or through the npm bin link), not when imported by tests.
const invokedAs = process.argv[1] ? resolve(process.argv[1]) : "";
if (/[\\/](main\.(ts|js)|dummynet)$/.test(invokedAs)) {
  const code = await main();
  process.stdout.write("", () => process.exit(code));
}
