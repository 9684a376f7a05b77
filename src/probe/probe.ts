/**
 * The built-in probe: what a path between two hosts does to traffic, measured
 * with Node.js alone (no ping, no iperf). An echo agent runs in `to`, a
 * sender in `from` (agent.mjs, run by this Node.js binary through the hosts'
 * shells with argument arrays); the sender's report is read back and counted
 * here (accounting.ts). Both agents are stopped before `probe()` settles,
 * however it ends.
 */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { DummyNetError, InvalidArgumentError } from "../errors.js";
import { RunInfoError, TimeoutError } from "../process/errors.js";
import type { RunInfo } from "../process/run-info.js";
import type { Shell } from "../shell/shell.js";
import { parseIpJsonArray } from "../system/ip-json.js";
import { checkIpAddress } from "../validation/arguments.js";
import { type ProbeCounts, accountReplies, parseSenderOutput } from "./accounting.js";

/** Where an agent runs: a host's name (for the report) and the shell that reaches it. */
export interface ProbeEndpoint {
  name: string;
  shell: Shell;
}

/** Options of `probe()` and `DummyNet.probe()`. */
export interface ProbeOptions {
  /** Address to probe. @default the first IPv4 address of `to` on an interface other than lo */
  address?: string;
  /** Datagrams to send, a whole number from 1 to 1,000,000. @default 200 */
  count?: number;
  /** Milliseconds between datagrams (0: as fast as the sender can), at most 60000. @default 10 */
  intervalMs?: number;
  /** UDP payload bytes of each datagram, 16 to 65507. @default 64 */
  size?: number;
  /**
   * Also measure TCP goodput from `from` to `to`: a bulk transfer for
   * `seconds` (default 2) or of `bytes`, counted by the receiver. `true`: 2 seconds.
   * @default false (no TCP transfer)
   */
  tcp?:
    | boolean
    | {
        /** Transfer for this many seconds. @default 2 */
        seconds?: number;
        /** Transfer this many bytes instead of for a time. */
        bytes?: number;
      };
  /** Aborting stops both agents; the probe rejects with the signal's reason. */
  signal?: AbortSignal;
  /**
   * Milliseconds for the whole probe; over it, both agents are stopped and it rejects with TimeoutError.
   * The echo agent may take half of what it leaves after the planned sending to start (see readinessBound).
   * @default 30000 + count x intervalMs + 10000 (late replies) + the TCP phase (its seconds + 10000, or 60000 with bytes)
   */
  timeout?: number;
}

/** What `probe()` measured: counts, loss, round-trip times and, with `tcp`, goodput. */
export interface ProbeReport extends ProbeCounts {
  /** Host names (namespace names without the owner prefix; "1" for the host's own namespace). */
  from: string;
  /** The receiving host's name, as `from`. */
  to: string;
  /** The address probed. */
  address: string;
  /** Datagrams whose send failed at once (no route, link down); they count as lost. */
  sendErrors: number;
  /** Why the first failed send failed. */
  sendError?: string;
  /** With `tcp`: what the receiver counted, in Mbit/s (0 when no connection could be made). */
  goodputMbps?: number;
  /** With `tcp`: the bytes the receiver counted and over how long (from accepting the connection to its end). */
  tcp?: {
    /** Bytes the receiver counted. */
    bytes: number;
    /** Seconds from accepting the connection to its end. */
    seconds: number;
  };
  /** With `tcp`, when the transfer failed: why. */
  tcpError?: string;
}

/** The agent program, beside this module in src/ (tests) and in dist/ (the build copies it). */
export const AGENT_PATH = fileURLToPath(new URL("./agent.mjs", import.meta.url));

const KNOWN_OPTIONS = ["address", "count", "intervalMs", "size", "tcp", "signal", "timeout"];
/** Longest wait for late replies after the last datagram (the sender waits max(1 s, 3 x p99) up to this). */
const LATE_WAIT_MAX = 10_000;
/** The least the sender waits for late replies after the last datagram (agent.mjs: max(1 s, 3 x p99)). */
const LATE_WAIT_MIN = 1000;
const DEFAULT_TCP_SECONDS = 2;
/** The sender's own bounds around a TCP transfer (connect, then the receiver's count): see agent.mjs. */
const TCP_HANDSHAKES = 10_000;

