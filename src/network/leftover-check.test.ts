/**
 * The leftover check looks where the network lives (issue 22): for a rootless
 * network inside its holder, whose namespaces the host's `ip netns` never
 * shows. It must fail on a real leftover there, and pass once it is gone.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { AssertionError } from "node:assert";
import { execFileSync } from "node:child_process";
import { DummyNet } from "./dummy-net.js";
import { isRootless } from "../rootless/privilege.js";
import { assertNothingLeft, leftoversAsync, ownerPrefix } from "../testing/leftovers.js";
import { runsRootless } from "../test-support/rootless.js";

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
