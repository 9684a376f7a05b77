/**
 * The test fixtures' recorder: every host of the test's network recorded from
 * the moment its namespace is made (so every link of the host is recorded,
 * including links made or moved there later) by the capture hub
 * (capture-launcher.ts: one packet socket per host, in one process), each into
 * a ring of files in a temporary folder (the newest ~4 MB). A passing test
 * has the sockets closed and the files removed; a failing one has them
 * stopped (what the kernel still holds is written), read, and split by
 * interface into one pcap per link (evidence-folder.ts). A capture that
 * cannot start or dies is noted, never an error of the test.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { NamespaceWatcher } from "../network/namespace-watchers.js";
import { netnsPath } from "../system/proc.js";
import type { Privilege } from "../system/privilege.js";
import { type Launcher, type LaunchedCapture, RING_FILES, launchCapture } from "./capture-launcher.js";
import { PcapReader, type PcapRecord } from "./pcap.js";
import { engineMessage } from "./tcpdump.js";

export { EVIDENCE_SNAPLEN } from "./capture-launcher.js";

/** How long the hub may take to open a socket, and to flush a capture, before the recording gives up on it. */
const WAIT_MS = 10_000;

/** The packets one host's capture kept, newest last. */
export interface HostRecording {
  /** The namespace (scoped name). */
  namespace: string;
  /** The records, each with its 16-byte pcap header (Linux cooked v2: the interface index is in each). */
  records: PcapRecord[];
  /** Older packets the ring let go of to stay within its size. */
  evicted: number;
  /** Why the capture could not run, or why it ended early. */
  problem: string | undefined;
  /** The reader that split them (it tells each record's interface). */
  reader: PcapReader | undefined;
}

interface HostRing {
  file: string;
  capture?: LaunchedCapture;
  launcher?: Launcher;
  problem?: string;
  /** Set once this side asked the engine to end. */
  stopped?: Promise<void>;
  stderr?: string;
}

function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => {
      resolve(undefined);
    }, ms);
  });
  return Promise.race([promise, timeout]).finally(() => {
    clearTimeout(timer);
  });
}

/** Records every host of one owner's network from its start; see the file comment. */
export class NetworkRecorder implements NamespaceWatcher {
  readonly #rings = new Map<string, HostRing>();
  #folder: string | undefined;
  #stopped = false;

  added(scoped: string, privilege?: Privilege): void {
    if (this.#stopped || this.#rings.has(scoped) || !privilege) return;
    const ring: HostRing = { file: "" };
    this.#rings.set(scoped, ring);
    try {
      this.#folder ??= mkdtempSync(join(tmpdir(), "dummynet-rings-"));
      ring.file = join(this.#folder, `${scoped}.pcap`);
      // Not awaited: netnsAdd does not wait for the hub; the host has no link to record before its next steps.
      Object.assign(ring, launchCapture(privilege, netnsPath(scoped), ring.file));
      ring.capture?.listening.catch((error: unknown) => (ring.problem ??= (error as Error).message));
      void ring.capture?.exited.then(({ status, stderr }) => {
        ring.stderr = stderr;
        if (!ring.stopped || status !== 0) ring.problem ??= `capture ended: ${engineMessage(stderr)} (exit ${status})`;
      });
    } catch (error) {
      ring.problem = (error as Error).message;
    }
  }

  async deleting(scoped: readonly string[]): Promise<void> {
    await Promise.all(scoped.map((namespace) => this.#stop(this.#rings.get(namespace), false)));
  }

  /**
   * Stops every capture (each flushes what the kernel still holds into its files, unless `discard`:
   * a passing test's files are thrown away); later namespaces are not recorded.
   */
  async stop(options: { discard?: boolean } = {}): Promise<void> {
    this.#stopped = true;
    await Promise.all([...this.#rings.values()].map((ring) => this.#stop(ring, options.discard === true)));
    if (options.discard) this.#removeFiles();
  }

  /** The exit path: kills every capture at once and removes the files. */
  stopSync(): void {
    this.#stopped = true;
    this.#removeFiles();
  }

  /** What each host's ring holds (call once, after stop(); the files are removed). */
  recordings(): HostRecording[] {
    const recordings = [...this.#rings].map(([namespace, ring]) => ({ namespace, ...readRing(ring) }));
    this.#removeFiles();
    return recordings;
  }

  #stop(ring: HostRing | undefined, discard: boolean): Promise<void> {
    if (!ring?.capture || !ring.launcher) return Promise.resolve();
    const { capture, launcher } = ring;
    ring.stopped ??= (async () => {
      // A recording that is kept must have started: what it holds is written on SIGINT.
      if (!discard)
        await within(
          capture.listening.catch(() => undefined),
          WAIT_MS,
        );
      launcher.signal(capture, discard ? "KILL" : "INT");
      if ((await within(capture.exited, WAIT_MS)) === undefined) {
        launcher.signal(capture, "KILL");
        await within(capture.exited, WAIT_MS);
      }
    })();
    return ring.stopped;
  }

  #removeFiles(): void {
    if (this.#folder) rmSync(this.#folder, { recursive: true, force: true });
    this.#folder = undefined;
  }
}

/** The ring's files, oldest first, as one list of records. */
function readRing(ring: HostRing): Omit<HostRecording, "namespace"> {
  const files = Array.from({ length: RING_FILES }, (_, i) => `${ring.file}${i}`)
    .filter((file) => ring.file !== "" && existsSync(file))
    .sort((a, b) => statSync(a).mtimeMs - statSync(b).mtimeMs);
  let reader: PcapReader | undefined;
  const records: PcapRecord[] = [];
  let problem = ring.problem;
  for (const file of files) {
    try {
      const fileReader = new PcapReader();
      records.push(...fileReader.push(readFileSync(file)));
      reader ??= fileReader;
    } catch (error) {
      problem ??= `could not read ${file}: ${(error as Error).message}`;
    }
  }
  // The hub counts what it captured as the capture ends; what the ring no longer holds was let go.
  const captured = /(\d+) packets? captured/.exec(ring.stderr ?? "");
  const evicted = captured ? Math.max(0, Number(captured[1]) - records.length) : 0;
  return { records, evicted, problem, reader };
}
