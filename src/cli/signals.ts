/**
 * Signals that end a network's life: Ctrl-C (SIGINT), SIGTERM, SIGHUP, and
 * SIGUSR2, which `dummynet down` sends to ask for a normal teardown (exit 0).
 * The first one aborts; later ones only say that cleanup is under way, so a
 * second Ctrl-C cannot interrupt the removal.
 */
const STOP_SIGNALS: readonly NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP", "SIGUSR2"];
/** The signal `dummynet down` sends to the process holding a network. */
export const DOWN_SIGNAL: NodeJS.Signals = "SIGUSR2";

export class StopSignals {
  readonly #controller = new AbortController();
  #received: NodeJS.Signals | undefined;
  readonly #handler = (signal: NodeJS.Signals) => {
    if (this.#received) {
      process.stderr.write(`dummynet: ${signal} received; still removing the network, please wait\n`);
      return;
    }
    this.#received = signal;
    this.#controller.abort(new Error(`stopped by ${signal}`));
  };

  constructor() {
    for (const signal of STOP_SIGNALS) process.on(signal, this.#handler);
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** The first signal received, if any. */
  get received(): NodeJS.Signals | undefined {
    return this.#received;
  }

  /** Resolves when a stop signal arrives. */
  wait(): Promise<void> {
    if (this.signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      this.signal.addEventListener(
        "abort",
        () => {
          resolve();
        },
        { once: true },
      );
    });
  }

  dispose(): void {
    for (const signal of STOP_SIGNALS) process.off(signal, this.#handler);
  }
}
