/**
 * Cleanup when the process ends abnormally: on SIGINT, SIGTERM, SIGHUP, an
 * uncaught exception or an unhandled rejection, every live network is cleaned
 * up, then the process ends the way it would have (killed by the same signal,
 * so the exit status stays 130, 143, ...; exit status 1 for an error). On
 * `process.exit()` (no time for async work) namespaces, host links, cgroups and
 * the monitored processes are removed synchronously. Embedders who manage this
 * themselves pass `exitCleanup: false` to DummyNet.
 *
 * The async cleanup is bounded: if it has not finished DUMMYNET_EXIT_TIMEOUT_MS
 * (default 30 s) after the signal or error, or when a second signal comes, the
 * synchronous path removes what it can and the process ends anyway, saying on
 * stderr what the cleanup was doing.
 */

export interface ExitCleanable {
  cleanup(): Promise<void>;
  /** Synchronous last resort for process.exit(): remove what can be removed without awaiting. */
  cleanupSync(): void;
  /** What its cleanup is doing now, for the message when it takes too long. */
  describe(): string;
}

const live = new Set<ExitCleanable>();
const SIGNALS: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];
const DEFAULT_EXIT_TIMEOUT_MS = 30_000;
let signalsInstalled = false;
let othersInstalled = false;
let ending = false;

export function trackForExit(net: ExitCleanable): void {
  live.add(net);
  install();
}

export function untrackForExit(net: ExitCleanable): void {
  live.delete(net);
}

/** Milliseconds the async exit cleanup may take: DUMMYNET_EXIT_TIMEOUT_MS, read when needed. */
function exitTimeout(): number {
  const text = process.env["DUMMYNET_EXIT_TIMEOUT_MS"];
  if (text === undefined || text === "") return DEFAULT_EXIT_TIMEOUT_MS;
  const value = Number(text);
  if (Number.isInteger(value) && value > 0) return value;
  process.stderr.write(
    `dummynet: DUMMYNET_EXIT_TIMEOUT_MS=${JSON.stringify(text)} is not a positive whole number of milliseconds; using ${DEFAULT_EXIT_TIMEOUT_MS}\n`,
  );
  return DEFAULT_EXIT_TIMEOUT_MS;
}

/** Cleans every live network; each stays tracked until its cleanup settles, so the synchronous path can still take over. */
async function cleanAll(): Promise<void> {
  const nets = [...live];
  await Promise.allSettled(nets.map((net) => net.cleanup().finally(() => live.delete(net))));
}

/** Runs `cleanAll`, or after the exit timeout the synchronous path; then `end`. */
function cleanThen(cause: string, then: () => void): void {
  const timeout = exitTimeout();
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    then();
  };
  // Referenced on purpose: a cleanup stuck on a promise that holds nothing must not let the process end as if all went well.
  const timer = setTimeout(() => {
    const doing = [...live].map((net) => net.describe()).join("; ") || "nothing left to do";
    process.stderr.write(
      `dummynet: cleanup after ${cause} did not finish within ${timeout} ms (${doing}); removing what can be removed synchronously, then exiting\n`,
    );
    cleanSync();
    end();
  }, timeout);
  void cleanAll().finally(() => {
    clearTimeout(timer);
    end();
  });
}

function onSignal(signal: NodeJS.Signals): void {
  if (ending) {
    // A second signal while cleaning up: finish what can be done synchronously, then die of it.
    process.stderr.write(
      `dummynet: ${signal} again during cleanup; removing what can be removed synchronously, then exiting\n`,
    );
    cleanSync();
    dieOf(signal);
    return;
  }
  ending = true;
  cleanThen(signal, () => {
    dieOf(signal);
  });
}

/** Ends the process by `signal`, as if we had not been listening; unless someone else listens, who then decides. */
function dieOf(signal: NodeJS.Signals): void {
  removeSignalHandlers();
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
  // Still running: a later network is tracked (and signals handled) again.
  else ending = false;
}

function onFatal(error: unknown, origin: string): void {
  const what = origin === "unhandledRejection" ? "Unhandled rejection" : "Uncaught exception";
  if (ending) {
    // Typically the program's next change, refused because cleanup runs: say so, and let cleanup go on.
    process.stderr.write(
      `${what} during exit cleanup (cleanup goes on): ${error instanceof Error ? error.message : String(error)}\n`,
    );
    return;
  }
  ending = true;
  process.stderr.write(`${what}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  // process.exit() runs the synchronous path for whatever is still live.
  cleanThen(origin, () => process.exit(1));
}

function cleanSync(): void {
  for (const net of [...live]) {
    live.delete(net);
    try {
      net.cleanupSync();
    } catch {
      // Nothing more can be done while exiting.
    }
  }
}

function install(): void {
  if (!signalsInstalled) {
    signalsInstalled = true;
    for (const signal of SIGNALS) process.on(signal, onSignal);
  }
  if (othersInstalled) return;
  othersInstalled = true;
  // Only take over fatal errors when nobody else has: the default would end the process anyway.
  if (process.listenerCount("uncaughtException") === 0)
    process.on("uncaughtException", (e) => {
      onFatal(e, "uncaughtException");
    });
  if (process.listenerCount("unhandledRejection") === 0)
    process.on("unhandledRejection", (e) => {
      onFatal(e, "unhandledRejection");
    });
  process.on("exit", cleanSync);
}

function removeSignalHandlers(): void {
  for (const signal of SIGNALS) process.removeListener(signal, onSignal);
  signalsInstalled = false;
}
