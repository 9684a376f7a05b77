/**
 * `dummynet fault` reaches the process that holds the network (`up`, or a
 * `run` in progress) through a Unix socket beside its owner record: that
 * process makes the fault with its own Lab, so the fault is one of the
 * network's (a later `fault heal` reaches it, `inspect` lists it) and goes
 * when the network goes, however the holder ends (its cleanup heals; a
 * SIGKILL takes the namespaces, and the rules in them, along).
 *
 * One JSON line each way: a request, then its answer.
 */
import { chmodSync, unlinkSync } from "node:fs";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import type { Fault } from "../faults/types.js";
import type { Lab } from "../topology/lab.js";

/** What `dummynet fault` asks of the holder. */
export type FaultRequest =
  | { op: "partition"; groups: string[][]; for?: number }
  | { op: "block"; from: string; to: string; for?: number }
  | { op: "isolate"; host: string; for?: number }
  | { op: "heal" }
  | { op: "list" };

/** A fault in force, as `fault --json` and `inspect` show it. */
export interface FaultView {
  kind: string;
  hosts: string[];
  /** When it was made (ISO 8601), when known: faults made through this socket, or by a schedule. */
  since: string | null;
  /** When it heals by itself (ISO 8601), for a fault made with `for`. */
  until: string | null;
}

/** The holder's answer. */
export type FaultAnswer =
  { ok: true; fault?: FaultView; faults: FaultView[] } | { ok: false; error: { name: string; message: string } };

/** Longest wait for the holder's answer: a fault is in force within milliseconds, a heal of many within seconds. */
const ANSWER_TIMEOUT_MS = 30_000;
/** A request is one short line; anything longer is not one of ours. */
const MAX_REQUEST_BYTES = 64 * 1024;

/** The holder's side: serves fault requests for `lab` on `path` until closed. */
export class FaultControl {
  readonly #server: Server;
  readonly #times = new WeakMap<Fault, { since: string; until: string | null }>();

  private constructor(
    readonly path: string,
    private readonly lab: Lab,
  ) {
    this.#server = createServer((socket) => {
      this.#serve(socket);
    });
  }

  /** Listens on `path` (replacing a stale socket of a dead holder with the same uid), readable by this user alone. */
  static async listen(path: string, lab: Lab): Promise<FaultControl> {
    const control = new FaultControl(path, lab);
    try {
      unlinkSync(path);
    } catch {
      // None there.
    }
    // Made 0600 from the start: another user must not reach the network through it.
    const umask = process.umask(0o177);
    try {
      await new Promise<void>((resolve, reject) => {
        control.#server.once("error", reject);
        control.#server.listen(path, () => {
          control.#server.off("error", reject);
          resolve();
        });
      });
    } finally {
      process.umask(umask);
    }
    chmodSync(path, 0o600);
    control.#server.unref(); // the network's own life keeps the process, not this socket
    return control;
  }

  /** Stops taking requests and removes the socket; requests in progress finish. */
  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.#server.close(() => {
        resolve();
      });
    });
    try {
      unlinkSync(this.path);
    } catch {
      // Removed already.
    }
  }

  /** The faults in force, oldest first, with their times. */
  faults(): FaultView[] {
    return this.lab.faults.map((fault) => this.#view(fault));
  }

  #view(fault: Fault): FaultView {
    const times = this.#times.get(fault);
    return { kind: fault.kind, hosts: [...fault.hosts], since: times?.since ?? null, until: times?.until ?? null };
  }

  #serve(socket: Socket): void {
    let buffered = "";
    socket.setEncoding("utf8");
    socket.on("error", () => undefined); // the client went away: nothing to answer
    socket.on("data", (chunk: string) => {
      buffered += chunk;
      if (buffered.length > MAX_REQUEST_BYTES) {
        socket.destroy();
        return;
      }
      const newline = buffered.indexOf("\n");
      if (newline < 0) return;
      socket.removeAllListeners("data");
      void this.#answer(buffered.slice(0, newline)).then((answer) => {
        socket.end(`${JSON.stringify(answer)}\n`);
      });
    });
  }

  async #answer(line: string): Promise<FaultAnswer> {
    try {
      const request = JSON.parse(line) as FaultRequest;
      const options = (lasting: number | undefined) => (lasting === undefined ? {} : { for: lasting });
      let fault: Fault | undefined;
      const since = new Date();
      switch (request.op) {
        case "partition":
          fault = await this.lab.partition(request.groups, options(request.for));
          break;
        case "block":
          fault = await this.lab.block(request.from, request.to, options(request.for));
          break;
        case "isolate":
          fault = await this.lab.isolate(request.host, options(request.for));
          break;
        case "heal":
          await this.lab.heal();
          break;
        case "list":
          break;
        default:
          throw new Error(`unknown request ${JSON.stringify((request as { op?: unknown }).op)}`);
      }
      if (fault) {
        const lasting = "for" in request ? request.for : undefined;
        this.#times.set(fault, {
          since: since.toISOString(),
          until: lasting === undefined ? null : new Date(since.getTime() + lasting).toISOString(),
        });
      }
      return { ok: true, ...(fault ? { fault: this.#view(fault) } : {}), faults: this.faults() };
    } catch (error) {
      const { name, message } = error instanceof Error ? error : new Error(String(error));
      return { ok: false, error: { name, message } };
    }
  }
}

/** The client's side: sends `request` to the holder listening on `path` and returns its answer. */
export function askHolder(path: string, request: FaultRequest, timeoutMs = ANSWER_TIMEOUT_MS): Promise<FaultAnswer> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(path);
    let buffered = "";
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the process holding the network did not answer within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.setEncoding("utf8");
    socket.on("connect", () => socket.write(`${JSON.stringify(request)}\n`));
    socket.on("data", (chunk: string) => (buffered += chunk));
    socket.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.on("end", () => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(buffered) as FaultAnswer);
      } catch {
        reject(new Error(`the process holding the network answered ${JSON.stringify(buffered.slice(0, 200))}`));
      }
    });
  });
}
