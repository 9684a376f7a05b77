/**
 * The reaping at a network's start (DummyNet's reapDeadOwners option) lists
 * iptables only when a gone owner may have left a rule: an owner marks its
 * host rules before making them (owners.ts markHostRules) and unmarks them
 * once its cleanup removed them. Owners here are real processes, SIGKILLed.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { DummyNet } from "../network/dummy-net.js";
import { NamespaceScoped } from "../names/scoped.js";
import { defaultLogger } from "../log.js";
import { assertNothingLeft, leftovers } from "../testing/leftovers.js";
import { RESERVED_UID_RANGE, rulesMarkPath, rulesMarks } from "./owners.js";
import { reapAtNetworkStart, reapDeadOwners } from "./reaper.js";

const FIXTURE = fileURLToPath(new URL("../test-support/fixtures/owner-network.ts", import.meta.url));
const RULES_STEP = "iptables rules";

/** Runs the owner fixture until it has built its network, then SIGKILLs it; its uid. Bounded: 60 s. */
async function killedOwner(withRule: boolean): Promise<number> {
  const child = spawn(process.execPath, ["--import", "tsx", FIXTURE, "-", ...(withRule ? ["nat"] : [])], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
  let output = "";
  const exited = new Promise<void>((resolve) =>
    child.on("exit", () => {
      resolve();
    }),
  );
  try {
    const uid = await new Promise<number>((resolve, reject) => {
      child.stdout.setEncoding("utf8").on("data", (text: string) => {
        output += text;
        const built = /built (\d+)/.exec(output);
        if (built) resolve(Number(built[1]));
      });
      child.stderr.setEncoding("utf8").on("data", (text: string) => (output += text));
      child.on("exit", (code, signal) => {
        reject(new Error(`owner fixture ended (${code ?? signal}) first: ${output}`));
      });
    });
    return uid;
  } finally {
    child.kill("SIGKILL");
    await exited;
    clearTimeout(timer);
  }
}

const rulesListed = (skipped: readonly { step: string }[]) => !skipped.some(({ step }) => step === RULES_STEP);

test(
  "a network's host rule is marked while it exists, and the mark goes with it at cleanup",
  { timeout: 60_000 },
  async () => {
    const net = new DummyNet();
    try {
      const [wan] = await net.linkVethAdd("wan0", "wan1");
      assert.equal(rulesMarks().has(net.uid), false, "marked before any rule");
      await net.nat("10.78.0.0/24", wan);
      assert.equal(rulesMarks().get(net.uid)?.pid, process.pid);
      assert.ok(
        leftovers(net).some((object) => object.startsWith("iptables nat")),
        leftovers(net).join("\n"),
      );
    } finally {
      await net.cleanup();
    }
    assertNothingLeft(net);
    assert.equal(rulesMarks().has(net.uid), false, "the mark outlived its rule");
  },
);

test(
  "a SIGKILLed owner's host rule is reaped at the next network's start; an owner that made none costs no iptables listing",
  { timeout: 180_000 },
  async () => {
    const withRule = await killedOwner(true);
    try {
      assert.ok(
        leftovers(withRule).some((object) => object.startsWith("iptables nat")),
        leftovers(withRule).join("\n"),
      );
      assert.ok(rulesMarks().has(withRule), "no mark of the killed owner's rule");
      const first = await reapAtNetworkStart(defaultLogger);
      assert.ok(rulesListed(first.skipped), "a gone owner's marked rule was not looked for");
      assert.ok(first.reaped.some(({ uid }) => uid === withRule));
      assert.deepEqual(leftovers(withRule), []);
      assert.equal(rulesMarks().has(withRule), false, "the mark outlived the reaped rule");
    } finally {
      await reapDeadOwners({ only: [withRule] });
    }

    const withoutRule = await killedOwner(false);
    try {
      assert.ok(leftovers(withoutRule).length > 0, "the killed owner left nothing to reap");
      const second = await reapAtNetworkStart(defaultLogger);
      assert.ok(second.reaped.some(({ uid }) => uid === withoutRule));
      assert.deepEqual(leftovers(withoutRule), []);
      assert.deepEqual(
        second.skipped.filter(({ step }) => step === RULES_STEP).length,
        1,
        `iptables was listed with no gone owner's mark: ${JSON.stringify(second.skipped)}`,
      );
    } finally {
      await reapDeadOwners({ only: [withoutRule] });
    }
  },
);

test(
  "a gone owner's mark whose rules are gone is listed once and removed; a gone owner without a record gets iptables listed",
  { timeout: 60_000 },
  async () => {
    // Reserved uids are nobody's pid: without a live record, their owners are gone.
    const base = RESERVED_UID_RANGE.first + 1_000_000 + (process.pid % 100_000) * 4;
    const marked = base;
    const unrecorded = base + 1;
    writeFileSync(
      rulesMarkPath(marked),
      JSON.stringify({ uid: marked, pid: 0, startTime: 0, command: "gone", createdAt: "" }),
    );
    assert.ok(rulesMarks().has(marked), "the mark written by hand is not where marks are read");
    const first = await reapAtNetworkStart(defaultLogger);
    assert.ok(rulesListed(first.skipped), "a gone owner's mark did not get iptables listed");
    assert.equal(rulesMarks().has(marked), false, "the mark of an owner with no rule left was kept");

    const namespace = new NamespaceScoped("left", unrecorded).scoped;
    execFileSync("ip", ["netns", "add", namespace], { timeout: 30_000 });
    try {
      const second = await reapAtNetworkStart(defaultLogger);
      assert.ok(rulesListed(second.skipped), "an owner without a record did not get iptables listed");
      assert.ok(second.reaped.some(({ uid }) => uid === unrecorded));
      assert.deepEqual(leftovers(unrecorded), []);
    } finally {
      // Reaped already unless the test failed.
      spawnSync("ip", ["netns", "delete", namespace], { stdio: "ignore", timeout: 30_000 });
    }
  },
);
