/**
 * The pcap file format (the classic one tcpdump writes and every tool reads):
 * a 24-byte file header, then per packet a 16-byte record header and the
 * packet's bytes. PcapReader splits the byte stream of `tcpdump -w -` into
 * that header and whole records; the writers here put them back into files.
 */

/** Size of the file header. */
const PCAP_HEADER_BYTES = 24;
/** Size of each record's header (seconds, microseconds, captured length, original length). */
const RECORD_HEADER_BYTES = 16;
/** The link type of `tcpdump -i any`: Linux cooked capture v2, whose header names the interface by index. */
const LINKTYPE_LINUX_SLL2 = 276;

/** Linux cooked capture v1: as v2 without the interface index, for a file that holds one interface. */
export const LINKTYPE_LINUX_SLL = 113;

/** One packet record as it is in the file: its 16-byte header followed by the captured bytes. */
export type PcapRecord = Buffer;

/** Splits a pcap byte stream into its file header and whole records, whatever the chunking. */
export class PcapReader {
  #pending: Buffer = Buffer.alloc(0);
  #header: Buffer | undefined;
  #littleEndian = true;

  /** The file header, once its 24 bytes have arrived. */
  get header(): Buffer | undefined {
    return this.#header;
  }

  /** The link type the header declares (1: Ethernet, 276: Linux cooked v2). */
  get linkType(): number | undefined {
    return this.#header ? this.#read32(this.#header, 20) : undefined;
  }

  /** Feeds bytes; returns the records they completed. */
  push(chunk: Buffer): PcapRecord[] {
    this.#pending = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
    if (!this.#header) {
      if (this.#pending.length < PCAP_HEADER_BYTES) return [];
      const header = Buffer.from(this.#pending.subarray(0, PCAP_HEADER_BYTES));
      const magic = header.readUInt32LE(0);
      if (magic !== 0xa1b2c3d4 && magic !== 0xa1b23c4d && header.readUInt32BE(0) !== 0xa1b2c3d4)
        throw new Error(`not a pcap stream: magic 0x${header.readUInt32BE(0).toString(16)}`);
      this.#littleEndian = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
      this.#header = header;
      this.#pending = this.#pending.subarray(PCAP_HEADER_BYTES);
    }
    const records: PcapRecord[] = [];
    let offset = 0;
    while (this.#pending.length - offset >= RECORD_HEADER_BYTES) {
      const size = RECORD_HEADER_BYTES + this.#read32(this.#pending, offset + 8);
      if (this.#pending.length - offset < size) break;
      // A copy: the chunk's memory is not kept alive by a ring that holds one small record of it.
      records.push(Buffer.from(this.#pending.subarray(offset, offset + size)));
      offset += size;
    }
    this.#pending = this.#pending.subarray(offset);
    return records;
  }

  /** The interface index of an SLL2 record (`tcpdump -i any`), or undefined for other link types. */
  interfaceIndex(record: PcapRecord): number | undefined {
    if (this.linkType !== LINKTYPE_LINUX_SLL2 || record.length < RECORD_HEADER_BYTES + 8) return undefined;
    // The SLL2 header is big-endian: protocol (2), reserved (2), interface index (4), ...
    return record.readUInt32BE(RECORD_HEADER_BYTES + 4);
  }

  #read32(buffer: Buffer, offset: number): number {
    return this.#littleEndian ? buffer.readUInt32LE(offset) : buffer.readUInt32BE(offset);
  }
}

/**
 * An SLL2 record (`tcpdump -i any`) as an SLL (v1) record: the same packet without its interface index,
 * for a file of one interface (readers would otherwise name it after their own interface of that index).
 * Little-endian record headers, as tcpdump writes them on this machine.
 */
export function sll2ToSll(record: PcapRecord): PcapRecord {
  const at = RECORD_HEADER_BYTES;
  if (record.length < at + 20) return record;
  const out = Buffer.alloc(record.length - 4);
  record.copy(out, 0, 0, at);
  out.writeUInt32LE(record.readUInt32LE(8) - 4, 8);
  out.writeUInt32LE(record.readUInt32LE(12) - 4, 12);
  // SLL2: protocol(2) reserved(2) ifindex(4) hatype(2) pkttype(1) halen(1) addr(8);
  // SLL:  pkttype(2) hatype(2) halen(2) addr(8) protocol(2).
  out.writeUInt16BE(record.readUInt8(at + 10), at);
  out.writeUInt16BE(record.readUInt16BE(at + 8), at + 2);
  out.writeUInt16BE(record.readUInt8(at + 11), at + 4);
  record.copy(out, at + 6, at + 12, at + 20);
  out.writeUInt16BE(record.readUInt16BE(at), at + 14);
  record.copy(out, at + 16, at + 20);
  return out;
}

/** A pcap file header for `linkType` (microsecond timestamps, little-endian, as tcpdump writes on x86). */
export function pcapHeader(linkType: number, snaplen: number): Buffer {
  const header = Buffer.alloc(PCAP_HEADER_BYTES);
  header.writeUInt32LE(0xa1b2c3d4, 0);
  header.writeUInt16LE(2, 4);
  header.writeUInt16LE(4, 6);
  header.writeUInt32LE(snaplen, 16);
  header.writeUInt32LE(linkType, 20);
  return header;
}

/** The packets of a pcap file (or buffer): each record's captured bytes and timestamp, for tests and tools. */
export function parsePcap(file: Buffer): { linkType: number; packets: { seconds: number; data: Buffer }[] } {
  const reader = new PcapReader();
  const records = reader.push(file);
  if (reader.linkType === undefined) throw new Error(`not a pcap file: ${file.length} bytes, a header needs 24`);
  return {
    linkType: reader.linkType,
    packets: records.map((record) => ({
      seconds: record.readUInt32LE(0) + record.readUInt32LE(4) / 1e6,
      data: record.subarray(RECORD_HEADER_BYTES),
    })),
  };
}
