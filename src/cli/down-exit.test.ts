/**
 * `dummynet down` reports "removed" only once the process that held the
 * network has exited, every thread of it, root and rootless (uid 65534); and
 * a process that lingers after removing its network cannot stay: its exit
 * watchdog ends it. A preload (SLOW_EXIT) stands in for whatever kept a
 * background `up` alive after its cleanup: an 'exit' handler that spins.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { after, describe, test } from "node:test";
import { processRuns, processStartTime } from "../system/proc.js";
import { assertNothingLeft } from "../testing/leftovers.js";
import { runBounded } from "../test-support/program-path.js";
import {
  argvAs,
  repoRoot,
  unprivilegedUser,
  type UnprivilegedUser,
  within,
} from "../rootless/unprivileged.test-helpers.js";

const MAIN = join(repoRoot, "src/cli/main.ts");
const TSX = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;
const NOBODY = 65534;

// Readable by uid 65534 too. The background `up` inherits the preload (its execArgv) and the environment.
const scratch = mkdtempSync(join(tmpdir(), "dummynet-down-exit-"));
chmodSync(scratch, 0o755);
const SLOW_EXIT = join(scratch, "slow-exit.mjs");
writeFileSync(
  SLOW_EXIT,
  `const ms = Number(process.env.TEST_SLOW_EXIT_MS);
if (ms > 0 && process.argv.includes("up") && !process.argv.includes("--detach")) {
  process.on("exit", () => { const until = Date.now() + ms; while (Date.now() < until); });
}
`,
);
const PAIR = join(scratch, "pair.yaml");
writeFileSync(
  PAIR,
  `name: exitpair\nhosts:\n  a: {}\n  b: {}\nlinks:\n  - ends: [{ at: "a:a-b", address: 10.77.0.1/24 }, { at: "b:b-a", address: 10.77.0.2/24 }]\n`,
);
chmodSync(SLOW_EXIT, 0o644);
chmodSync(PAIR, 0o644);
after(() => {
  rmSync(scratch, { recursive: true, force: true });
});

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `dummynet ARGS` (as `user`, rootless, when given), marked with `mark`, the background `up` slowed by `slowExitMs`; killed after 120 s. */
function dummynet(args: readonly string[], mark: string, slowExitMs: number, user?: UnprivilegedUser): Promise<Result> {
  const node = [process.execPath, "--import", TSX, "--import", pathToFileURL(SLOW_EXIT).href, MAIN, ...args];
  const vars = { TEST_MARK: mark, TEST_SLOW_EXIT_MS: String(slowExitMs), CI: "true" };
  const argv = user ? argvAs(user, node, { DUMMYNET_ROOTLESS: "1", ...vars }) : node;
  // As `user`, `env -i` in argv leaves only what it lists.
  return runBounded(argv, user ? {} : vars, 120_000, repoRoot);
}

const show = (r: Result) => `exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;

/** Processes (not zombies) whose environment holds TEST_MARK=`mark`: the `up`s, holders, daemons and watchdogs of one round. */
function processesMarked(mark: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (!readFileSync(`/proc/${entry}/environ`, "latin1").split("\0").includes(`TEST_MARK=${mark}`)) continue;
      if (/^State:\s+Z/m.test(readFileSync(`/proc/${entry}/status`, "utf8"))) continue;
      found.push(`${entry}: ${readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0").join(" ")}`);
    } catch {
      // Ended meanwhile.
    }
  }
  return found;
}

/** One round: up --detach, down; `down` returns only once the background `up` has exited; nothing of the round is left. */
async function round(slowExitMs: number, user?: UnprivilegedUser): Promise<Result> {
  const mark = `down-exit-${process.pid}-${Date.now()}`;
  const upped = await dummynet(["up", PAIR, "--detach", "--json"], mark, slowExitMs, user);
  assert.equal(upped.code, 0, show(upped));
  const { uid, pid, stateFile } = JSON.parse(upped.stdout) as { uid: number; pid: number; stateFile: string };
  const startTime = processStartTime(pid);
  assert.ok(startTime !== undefined, `the background up (pid ${pid}) runs`);
  const downed = await dummynet(["down", PAIR], mark, 0, user);
  const stillRuns = processRuns(pid, startTime);
  assert.equal(downed.code, 0, show(downed));
  assert.match(downed.stdout, /removed exitpair/);
  assert.equal(stillRuns, false, `down returned while the background up (pid ${pid}) still ran`);
  assert.equal(existsSync(stateFile), false, "its owner record is gone");
  // Its exit watchdog ends on the EOF of the up's exit; the holder (rootless) with the up.
  let left: string[] = [];
  assert.ok(
    (await within(10_000, () => (left = processesMarked(mark)).length === 0)) !== undefined,
    `processes of the round left:\n${left.join("\n")}`,
  );
  if (user) {
    const state = join(user.home, "dummynet");
    const files = existsSync(state)
      ? readdirSync(state, { recursive: true })
          .map(String)
          .filter((f) => f !== "owners")
      : [];
    assert.deepEqual(files, [], "no owner record and no log left");
  } else {
    assertNothingLeft(uid);
  }
  return downed;
}

describe("down waits for the holding process to exit", { timeout: 600_000 }, () => {
  test(
    "root: a background up that takes 3 s to exit after its cleanup; down returns after it has gone",
    { timeout: 180_000 },
    async () => {
      await round(3_000);
    },
  );

  test("rootless as uid 65534: the same", { timeout: 180_000 }, async () => {
    const user = unprivilegedUser(NOBODY);
    try {
      await round(3_000, user);
    } finally {
      user.remove();
    }
  });

  test(
    "root: a background up that spins after its cleanup is killed by its exit watchdog; down says so",
    { timeout: 180_000 },
    async () => {
      const downed = await round(120_000);
      assert.match(
        downed.stderr,
        /exit watchdog: pid \d+ still ran 15 s after removing its network: killed it \(SIGKILL\)/,
        show(downed),
      );
    },
  );
});

describe("the exit watchdog's own bound", () => {
  test(
    "a process whose event loop stays alive after its network is removed says what holds it and exits",
    { timeout: 60_000 },
    async () => {
      const mark = `exit-bound-${process.pid}-${Date.now()}`;
      const lifetime = pathToFileURL(join(repoRoot, "src/cli/network-lifetime.ts")).href;
      const script = `const { armExitWatchdog } = await import(${JSON.stringify(lifetime)}); armExitWatchdog(3); setInterval(() => undefined, 1000);`;
      const child = spawn(process.execPath, ["--import", TSX, "--input-type=module", "-e", script], {
        env: { ...process.env, TEST_MARK: mark },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let stderr = "";
      child.stderr.setEncoding("utf8").on("data", (text: string) => (stderr += text));
      const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
      const code = await new Promise<number | null>((done) => child.on("close", done));
      clearTimeout(timer);
      assert.equal(code, 3, stderr);
      assert.match(
        stderr,
        /exit watchdog: pid \d+ still ran 5000 ms after removing its network, kept alive by: .*Timeout.*; exiting/,
      );
      let left: string[] = [];
      assert.ok(
        (await within(10_000, () => (left = processesMarked(mark)).length === 0)) !== undefined,
        `left:\n${left.join("\n")}`,
      );
    },
  );
});
