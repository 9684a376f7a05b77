/**
 * The leftover check looks where the network lives (issue 22): for a rootless
 * network inside its holder, whose namespaces the host's `ip netns` never
 * shows. It must fail on a real leftover there, and pass once it is gone.
 * As root the listing reads files instead of running ip, and the test
 * fixtures list iptables only when their network made a host rule.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { AssertionError } from "node:assert";
import { execFileSync } from "node:child_process";
import { DummyNet } from "./dummy-net.js";
import { isRootless } from "../rootless/privilege.js";
import { assertNothingLeft, leftoversAsync, ownerPrefix } from "../testing/leftovers.js";
import { runsRootless } from "../test-support/rootless.js";
import { takeInventorySync } from "../lifecycle/inventory.js";
import { defaultPrivilege } from "../system/privilege.js";
import { openNetwork } from "../testing/harness.js";

test(
  "assertNothingLeft fails on a real leftover where the network lives (rootless: inside the holder)",
  { timeout: 60_000 },
  async () => {
    const net = new DummyNet({ uid: (process.pid % 100000) * 10 + 1500000 });
    const name = `${ownerPrefix(net.uid)}left`;
    try {
      await net.netnsAdd("left");
      assert.equal(isRootless(net.shell.privilege), runsRootless());
      if (runsRootless()) {
        const hostView = execFileSync("ip", ["netns", "list"], { encoding: "utf8", timeout: 10_000 });
        assert.ok(!hostView.includes(name), "the host's view does not show it: only a look inside the holder finds it");
      }
      assert.throws(
        () => {
          assertNothingLeft(net);
        },
        (error: unknown) => error instanceof AssertionError && error.message.includes(`netns ${name}`),
      );
      assert.deepEqual(await leftoversAsync(net), [`netns ${name}`]);
    } finally {
      await net.cleanup();
    }
    assertNothingLeft(net);
  },
);

test(
  "reading /run/netns and /proc/self/net/dev lists what ip lists (as root; rootless lists inside its holder)",
  { timeout: 60_000, skip: runsRootless() && "rootless networks are listed inside their holder, through ip" },
  async () => {
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
  },
);

test(
  "the fixtures' check lists iptables when their network made a host rule, and names a rule left behind",
  { timeout: 60_000, skip: runsRootless() && "rootless networks make no rule in the host namespace" },
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
