/**
 * The test fixtures' recorder: one `tcpdump -i any` per host of the test's
 * network, started as each namespace is made (so every link of the host is
 * recorded, including links made or moved there later), each into a ring in
 * memory (the newest RING_BYTES). A passing test throws the rings away; a
 * failing one has them split by interface into one pcap per link
 * (evidence-folder.ts). A capture that cannot start or dies is noted, never
 * an error of the test.
 */
import type { NamespaceWatcher } from "../network/namespace-watchers.js";
import type { Privilege } from "../system/privilege.js";
import type { PcapReader, PcapRecord } from "./pcap.js";
import { Tcpdump } from "./tcpdump.js";

/** Bytes of packets each host's ring keeps (the newest): 4 MiB. */
const DEFAULT_RING_BYTES = 4 * 2 ** 20;
/** Bytes of each packet kept in the rings: headers and some payload, which is what a failure's story needs. */
export const EVIDENCE_SNAPLEN = 2048;

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

class HostRing {
  readonly records: PcapRecord[] = [];
  #head = 0;
  #bytes = 0;
  evicted = 0;
  problem: string | undefined;
  engine: Tcpdump | undefined;
  started: Promise<void> = Promise.resolve();

  constructor(private readonly limit: number) {}

  push(records: PcapRecord[]): void {
    for (const record of records) {
      this.records.push(record);
      this.#bytes += record.length;
    }
    while (this.#bytes > this.limit && this.#head < this.records.length) {
      this.#bytes -= this.records[this.#head++].length;
      this.evicted++;
    }
    // Drop the evicted part now and then, not on every packet.
    if (this.#head > 1024 && this.#head * 2 > this.records.length) {
      this.records.splice(0, this.#head);
      this.#head = 0;
    }
  }

  kept(): PcapRecord[] {
    return this.records.slice(this.#head);
  }
}

/** Records every host of one owner's network from its start; see the file comment. */
export class NetworkRecorder implements NamespaceWatcher {
  readonly #rings = new Map<string, HostRing>();
  readonly #ringBytes: number;
  #stopped = false;

  constructor(options: { ringBytes?: number } = {}) {
    this.#ringBytes = options.ringBytes ?? DEFAULT_RING_BYTES;
  }

  added(scoped: string, privilege?: Privilege): void {
    if (this.#stopped || this.#rings.has(scoped) || !privilege) return;
    const ring = new HostRing(this.#ringBytes);
    this.#rings.set(scoped, ring);
    try {
      ring.engine = new Tcpdump({
        privilege,
        namespace: scoped,
        iface: "any",
        snaplen: EVIDENCE_SNAPLEN,
        onRecords: (records) => {
          ring.push(records);
        },
        onFailure: (error) => {
          ring.problem ??= error.message;
        },
      });
      // Not awaited: netnsAdd does not wait for tcpdump; the host has no link to record before its next steps.
      ring.started = ring.engine.start().catch((error: unknown) => {
        ring.problem ??= (error as Error).message;
      });
    } catch (error) {
      ring.problem = (error as Error).message;
    }
  }

  async deleting(scoped: readonly string[]): Promise<void> {
    await Promise.all(scoped.map((namespace) => this.#stop(this.#rings.get(namespace))));
  }

  /** Waits for every capture to have started (or failed): what a test's set-up costs is paid here, not in netnsAdd. */
  async ready(): Promise<void> {
    await Promise.all([...this.#rings.values()].map((ring) => ring.started));
  }

  /**
   * Stops every capture (each flushes what the kernel still holds into its ring, unless `discard`:
   * a passing test's rings are thrown away); later namespaces are not recorded.
   */
  async stop(options: { discard?: boolean } = {}): Promise<void> {
    this.#stopped = true;
    await Promise.all([...this.#rings.values()].map((ring) => this.#stop(ring, options)));
  }

  /** The exit path: kills every capture at once. */
  stopSync(): void {
    this.#stopped = true;
    for (const ring of this.#rings.values()) ring.engine?.stopSync();
  }

  /** What each host's ring holds (call after stop()). */
  recordings(): HostRecording[] {
    return [...this.#rings].map(([namespace, ring]) => ({
      namespace,
      records: ring.kept(),
      evicted: ring.evicted,
      problem: ring.problem,
      reader: ring.engine?.reader,
    }));
  }

  async #stop(ring: HostRing | undefined, options: { discard?: boolean } = {}): Promise<void> {
    if (!ring) return;
    if (!options.discard) await ring.started;
    await ring.engine?.stop(options);
  }
}