/** Checked options with their defaults filled in. */
export interface ProbePlan {
  address?: string;
  count: number;
  intervalMs: number;
  size: number;
  tcp?: { seconds: number } | { bytes: number };
  signal?: AbortSignal;
  timeout: number;
}

/**
 * The probe between two shells, for callers without a DummyNet of the
 * network (the `dummynet probe` command reaches hosts of a network that
 * another process holds). `plan` comes from checkProbeOptions().
 */
export async function probeEndpoints(
  fromHost: ProbeEndpoint,
  toHost: ProbeEndpoint,
  plan: ProbePlan,
): Promise<ProbeReport> {
  const address = plan.address ?? (await firstIpv4Address(toHost));
  plan.signal?.throwIfAborted();
  if (!existsSync(AGENT_PATH)) {
    throw new DummyNetError(
      `The probe's agent ${AGENT_PATH} is missing: rebuild the package (npm run build copies src/probe/agent.mjs into dist/probe/)`,
    );
  }
  const output = await runAgents(fromHost, toHost, address, plan);
  const sender = parseSenderOutput(output);
  const report: ProbeReport = {
    from: fromHost.name,
    to: toHost.name,
    address,
    ...accountReplies(sender.sent, sender.replies),
    sendErrors: sender.sendErrors,
    ...(sender.firstSendError ? { sendError: sender.firstSendError } : {}),
  };
  if (plan.tcp) {
    if (sender.tcp && "bytes" in sender.tcp) {
      report.tcp = sender.tcp;
      report.goodputMbps =
        sender.tcp.seconds > 0 ? Math.round(((sender.tcp.bytes * 8) / sender.tcp.seconds / 1e6) * 1000) / 1000 : 0;
    } else {
      report.goodputMbps = 0;
      report.tcpError = sender.tcp?.error ?? "the sender printed no TCP result";
    }
  }
  return report;
}

/**
 * How long the echo agent may take to say it listens. Two Node.js starts (the
 * echo agent's, then the sender's) share what the probe's timeout leaves after
 * the planned sending (datagrams, the least late wait, the TCP transfer), so the
 * echo agent gets half of that: 19.5 s under the default timeout (docs/probe.md
 * says why so much), more when the caller allows more. A timeout that leaves
 * nothing bounds the wait by itself.
 */
export function readinessBound(plan: Pick<ProbePlan, "count" | "intervalMs" | "tcp" | "timeout">): {
  ms: number;
  sendingMs: number;
} {
  const sendingMs =
    plan.count * plan.intervalMs + LATE_WAIT_MIN + (plan.tcp && "seconds" in plan.tcp ? plan.tcp.seconds * 1000 : 0);
  const left = plan.timeout - sendingMs;
  return { ms: left > 0 ? Math.max(1, Math.floor(left / 2)) : plan.timeout, sendingMs };
}

