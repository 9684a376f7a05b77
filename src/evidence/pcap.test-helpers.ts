/** Test support: sending marked UDP datagrams from a host, and counting them in a pcap file read byte by byte. */
import { readFileSync } from "node:fs";
import type { DummyNet } from "../network/dummy-net.js";
import { parsePcap } from "./pcap.js";

/** Sends `count` UDP datagrams carrying `marker` from `host` to `to`:9, with Node.js (no other program needed). */
export async function sendDatagrams(host: DummyNet, to: string, count: number, marker: string): Promise<void> {
  const script = `const s = require("node:dgram").createSocket("udp4"); let n = 0;
    const next = () => n++ < ${count} ? s.send(Buffer.from("${marker}-" + n), 9, "${to}", next) : s.close();
    next();`;
  await host.run([process.execPath, "-e", script], { timeout: 20_000 });
}

/**
 * The UDP datagrams of a pcap file that carry `marker`, found by reading the file ourselves: past the
 * link header (Ethernet 14 bytes, Linux cooked 16), IPv4's protocol byte says UDP (the ICMP errors
 * that quote a datagram do not count).
 */
export function datagramsWith(file: string, marker: string): number {
  const { linkType, packets } = parsePcap(readFileSync(file));
  const ip = linkType === 113 ? 16 : 14;
  return packets.filter(
    (packet) => packet.data[ip] >> 4 === 4 && packet.data[ip + 9] === 17 && packet.data.includes(Buffer.from(marker)),
  ).length;
}
