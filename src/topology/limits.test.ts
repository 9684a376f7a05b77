/**
 * A host's limits hold for its programs as users write them: a shell line
 * whose shell forks the work. The program starts inside the host's cgroup, so
 * the forked memory hog is OOM-killed under the host's limit and survives on
 * a host without one (cgroup v1 on this machine; the lab covers v2).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { buildTopology } from "./lab.js";
import { assertNothingLeft } from "../testing/leftovers.js";
import { RootlessRefusedError } from "../rootless/refusals.js";
import { rootlessExcluded, runsRootless } from "../test-support/rootless.js";

// The shell forks node (a second command follows), then reports how node ended.
const HOG = `node -e "const b = []; for (let i = 0; i < 32; i++) b.push(Buffer.alloc(8 << 20, 1)); console.log('allocated 256')"; echo "status $?"`;

const LIMIT_HOLDS = "a host's memory limit holds for a program's forked child: OOM-killed under 96 MiB, alive without";

test(LIMIT_HOLDS, { timeout: 120_000, skip: rootlessExcluded(import.meta.url, LIMIT_HOLDS) }, async () => {
  const lab = await buildTopology({
    name: "limits",
    hosts: { limited: { memory: "96MiB" }, free: {} },
    programs: [
      { name: "limited-hog", host: "limited", command: HOG },
      { name: "free-hog", host: "free", command: HOG },
    ],
  });
  const uid = lab.net.uid;
  try {
    const programs = await lab.start();
    const outcome = async (name: string) => {
      const info = await programs.find((program) => program.name === name)!.info.finished;
      return info.stdout;
    };
    const limited = await outcome("limited-hog");
    const free = await outcome("free-hog");
    assert.match(free, /allocated 256\nstatus 0/, free);
    assert.doesNotMatch(limited, /allocated/, limited);
    assert.match(limited, /status 137/, `the forked node should be OOM-killed (SIGKILL, 128 + 9): ${limited}`);
  } finally {
    await lab.cleanup();
    assertNothingLeft(uid);
  }
});

// The rootless phase of npm test (src/test-support/rootless.ts): limits are refused there, saying what would give them.
if (runsRootless()) {
  test(
    "rootless: a host's memory limit is refused, naming the delegation it needs, and nothing is left",
    { timeout: 120_000 },
    async () => {
      const uid = (process.pid % 100000) * 10 + 3000000;
      await assert.rejects(
        buildTopology(
          {
            name: "limits",
            hosts: { limited: { memory: "96MiB" }, free: {} },
            links: [{ ends: ["limited:l0", "free:f0"] }],
          },
          { uid },
        ),
        (error: unknown) => {
          assert.ok(error instanceof RootlessRefusedError, String(error));
          assert.equal(error.feature, "cgroups");
          assert.match(error.message, /addCgroup is refused in rootless mode: .*(Delegate=yes|delegated)/);
          return true;
        },
      );
      assertNothingLeft(uid);
    },
  );
}
