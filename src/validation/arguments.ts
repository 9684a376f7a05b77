/**
 * Argument checks shared by the network code. Each throws an
 * InvalidArgumentError naming the argument, the value and the rule, so that a
 * bad call is refused before anything changes on the system.
 */
import { isIP } from "node:net";
import { InvalidArgumentError } from "../errors.js";

/** An IPv4 or IPv6 address, without prefix. Returns the address family (4 or 6). */
export function checkIpAddress(argument: string, value: unknown): 4 | 6 {
  if (typeof value !== "string" || isIP(value) === 0) {
    throw new InvalidArgumentError(argument, value, 'must be an IPv4 or IPv6 address, e.g. "10.0.0.1" or "fd00::1"');
  }
  return isIP(value) as 4 | 6;
}

/**
 * An address with an optional prefix length ("10.0.0.1/24", "fd00::1/64",
 * "10.0.0.1"). Returns the family, the address and the prefix (or undefined).
 */
export function checkAddressWithPrefix(
  argument: string,
  value: unknown,
): { family: 4 | 6; address: string; prefix: number | undefined } {
  const rule = 'must be an IPv4 or IPv6 address with an optional prefix length, e.g. "10.0.0.1/24" or "fd00::1/64"';
  if (typeof value !== "string") throw new InvalidArgumentError(argument, value, rule);
  const slash = value.indexOf("/");
  const address = slash < 0 ? value : value.slice(0, slash);
  const family = isIP(address);
  if (family === 0) throw new InvalidArgumentError(argument, value, rule);
  if (slash < 0) return { family: family as 4 | 6, address, prefix: undefined };
  const prefixText = value.slice(slash + 1);
  const max = family === 4 ? 32 : 128;
  if (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) > max) {
    throw new InvalidArgumentError(
      argument,
      value,
      `has an invalid prefix length: it must be a whole number from 0 to ${max} for IPv${family}`,
    );
  }
  return { family: family as 4 | 6, address, prefix: Number(prefixText) };
}

/** An 802.1Q VLAN id. */
export function checkVlanId(argument: string, value: unknown): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1 || value > 4094) {
    throw new InvalidArgumentError(
      argument,
      value,
      "must be a whole number from 1 to 4094 (802.1Q ids 0 and 4095 are reserved)",
    );
  }
  return value;
}

/** A sysctl name under net.*, e.g. "net.ipv4.ip_forward" (dots or slashes). */
export function checkSysctlName(argument: string, value: unknown): string {
  if (typeof value !== "string" || !/^net[./][A-Za-z0-9_]+([./][A-Za-z0-9_-]+)*$/.test(value) || value.includes("..")) {
    throw new InvalidArgumentError(
      argument,
      value,
      'must be a per-namespace network sysctl such as "net.ipv4.ip_forward" or "net.ipv6.conf.all.forwarding" (letters, digits, _ and - separated by dots)',
    );
  }
  return value.replaceAll("/", ".");
}

/** A sysctl value: a number or a short word without spaces. */
export function checkSysctlValue(argument: string, value: unknown): string {
  if (typeof value === "number" && Number.isFinite(value)) return String(value);
  if (typeof value === "string" && /^[A-Za-z0-9_.:-]{1,64}$/.test(value)) return value;
  throw new InvalidArgumentError(
    argument,
    value,
    "must be a number or a word of letters, digits, _ . : - (at most 64)",
  );
}
