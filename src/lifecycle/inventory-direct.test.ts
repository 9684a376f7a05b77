/**
 * The listing of this machine without processes (InventoryOptions): namespaces
 * and links read from the kernel's files must list what ip lists, and the test
 * fixtures, which leave iptables out when their network made no host rule,
 * must list it when it did. As root: a rootless network is listed inside its
 * holder, through ip (src/network/leftover-check.test.ts).
 */
import { test } from "node:test";
import assert, { AssertionError } from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { DummyNet } from "../network/dummy-net.js";
import { assertNothingLeft, ownerPrefix } from "../testing/leftovers.js";
import { openNetwork } from "../testing/harness.js";
import { defaultPrivilege } from "../system/privilege.js";
import { takeInventorySync } from "./inventory.js";

test("reading /run/netns and /proc/self/net/dev lists what ip lists", { timeout: 60_000 }, async () => {
  const net = new DummyNet({ uid: (process.pid % 100000) * 10 + 1500002 });
  try {
    await net.netnsAdd("seen");
    // A veth with both ends in the host namespace: links the listing must find there.
    await net.linkVethAdd("hv0", "hv1");
    const ours = (direct: boolean): string[] =>
      takeInventorySync(defaultPrivilege(), { direct })
        .objects.filter((found) => found.uid === net.uid)
        .map(({ object }) => `${object.kind} ${object.name}`)
        .sort();
    const prefix = ownerPrefix(net.uid);
    assert.deepEqual(ours(true), [`link ${prefix}hv0`, `link ${prefix}hv1`, `netns ${prefix}seen`]);
    assert.deepEqual(ours(true), ours(false));
  } finally {
    await net.cleanup();
  }
  assertNothingLeft(net);
});

test(
  "the fixtures' check lists iptables when their network made a host rule, and names a rule left behind",
  { timeout: 60_000 },
  async () => {
    const held = openNetwork({ evidence: "never" });
    const net = held.value;
    const tag = `${ownerPrefix(net.uid)}dummynet`;
    const stray = ["POSTROUTING", "-s", "10.78.0.0/24", "-m", "comment", "--comment", tag, "-j", "MASQUERADE"];
    const iptables = (args: string[]): string =>
      execFileSync("iptables", ["-w", "-t", "nat", ...args], { encoding: "utf8", timeout: 30_000 });
    try {
      await net.linkVethAdd("wan0", "wan1");
      await net.nat("10.77.0.0/24", "wan0");
      // A rule of this owner that its cleanup does not know: only a listing of iptables finds it.
      iptables(["-A", ...stray]);
      await assert.rejects(
        held.close({ name: "leaks a rule", failed: false }),
        (error: unknown) =>
          error instanceof AssertionError && error.message.includes(`iptables nat -A POSTROUTING -s 10.78.0.0/24`),
      );
    } finally {
      iptables(["-D", ...stray]);
      await net.cleanup();
    }
    assertNothingLeft(net);
  },
);
