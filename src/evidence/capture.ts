/**
 * `capture(host, iface)`: one interface recorded into a pcap file by
 * tcpdump (tcpdump.ts), from the moment the promise resolves until `stop()`
 * or the network's cleanup. The file is ours (written from tcpdump's pipe):
 * its path is checked before anything starts, it is capped at `maxBytes`
 * (packets past the cap are counted, not written), and a write that fails
 * (a full disk) ends the capture with an error naming the file.
 */
import { closeSync, fstatSync, openSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { DummyNetError, InvalidArgumentError } from "../errors.js";
import type { Privilege } from "../system/privilege.js";
import { pcapHeader, type PcapRecord } from "./pcap.js";
import { DEFAULT_SNAPLEN, Tcpdump } from "./tcpdump.js";

/** Size cap of a capture file when nobody says: 64 MiB. */
const DEFAULT_CAPTURE_MAX_BYTES = 64 * 2 ** 20;

/**
 * Options of `capture()`.
 * @inline
 */
export interface CaptureOptions {
  /** The pcap file to write (made or truncated). @default a new file in the temporary directory */
  file?: string;
  /** Bytes of each packet kept. @default 262144 (whole packets) */
  snaplen?: number;
  /** Largest size of the file in bytes; packets past it are counted in `dropped`, not written. @default 64 MiB */
  maxBytes?: number;
}

/** What a stopped capture recorded. */
export interface CaptureResult {
  /** The pcap file (absolute path). */
  file: string;
  /** Packets written to the file. */
  packets: number;
  /** Size of the file in bytes. */
  bytes: number;
  /** Packets not written because the file had reached `maxBytes`. */
  dropped: number;
}

/**
 * A capture's failure (the interface went away, the disk is full); `result` says what the file holds.
 *
 * @example
 * ```ts
 * const capture = await net.capture(a, "eth0");
 * try {
 *   await capture.stop();
 * } catch (error) {
 *   if (error instanceof CaptureError) console.error(error.message, error.result.packets);
 *   else throw error;
 * }
 * ```
 */
export class CaptureError extends DummyNetError {
  constructor(
    message: string,
    /** What was written before the failure. */
    readonly result: CaptureResult,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

let fileCounter = 0;

/** Checks the options and opens the file (so that a bad path fails before tcpdump starts). */
function openCaptureFile(options: CaptureOptions, label: string): { file: string; fd: number } {
  const file = resolve(
    options.file ??
      join(tmpdir(), `dummynet-${process.pid}-${fileCounter++}-${label.replace(/[^A-Za-z0-9_.-]/g, "_")}.pcap`),
  );
  try {
    return { file, fd: openSync(file, "w", 0o644) };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why =
      code === "ENOENT"
        ? `its folder ${dirname(file)} does not exist`
        : code === "EACCES" || code === "EPERM" || code === "EROFS"
          ? "cannot be written by this user"
          : code === "EISDIR"
            ? "is a folder"
            : (error as Error).message;
    throw new InvalidArgumentError("file", options.file ?? file, `${why}; give a writable path for the pcap file`, {
      cause: error,
    });
  }
}

export function validateCaptureOptions(options: CaptureOptions): void {
  if (typeof options !== "object" || (options as unknown) === null)
    throw new InvalidArgumentError("options", options, "must be an object { file?, snaplen?, maxBytes? }");
  const { snaplen, maxBytes, file } = options;
  if (snaplen !== undefined && (!Number.isInteger(snaplen) || snaplen < 64 || snaplen > DEFAULT_SNAPLEN))
    throw new InvalidArgumentError("snaplen", snaplen, `must be an integer from 64 to ${DEFAULT_SNAPLEN} (bytes)`);
  if (maxBytes !== undefined && (!Number.isInteger(maxBytes) || maxBytes < 1024))
    throw new InvalidArgumentError("maxBytes", maxBytes, "must be an integer of at least 1024 (bytes)");
  if (file !== undefined && (typeof file !== "string" || file === ""))
    throw new InvalidArgumentError("file", file, "must be a non-empty path");
}

/**
 * A running capture of one interface into a pcap file.
 *
 * @example
 * ```ts
 * const capture = await net.capture(a, "eth0", { file: "/tmp/a-eth0.pcap" });
 * await a.run(["ping", "-c", "3", "10.0.0.2"]);
 * const { file, packets } = await capture.stop(); // tcpdump -r /tmp/a-eth0.pcap
 * ```
 */
export class Capture {
  /** The pcap file being written (absolute path). */
  readonly file: string;
  readonly #fd: number;
  readonly #engine: Tcpdump;
  readonly #maxBytes: number;
  readonly #what: string;
  #bytes = 0;
  #packets = 0;
  #dropped = 0;
  readonly #snaplen: number;
  #failure: Error | undefined;
  #stopped: Promise<CaptureResult> | undefined;
  #closed = false;

  /** @internal Made by `capture()`; resolves through `Capture.start`. */
  private constructor(
    where: { privilege: Privilege; namespace: string | undefined; iface: string; what: string },
    options: CaptureOptions,
  ) {
    const opened = openCaptureFile(options, where.what);
    this.file = opened.file;
    this.#fd = opened.fd;
    this.#maxBytes = options.maxBytes ?? DEFAULT_CAPTURE_MAX_BYTES;
    this.#what = where.what;
    const snaplen = options.snaplen ?? DEFAULT_SNAPLEN;
    try {
      this.#engine = new Tcpdump({
        privilege: where.privilege,
        namespace: where.namespace,
        iface: where.iface,
        snaplen,
        onRecords: (records, reader) => {
          if (this.#bytes === 0 && reader.header) this.#write([reader.header]);
          this.#append(records);
        },
        onFailure: (error) => {
          this.#failure ??= error;
        },
      });
    } catch (error) {
      this.#close();
      throw error;
    }
    this.#snaplen = snaplen;
  }

  /** @internal Starts capturing `iface` (the name on the system) in `namespace`; resolves once tcpdump listens. */
  static async start(
    where: { privilege: Privilege; namespace: string | undefined; iface: string; what: string },
    options: CaptureOptions,
  ): Promise<Capture> {
    const capture = new Capture(where, options);
    try {
      await capture.#engine.start();
    } catch (error) {
      capture.#close();
      throw error;
    }
    return capture;
  }

  /** The process id of the capture engine (tcpdump, or the sudo/nsenter in front of it). */
  get pid(): number | undefined {
    return this.#engine.pid;
  }

  /**
   * Stops the capture once what the kernel still holds is written; resolves with what the file holds.
   * Idempotent: later calls get the same answer.
   *
   * @throws CaptureError when the capture had failed (the interface went away, the disk filled up), naming the interface or file; its `result` says what was written.
   * @example
   * ```ts
   * const capture = await net.capture(a, "eth0");
   * const { file, packets, bytes } = await capture.stop();
   * console.log(`${packets} packets (${bytes} bytes) in ${file}`);
   * ```
   */
  stop(): Promise<CaptureResult> {
    this.#stopped ??= (async () => {
      await this.#engine.stop();
      // No packet came: the file still gets a valid (empty) pcap, of the link type tcpdump announced.
      if (this.#bytes === 0) this.#write([pcapHeader(this.#engine.reader.linkType ?? 1, this.#snaplen)]);
      this.#close();
      const result = { file: this.file, packets: this.#packets, bytes: this.#bytes, dropped: this.#dropped };
      if (this.#failure) {
        throw new CaptureError(
          `${this.#failure.message}; ${this.file} holds the ${result.packets} packet(s) captured before`,
          result,
          { cause: this.#failure },
        );
      }
      return result;
    })();
    return this.#stopped;
  }

  /** @internal The exit path: ends the engine at once and closes the file. */
  stopSync(): void {
    this.#engine.stopSync();
    this.#close();
  }

  #append(records: PcapRecord[]): void {
    const kept: PcapRecord[] = [];
    let size = this.#bytes;
    for (const record of records) {
      if (size + record.length > this.#maxBytes) this.#dropped++;
      else {
        kept.push(record);
        size += record.length;
      }
    }
    if (kept.length === 0) return;
    if (this.#write(kept)) this.#packets += kept.length;
  }

  /** Writes buffers at the end of the file; a failure (ENOSPC) ends the capture with an error naming the file. */
  #write(buffers: Buffer[]): boolean {
    if (this.#closed || this.#failure) return false;
    try {
      for (const buffer of buffers) {
        let offset = 0;
        while (offset < buffer.length) offset += writeSync(this.#fd, buffer, offset, buffer.length - offset);
        this.#bytes += buffer.length;
      }
      return true;
    } catch (error) {
      this.#failure = new DummyNetError(
        `capture of ${this.#what} could not write ${this.file}: ${(error as Error).message}`,
        { cause: error },
      );
      void this.#engine.stop();
      return false;
    }
  }

  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#bytes = fstatSync(this.#fd).size;
      closeSync(this.#fd);
    } catch {
      // Closed already.
    }
  }
}
