// requires: netem
/**
 * The README's testing examples where the kernel has netem (the kernel lab,
 * or a host that has it): run from source, none of their tests is skipped,
 * so the delayed-link tests really measure the delay; skipUnless says yes.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { runNodeTest } from "./child.test-helpers.js";
import { skipUnless } from "./index.js";

const REPO = fileURLToPath(new URL("../../", import.meta.url));
const TSCONFIG = fileURLToPath(new URL("./fixtures/examples.tsconfig.json", import.meta.url));

test('skipUnless(t, ["netem"]) resolves true here', async (t) => {
  assert.equal(await skipUnless(t, ["netem"]), true);
});

test("the first test, the node:test and plain JavaScript examples pass, the delayed links included", async () => {
  const outcome = await runNodeTest(
    ["examples/testing/first.test.ts", "examples/testing/node-test.test.ts", "examples/testing/plain.test.mjs"],
    {
      cwd: REPO,
      env: { ...process.env, TSX_TSCONFIG_PATH: TSCONFIG },
      timeout: 300_000,
    },
  );
  assert.equal(outcome.code, 0, outcome.output);
  assert.match(outcome.output, /ℹ pass 5\b/, outcome.output);
  assert.match(outcome.output, /ℹ skipped 0\b/, outcome.output);
});
