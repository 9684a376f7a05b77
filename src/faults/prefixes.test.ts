// The prefixes of a cut's senders hold exactly the senders: every one of them, and no other address.
import assert from "node:assert/strict";
import { test } from "node:test";
import { parseCidr, parseIp } from "../topology/addresses.js";
import { exactPrefixes } from "./prefixes.js";

/** Every address the prefixes hold, as numbers (small prefixes only). */
function held(prefixes: string[]): bigint[] {
  return prefixes.flatMap((text) => {
    const cidr = parseCidr(text.includes("/") ? text : `${text}/${text.includes(":") ? 128 : 32}`);
    assert.ok(cidr, text);
    assert.equal(cidr.value, cidr.network, `${text} is written as its network`);
    const size = 1n << BigInt((cidr.family === 4 ? 32 : 128) - cidr.prefix);
    return Array.from({ length: Number(size) }, (_, i) => cidr.network + BigInt(i));
  });
}

test("hosts numbered in a row become a few aligned blocks", { timeout: 10_000 }, () => {
  const row = (first: number, count: number) => Array.from({ length: count }, (_, i) => `10.0.0.${first + i}`);
  assert.deepEqual(exactPrefixes(row(2, 50), 4), [
    "10.0.0.2/31",
    "10.0.0.4/30",
    "10.0.0.8/29",
    "10.0.0.16/28",
    "10.0.0.32/28",
    "10.0.0.48/30",
  ]);
  assert.deepEqual(
    exactPrefixes(
      row(0, 256).map((a) => a.replace("10.0.0.", "10.0.1.")),
      4,
    ),
    ["10.0.1.0/24"],
  );
  assert.deepEqual(exactPrefixes(["10.0.0.3", "10.0.0.1", "10.0.0.3"], 4), ["10.0.0.1", "10.0.0.3"]);
  assert.deepEqual(exactPrefixes(["fd00::3", "fd00::2"], 6), ["fd00:0:0:0:0:0:0:2/127"]);
  assert.deepEqual(exactPrefixes(["0.0.0.0", "255.255.255.255"], 4), ["0.0.0.0", "255.255.255.255"]);
});

test("random sets: the prefixes hold exactly the addresses given", { timeout: 10_000 }, () => {
  let seed = 7;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (let round = 0; round < 300; round++) {
    const v6 = round % 3 === 0;
    const addresses = Array.from({ length: 1 + Math.floor(random() * 40) }, () => {
      const low = Math.floor(random() * 64);
      return v6 ? `fd00::${low.toString(16)}` : `192.168.7.${low}`;
    });
    const want = [...new Set(addresses.map((a) => parseIp(a)?.value ?? -1n))].sort((a, b) => (a < b ? -1 : 1));
    const got = held(exactPrefixes(addresses, v6 ? 6 : 4)).sort((a, b) => (a < b ? -1 : 1));
    assert.deepEqual(got, want, addresses.join(" "));
  }
});
