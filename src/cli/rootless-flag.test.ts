/**
 * `dummynet --rootless` reaches every command that builds, lists or removes a
 * network: even as root, `--rootless up --detach` builds inside a user
 * namespace of its own (the background `up` gets the flag too), `ls` finds it
 * there, `doctor` names the flag as the reason, `down` removes it all.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { namespacesOf, runCli } from "./cli.test-helpers.js";
import { assertNothingLeft, ownerPrefix } from "../testing/leftovers.js";

const PAIR = `name: flagpair
hosts:
  a: {}
  b: {}
links:
  - ends:
      - { at: "a:a-b", address: 10.0.0.1/24 }
      - { at: "b:b-a", address: 10.0.0.2/24 }
`;

/** The environment leaves the choice to the flag (as it would on a machine without DUMMYNET_ROOTLESS). */
const NO_ENV = { DUMMYNET_ROOTLESS: "" };

test("--rootless goes to the background up, to ls and to doctor", { timeout: 300_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "dummynet-flag-"));
  t.after(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  const file = join(dir, "pair.yaml");
  writeFileSync(file, PAIR);

  const up = await runCli(["--rootless", "up", file, "--detach"], NO_ENV);
  assert.equal(up.code, 0, up.stderr);
  let uid: number | undefined;
  let removed = false;
  try {
    const ls = await runCli(["--rootless", "ls", "--json"], NO_ENV);
    assert.equal(ls.code, 0, ls.stderr);
    const owners = (
      JSON.parse(ls.stdout) as {
        owners: { uid: number; network: { name: string; rootlessHolder?: { pid: number } } | null }[];
      }
    ).owners;
    const mine = owners.find((owner) => owner.network?.name === "flagpair");
    assert.ok(mine, `ls lists the network: ${ls.stdout}`);
    uid = mine.uid;
    const holder = mine.network?.rootlessHolder;
    assert.ok(holder, `the network lives in a rootless holder: ${JSON.stringify(mine)}`);
    assert.ok(existsSync(`/proc/${holder.pid}`), "its holder runs");
    // Its namespaces are inside the holder, not on the machine's /run/netns.
    assert.deepEqual(namespacesOf(ownerPrefix(uid)), []);

    const doctor = await runCli(["--rootless", "doctor", "--json"], NO_ENV);
    assert.equal(doctor.code, 0, doctor.stderr);
    assert.match((JSON.parse(doctor.stdout) as { mode: { mode: string; why: string } }).mode.why, /^--rootless asks/);

    const down = await runCli(["down", "flagpair"], NO_ENV);
    assert.equal(down.code, 0, down.stderr);
    assert.ok(!existsSync(`/proc/${holder.pid}`), "the holder went with the network");
    assertNothingLeft(uid);
    removed = true;
  } finally {
    // Only when a step above failed: the network goes, so that the failure is the only trace.
    if (!removed) await runCli(["down", "flagpair"], NO_ENV);
    if (!removed && uid !== undefined) await runCli(["--rootless", "cleanup", "--force", String(uid)], NO_ENV);
  }
});
