// requires: netem
/**
 * The README's main example (netem) as an unprivileged user, where the
 * kernel has netem (the kernel lab): uid 65534, no sudo, no
 * DUMMYNET_ROOTLESS, so the default "auto" must choose rootless by itself
 * and say so at the info level; the example prints what it prints as root
 * (src/readme.lab.test.ts), its probe sees the delay and rate it set, and
 * nothing of that user is left.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { outputOf, readmeBlock, REPO, writeTypeScriptBlock } from "../readme.test-helpers.js";
import { runBounded } from "../test-support/program-path.js";
import { argvAs, leftOfUser, unprivilegedUser } from "./unprivileged.test-helpers.js";

const NOBODY = 65534;
const MARK = "DUMMYNET_README_ROOTLESS_LAB";
const AUTO_CHOSE_ROOTLESS = "dummynet info: dummynet runs rootless: this process is not root and sudo needs a password";

/** The kernel's switches for unprivileged user namespaces, for a message (a file this kernel lacks reads as such). */
function userNamespaceSwitches(): string {
  return [
    "/proc/sys/kernel/unprivileged_userns_clone",
    "/proc/sys/user/max_user_namespaces",
    "/proc/sys/kernel/apparmor_restrict_unprivileged_userns",
  ]
    .map((path) => {
      try {
        return `${path} = ${readFileSync(path, "utf8").trim()}`;
      } catch {
        return `${path}: none`;
      }
    })
    .join("\n");
}

test("uid 65534 may create a user namespace and a network namespace in it here", { timeout: 120_000 }, async () => {
  const user = unprivilegedUser(NOBODY);
  try {
    const result = await runBounded(
      argvAs(user, ["unshare", "--user", "--map-root-user", "--net", "--mount", "--", "id", "-u"]),
      {},
      60_000,
      REPO,
    );
    assert.equal(
      result.code,
      0,
      `${outputOf(result)}\n${userNamespaceSwitches()}\n${readFileSync("/proc/version", "utf8")}`,
    );
    assert.equal(result.stdout, "0\n", outputOf(result));
  } finally {
    user.remove();
  }
});

test(
  "the main example as uid 65534 with the default rootless setting: auto chooses rootless and says so, the probe sees the netem delay and rate, nothing is left",
  { timeout: 420_000 },
  async () => {
    const user = unprivilegedUser(NOBODY);
    const marker = `${MARK}=${process.pid}`;
    try {
      const file = await writeTypeScriptBlock(readmeBlock("main example"), user.home);
      const result = await runBounded(
        argvAs(user, [process.execPath, "--import", "tsx", file], {
          [MARK]: String(process.pid),
          DUMMYNET_LOG: "info",
        }),
        {},
        360_000,
        REPO,
      );
      assert.equal(result.code, 0, outputOf(result));
      assert.ok(result.stderr.includes(AUTO_CHOSE_ROOTLESS), `the log says auto chose rootless:\n${outputOf(result)}`);
      // What src/readme.lab.test.ts checks of the same example run as root.
      const printed = /^([\d.]+) % lost, p50 ([\d.]+) ms, ([\d.]+) Mbit\/s$/m.exec(result.stdout);
      assert.ok(printed, outputOf(result));
      assert.equal(
        result.stdout,
        `${printed[0]}\n`,
        `the example prints its one line and nothing else:\n${outputOf(result)}`,
      );
      const [, , p50, goodput] = printed.map(Number);
      // 20 ms (jitter 2) on what the client sends: no round trip can be shorter; 10 Mbit/s caps what it sends.
      assert.ok(p50 >= 18, `p50 ${p50} ms under the 20 ms delay:\n${outputOf(result)}`);
      assert.ok(
        goodput > 0 && goodput <= 10.5,
        `goodput ${goodput} Mbit/s through a 10 Mbit/s link:\n${outputOf(result)}`,
      );
      process.stderr.write(`# rootless main example as uid ${NOBODY}: ${printed[0]}\n`);
      assert.deepEqual(await leftOfUser(user, marker), [], "left of uid 65534");
    } finally {
      user.remove();
    }
  },
);
