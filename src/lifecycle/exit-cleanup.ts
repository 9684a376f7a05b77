/**
 * Cleanup when the process ends abnormally: on SIGINT, SIGTERM, SIGHUP, an
 * uncaught exception or an unhandled rejection, every live network is cleaned
 * up, then the process ends the way it would have (killed by the same signal,
 * so the exit status stays 130, 143, ...; exit status 1 for an error). On
 * `process.exit()` (no time for async work) namespaces, host links and cgroups are
 * removed synchronously. Embedders who manage this themselves pass
 * `exitCleanup: false` to DummyNet.
 */
import { execFileSync } from "node:child_process";

export interface ExitCleanable {
  cleanup(): Promise<void>;
  /** Synchronous last resort for process.exit(): remove what can be removed without awaiting. */
  cleanupSync(): void;
}

const live = new Set<ExitCleanable>();
const SIGNALS: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];
let installed = false;
let ending = false;

export function trackForExit(net: ExitCleanable): void {
  live.add(net);
  install();
}

export function untrackForExit(net: ExitCleanable): void {
  live.delete(net);
}

async function cleanAll(): Promise<void> {
  const nets = [...live];
  live.clear();
  await Promise.allSettled(nets.map((net) => net.cleanup()));
}

function onSignal(signal: NodeJS.Signals): void {
  if (ending) {
    // A second signal while cleaning up: finish what can be done synchronously, then die of it.
    onExit();
    for (const s of SIGNALS) process.removeListener(s, onSignal);
    process.kill(process.pid, signal);
    return;
  }
  ending = true;
  void cleanAll().finally(() => {
    // Let the signal do what it would have done had we not been listening.
    for (const s of SIGNALS) process.removeListener(s, onSignal);
    if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    else ending = false;
  });
}

function onFatal(error: unknown, origin: string): void {
  if (ending) return;
  ending = true;
  process.stderr.write(`${origin === "unhandledRejection" ? "Unhandled rejection" : "Uncaught exception"}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  void cleanAll().finally(() => process.exit(1));
}

function onExit(): void {
  for (const net of live) {
    try {
      net.cleanupSync();
    } catch {
      // Nothing more can be done while exiting.
    }
  }
}

function install(): void {
  if (installed) return;
  installed = true;
  for (const signal of SIGNALS) process.on(signal, onSignal);
  // Only take over fatal errors when nobody else has: the default would end the process anyway.
  if (process.listenerCount("uncaughtException") === 0) process.on("uncaughtException", (e) => onFatal(e, "uncaughtException"));
  if (process.listenerCount("unhandledRejection") === 0) process.on("unhandledRejection", (e) => onFatal(e, "unhandledRejection"));
  process.on("exit", onExit);
}

/** Runs argv synchronously, ignoring failure: for the exit path only. */
export function runSyncQuietly(argv: string[]): void {
  try {
    execFileSync(argv[0]!, argv.slice(1), { stdio: "ignore", timeout: 5000 });
  } catch {
    // Already gone, or nothing we can do now.
  }
}