/** Starts the echo agent in `to`, waits for its "ready" line, runs the sender in `from`, stops the echo agent; returns the sender's stdout. */
async function runAgents(
  fromHost: ProbeEndpoint,
  toHost: ProbeEndpoint,
  address: string,
  plan: ProbePlan,
): Promise<string> {
  const deadline = performance.now() + plan.timeout;
  const family = address.includes(":") ? "6" : "4";
  const stopEcho = new AbortController();
  let echoOutput = "";
  let echoErrors = "";
  let onEchoOutput: (() => void) | undefined;
  const echo = toHost.shell.run(
    [process.execPath, AGENT_PATH, "echo", "--family", family, "--lifetime", String(plan.timeout + 5000)],
    {
      signal: stopEcho.signal,
      timeout: plan.timeout + 5000,
      stdoutCallback: (data) => {
        echoOutput += data;
        onEchoOutput?.();
      },
      stderrCallback: (data) => {
        if (echoErrors.length < 2000) echoErrors += data;
      },
    },
  );
  // Its end is awaited in `finally`; a rejection before that must not count as unhandled.
  const echoEnded = echo.then(
    (info) => info,
    (error: unknown) => error,
  );
  try {
    const bound = readinessBound(plan);
    const notReady = () => {
      const datagrams = `${plan.count} datagram${plan.count === 1 ? "" : "s"}`;
      const why =
        bound.ms === plan.timeout
          ? `the probe's whole timeout of ${plan.timeout} ms, which is less than its ${bound.sendingMs} ms of planned sending (${datagrams}${plan.tcp ? ", the TCP transfer" : ""})`
          : `half of what the probe's timeout of ${plan.timeout} ms leaves after ${bound.sendingMs} ms of planned sending (${datagrams}${plan.tcp ? ", the TCP transfer" : ""}), for its start and the sender's`;
      return new TimeoutError(
        undefined,
        `probe ${fromHost.name} -> ${toHost.name} (${address}): the echo agent (Node.js running ${AGENT_PATH} echo in ${toHost.name}) did not print "ready <udp port> <tcp port>" within ${bound.ms} ms, ${why}; ` +
          `its output so far: ${JSON.stringify(echoOutput)}, its errors: ${JSON.stringify(echoErrors)}. A Node.js start takes seconds on a loaded machine and tens of seconds in an emulated guest: give the probe a longer timeout`,
      );
    };
    const endedEarly = (how: string) =>
      new DummyNetError(
        `probe ${fromHost.name} -> ${toHost.name} (${address}): the echo agent in ${toHost.name} ended before it printed "ready <udp port> <tcp port>": ${how}; its errors: ${JSON.stringify(echoErrors)}`,
      );
    const [udpPort, tcpPort] = await echoReady(
      echoEnded,
      () => echoOutput,
      (wake) => (onEchoOutput = wake),
      bound.ms,
      notReady,
      endedEarly,
      plan.signal,
    );
    const args = [
      "--address",
      address,
      "--udp-port",
      String(udpPort),
      "--count",
      String(plan.count),
      "--interval-ms",
      String(plan.intervalMs),
      "--size",
      String(plan.size),
      "--late-wait-max",
      String(LATE_WAIT_MAX),
    ];
    if (plan.tcp) {
      args.push("--tcp-port", String(tcpPort));
      if ("bytes" in plan.tcp) args.push("--tcp-bytes", String(plan.tcp.bytes));
      else args.push("--tcp-seconds", String(plan.tcp.seconds));
    }
    const left = Math.max(1, Math.ceil(deadline - performance.now()));
    let sender: RunInfo;
    try {
      sender = await fromHost.shell.run([process.execPath, AGENT_PATH, "send", ...args], {
        timeout: left,
        ...(plan.signal ? { signal: plan.signal } : {}),
      });
    } catch (error) {
      if (plan.signal?.aborted) throw plan.signal.reason;
      if (error instanceof TimeoutError) {
        throw new TimeoutError(
          error.info,
          `probe ${fromHost.name} -> ${toHost.name} (${address}): the sender did not finish within the probe's timeout of ${plan.timeout} ms: ${error.info?.describe() ?? ""}`,
        );
      }
      throw error;
    }
    return sender.stdout;
  } finally {
    stopEcho.abort();
    await echoEnded;
  }
}

/** Resolves with the echo agent's ports once it prints "ready <udp> <tcp>"; rejects if it ends first, the wait times out, or `signal` aborts. */
function echoReady(
  ended: Promise<unknown>,
  output: () => string,
  onOutput: (wake: () => void) => void,
  timeoutMs: number,
  notReady: () => Error,
  endedEarly: (how: string) => Error,
  signal: AbortSignal | undefined,
): Promise<[number, number]> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const settle = (then: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      onOutput(() => undefined);
      then();
    };
    const check = () => {
      const match = /^ready (\d+) (\d+)$/m.exec(output());
      if (match)
        settle(() => {
          resolve([Number(match[1]), Number(match[2])]);
        });
    };
    const onAbort = () => {
      settle(() => {
        reject(signal?.reason);
      });
    };
    const timer = setTimeout(() => {
      settle(() => {
        reject(notReady());
      });
    }, timeoutMs);
    signal?.addEventListener("abort", onAbort, { once: true });
    onOutput(check);
    void ended.then((result) => {
      const info = result instanceof RunInfoError ? result.info : (result as RunInfo | undefined);
      const how = result instanceof Error ? result.message : (info?.describe() ?? "it ended");
      settle(() => {
        reject(endedEarly(how));
      });
    });
    check();
  });
}

