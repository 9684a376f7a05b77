/**
 * IP addresses of a topology file as numbers, so the checker can tell when two
 * addresses clash or two ends of a link sit in inconsistent subnets.
 */
import { isIPv4, isIPv6 } from "node:net";

export interface ParsedAddress {
  family: 4 | 6;
  /** The address as an integer (32 or 128 bits). */
  value: bigint;
  /** The text as written, e.g. "10.0.0.1". */
  text: string;
}

export interface ParsedCidr extends ParsedAddress {
  prefix: number;
  /** The network (address with the host bits cleared). */
  network: bigint;
}

export function parseIp(text: string): ParsedAddress | undefined {
  if (isIPv4(text)) {
    const value = text.split(".").reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n);
    return { family: 4, value, text };
  }
  if (isIPv6(text)) return { family: 6, value: ipv6ToBigInt(text), text };
  return undefined;
}

/** Parses "10.0.0.1/24"; undefined when either half is invalid (message from `cidrProblem`). */
export function parseCidr(text: string): ParsedCidr | undefined {
  return cidrProblem(text) === undefined ? parseCidrUnchecked(text) : undefined;
}

/** Why `text` is not a usable interface address, or undefined when it is one. */
export function cidrProblem(text: string): string | undefined {
  const slash = text.indexOf("/");
  if (slash < 0) return "has no prefix length; expected an address with prefix, e.g. 10.0.0.1/24";
  const ip = parseIp(text.slice(0, slash));
  if (!ip) return "is not an IPv4 or IPv6 address; expected e.g. 10.0.0.1/24 or fd00::1/64";
  const prefixText = text.slice(slash + 1);
  const prefix = Number(prefixText);
  const max = ip.family === 4 ? 32 : 128;
  if (!/^[0-9]+$/.test(prefixText) || prefix > max) return `has prefix length /${prefixText}; expected 0 to ${max}`;
  return undefined;
}

function parseCidrUnchecked(text: string): ParsedCidr {
  const [addressText, prefixText] = text.split("/") as [string, string];
  const ip = parseIp(addressText);
  if (!ip) throw new Error(`internal error: ${addressText} is not a checked address`);
  const prefix = Number(prefixText);
  return { ...ip, prefix, network: networkOf(ip.value, prefix, ip.family) };
}

function networkOf(value: bigint, prefix: number, family: 4 | 6): bigint {
  const bits = family === 4 ? 32 : 128;
  const hostBits = BigInt(bits - prefix);
  return (value >> hostBits) << hostBits;
}

/** True when `ip` lies within `cidr`'s subnet. */
export function contains(cidr: ParsedCidr, ip: ParsedAddress): boolean {
  return cidr.family === ip.family && networkOf(ip.value, cidr.prefix, cidr.family) === cidr.network;
}

/** True when the two subnets share addresses. */
export function overlaps(a: ParsedCidr, b: ParsedCidr): boolean {
  if (a.family !== b.family) return false;
  const shorter = Math.min(a.prefix, b.prefix);
  return networkOf(a.value, shorter, a.family) === networkOf(b.value, shorter, b.family);
}

/** "network address" / "broadcast address" when an IPv4 host address cannot be used as one. */
export function reservedHostAddress(cidr: ParsedCidr): string | undefined {
  if (cidr.family !== 4 || cidr.prefix >= 31) return undefined;
  if (cidr.value === cidr.network) return "network address";
  const broadcast = cidr.network | ((1n << BigInt(32 - cidr.prefix)) - 1n);
  if (cidr.value === broadcast) return "broadcast address";
  return undefined;
}

export function formatNetwork(cidr: ParsedCidr): string {
  if (cidr.family === 4) {
    const parts = [24n, 16n, 8n, 0n].map((shift) => String((cidr.network >> shift) & 255n));
    return `${parts.join(".")}/${cidr.prefix}`;
  }
  const groups: string[] = [];
  for (let shift = 112n; shift >= 0n; shift -= 16n) groups.push(((cidr.network >> shift) & 0xffffn).toString(16));
  return `${groups.join(":").replace(/\b(?:0:){2,}0?\b/, ":")}/${cidr.prefix}`;
}

function ipv6ToBigInt(text: string): bigint {
  let address = text;
  // An embedded IPv4 tail (::ffff:1.2.3.4) becomes two hex groups.
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(address);
  if (v4) {
    const n = parseIp(v4[1])?.value ?? 0n;
    address = address.slice(0, v4.index) + `${(n >> 16n).toString(16)}:${(n & 0xffffn).toString(16)}`;
  }
  const [head, tail] = address.split("::") as [string, string | undefined];
  const headGroups = head ? head.split(":") : [];
  const tailGroups = tail ? tail.split(":") : [];
  const missing = 8 - headGroups.length - tailGroups.length;
  const groups = tail === undefined ? headGroups : [...headGroups, ...Array<string>(missing).fill("0"), ...tailGroups];
  return groups.reduce((acc, group) => (acc << 16n) | BigInt(parseInt(group, 16)), 0n);
}
