// Host test: the GSO cap on a real veth in a namespace (gso_max_size needs no netem).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createLogger } from "../log.js";
import { InterfaceScoped, NamespaceScoped } from "../names/scoped.js";
import { SpawnRunner } from "../system/spawn-runner.js";
import { assertNothingLeft } from "../test-support/leftovers.js";
import type { TcShell } from "./netem-read.js";
import { GsoCap } from "./offloads.js";

const uid = process.pid;
const warnings: string[] = [];
const log = { ...createLogger("silent"), warn: (message: string) => void warnings.push(message) };
const runner = new SpawnRunner({ log });
const namespace = new NamespaceScoped("gso", uid).scoped;
const veth = new InterfaceScoped("gso0", uid).scoped;
const peer = new InterfaceScoped("gso1", uid).scoped;
const shell: TcShell = { namespace, log, system: (argv, options = {}) => runner.run(argv, { ...options, namespace }) };
const ip = (...args: string[]) => execFileSync("ip", args, { stdio: "pipe", timeout: 30_000 }).toString();
const gsoSize = () => (JSON.parse(ip("-n", namespace, "-d", "-j", "link", "show", "dev", veth)) as Array<{ gso_max_size: number }>)[0]!.gso_max_size;

before(() => {
  ip("netns", "add", namespace);
  ip("-n", namespace, "link", "add", veth, "type", "veth", "peer", peer);
});
after(() => {
  ip("netns", "del", namespace);
  assertNothingLeft(uid);
});

test("GsoCap: caps gso_max_size to about 1 ms of the rate, follows a new rate, puts the original back", { timeout: 60_000 }, async () => {
  const original = gsoSize();
  const cap = new GsoCap(shell, veth);
  await cap.follow(50);
  assert.equal(gsoSize(), 6250);
  assert.equal(cap.applied, 6250);
  await cap.follow(1);
  assert.equal(gsoSize(), 1500);
  // No rate any more: back to what the link had before the first cap.
  await cap.follow(undefined);
  assert.equal(gsoSize(), original);
  assert.equal(cap.applied, undefined);
  await cap.follow(10);
  assert.equal(gsoSize(), 1500);
  await cap.restore();
  assert.equal(gsoSize(), original);
  // Twice is harmless.
  await cap.restore();
  assert.equal(gsoSize(), original);
  assert.deepEqual(warnings, []);
});

test("GsoCap: a refusal of the kernel is a warning naming the way out, not a failure", { timeout: 60_000 }, async () => {
  const cap = new GsoCap(shell, new InterfaceScoped("nosuch", uid).scoped);
  warnings.length = 0;
  await cap.follow(10);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /could not cap its GSO size for the rate of 10 Mbit\/s/);
  assert.match(warnings[0]!, /ethtool -K .* tso off gso off/);
  await cap.restore();
});