/** The first IPv4 address of `host` on an interface other than lo, read with `ip -j addr`. */
async function firstIpv4Address(host: ProbeEndpoint): Promise<string> {
  const { stdout } = await host.shell.system(["ip", "-j", "addr", "show"]);
  const links = parseIpJsonArray<{ ifname?: string; addr_info?: { family?: string; local?: string }[] }>(stdout);
  for (const link of links) {
    if (link.ifname === "lo") continue;
    const local = link.addr_info?.find((info) => info.family === "inet" && typeof info.local === "string")?.local;
    if (local !== undefined) return local;
  }
  throw new InvalidArgumentError(
    "to",
    host.name,
    "has no IPv4 address on an interface other than lo: give one, or the address to probe as options.address",
  );
}

/** Checks every option and fills in the defaults; throws InvalidArgumentError naming the first bad one. */
export function checkProbeOptions(options: unknown): ProbePlan {
  if (options === undefined) options = {};
  if (typeof options !== "object" || options === null || Array.isArray(options)) {
    throw new InvalidArgumentError(
      "probe options",
      options,
      "must be an object such as { count: 100, intervalMs: 10 }",
    );
  }
  const given = options as Record<string, unknown>;
  const unknown = Object.keys(given).filter((key) => !KNOWN_OPTIONS.includes(key));
  if (unknown.length > 0) {
    throw new InvalidArgumentError(
      "probe options",
      Object.fromEntries(unknown.map((key) => [key, given[key]])),
      `has unknown option(s) ${unknown.join(", ")}; known: ${KNOWN_OPTIONS.join(", ")}`,
    );
  }
  const count = wholeNumber("count", given["count"] ?? 200, 1, 1_000_000);
  const intervalMs = given["intervalMs"] ?? 10;
  if (typeof intervalMs !== "number" || !Number.isFinite(intervalMs) || intervalMs < 0 || intervalMs > 60_000) {
    throw new InvalidArgumentError("intervalMs", intervalMs, "must be a number of milliseconds from 0 to 60000");
  }
  const size = wholeNumber(
    "size",
    given["size"] ?? 64,
    16,
    65507,
    " (UDP payload bytes: 16 hold the probe's header, 65507 is the most an IPv4 datagram carries)",
  );
  const address = given["address"];
  if (address !== undefined) checkIpAddress("address", address);
  const signal = given["signal"];
  if (signal !== undefined && !(signal instanceof AbortSignal))
    throw new InvalidArgumentError("signal", signal, "must be an AbortSignal");
  const tcp = checkTcp(given["tcp"]);
  const tcpBudget =
    tcp === undefined ? 0 : "bytes" in tcp ? 60_000 + TCP_HANDSHAKES : tcp.seconds * 1000 + TCP_HANDSHAKES;
  const timeout = given["timeout"] ?? 30_000 + count * intervalMs + LATE_WAIT_MAX + tcpBudget;
  if (typeof timeout !== "number" || !Number.isFinite(timeout) || timeout <= 0) {
    throw new InvalidArgumentError("timeout", timeout, "must be a positive number of milliseconds");
  }
  return {
    ...(address !== undefined ? { address: address as string } : {}),
    count,
    intervalMs,
    size,
    ...(tcp ? { tcp } : {}),
    ...(signal ? { signal: signal } : {}),
    timeout,
  };
}

function checkTcp(value: unknown): { seconds: number } | { bytes: number } | undefined {
  if (value === undefined || value === false) return undefined;
  if (value === true) return { seconds: DEFAULT_TCP_SECONDS };
  const rule = "must be true, or { seconds } (from 0.1 to 3600) or { bytes } (a whole number from 1), not both";
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw new InvalidArgumentError("tcp", value, rule);
  const { seconds, bytes, ...other } = value as Record<string, unknown>;
  if (Object.keys(other).length > 0 || (seconds !== undefined && bytes !== undefined))
    throw new InvalidArgumentError("tcp", value, rule);
  if (bytes !== undefined) return { bytes: wholeNumber("tcp.bytes", bytes, 1, Number.MAX_SAFE_INTEGER) };
  if (seconds === undefined) return { seconds: DEFAULT_TCP_SECONDS };
  if (typeof seconds !== "number" || !Number.isFinite(seconds) || seconds < 0.1 || seconds > 3600) {
    throw new InvalidArgumentError("tcp.seconds", seconds, "must be a number of seconds from 0.1 to 3600");
  }
  return { seconds };
}

function wholeNumber(argument: string, value: unknown, min: number, max: number, why = ""): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidArgumentError(argument, value, `must be a whole number from ${min} to ${max}${why}`);
  }
  return value;
}
