/**
 * The README's examples that run on the host, as an unprivileged user: uid
 * 65534 (CI runs as root and drops to it), a clean environment with no sudo
 * and no DUMMYNET_ROOTLESS, so the default "auto" must choose rootless by
 * itself and say so at the info level. The topologies-from-code block builds
 * examples/star.yaml and fetches from h2; the node:test and plain JavaScript
 * examples pass, their netem tests skipped where the kernel lacks netem
 * exactly as for root (src/testing/package.test.ts). Nothing of that user is
 * left. The main example needs netem: readme-rootless.lab.test.ts.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { outputOf, readmeBlock, REPO, writeTypeScriptBlock } from "../readme.test-helpers.js";
import { runBounded } from "../test-support/program-path.js";
import { machineCapabilities } from "../testing/capabilities.js";
import { argvAs, leftOfUser, unprivilegedUser } from "./unprivileged.test-helpers.js";

const NOBODY = 65534;
const MARK = "DUMMYNET_README_ROOTLESS";
/** What useRootless (src/rootless/mode.ts) logs at info when "auto" chooses rootless. */
const AUTO_CHOSE_ROOTLESS = "dummynet info: dummynet runs rootless: this process is not root and sudo needs a password";
const TSCONFIG = join(REPO, "src/testing/fixtures/examples.tsconfig.json");
let serial = 0;

test(
  "the topologies-from-code example as uid 65534 with the default rootless setting: auto chooses rootless and says so, the star is built, h3 fetches from h2, nothing is left",
  { timeout: 300_000 },
  async () => {
    const user = unprivilegedUser(NOBODY);
    const value = `${process.pid}-${++serial}`;
    try {
      const file = await writeTypeScriptBlock(readmeBlock("topologies from code"), user.home);
      const result = await runBounded(
        argvAs(user, [process.execPath, "--import", "tsx", file], { [MARK]: value, DUMMYNET_LOG: "info" }),
        {},
        240_000,
        REPO,
      );
      assert.equal(result.code, 0, outputOf(result));
      assert.equal(
        result.stderr.split(AUTO_CHOSE_ROOTLESS).length - 1,
        1,
        `the log says once that auto chose rootless:\n${outputOf(result)}`,
      );
      // onProgress counts up to its total; reply.match (in the block) checked h2's answer to h3.
      const steps = [...result.stdout.matchAll(/^(\d+)\/(\d+)$/gm)].map((m) => [Number(m[1]), Number(m[2])] as const);
      assert.ok(steps.length > 0 && steps.every(([, total]) => total === steps[0][1]), outputOf(result));
      assert.equal(
        steps.at(-1)![0],
        steps[0][1],
        `the build reaches ${steps[0][1]}/${steps[0][1]}:\n${outputOf(result)}`,
      );
      assert.deepEqual(await leftOfUser(user, `${MARK}=${value}`), [], "left of uid 65534");
    } finally {
      user.remove();
    }
  },
);

test(
  "the node:test and plain JavaScript examples as uid 65534 with the default rootless setting: auto chooses rootless, they pass, netem tests skipped as for root, nothing is left",
  { timeout: 420_000 },
  async () => {
    const files = ["examples/testing/node-test.test.ts", "examples/testing/plain.test.mjs"];
    // The README's blocks are these files (src/readme.test.ts checks it too): what runs here is what the README shows.
    assert.equal(readmeBlock("node:test example").text, readFileSync(join(REPO, files[0]), "utf8"));
    assert.equal(readmeBlock("plain JavaScript example").text, readFileSync(join(REPO, files[1]), "utf8"));
    const netem = (await machineCapabilities()).netem.available;
    const user = unprivilegedUser(NOBODY);
    const value = `${process.pid}-${++serial}`;
    try {
      const argv = [process.execPath, "--import", "tsx", "--test", "--test-reporter=spec", ...files];
      const result = await runBounded(
        argvAs(user, argv, { [MARK]: value, DUMMYNET_LOG: "info", TSX_TSCONFIG_PATH: TSCONFIG }),
        {},
        360_000,
        REPO,
      );
      const output = outputOf(result);
      assert.equal(result.code, 0, output);
      const count = (name: string) => Number(new RegExp(`ℹ ${name} (\\d+)`).exec(result.stdout)?.[1]);
      // Each file's two tests: the plain link passes; the delayed one runs where netem exists, else skips naming it, as for root.
      assert.deepEqual([count("pass"), count("skipped"), count("fail")], netem ? [4, 0, 0] : [2, 2, 0], output);
      if (!netem) assert.equal([...result.stdout.matchAll(/# this machine lacks netem/g)].length, 2, output);
      // Each file is a process of its own under node --test: each chooses, and says so, once.
      assert.equal(
        result.stdout.concat(result.stderr).split(AUTO_CHOSE_ROOTLESS).length - 1,
        files.length,
        `each example's process logs that auto chose rootless:\n${output}`,
      );
      process.stderr.write(
        `# README testing examples as uid ${NOBODY}, auto mode: ${count("pass")} passed, ${count("skipped")} skipped\n`,
      );
      assert.deepEqual(await leftOfUser(user, `${MARK}=${value}`), [], "left of uid 65534");
    } finally {
      user.remove();
    }
  },
);
