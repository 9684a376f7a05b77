/** `dummynet exec --user` (issue 22): the command runs as the user named; an unknown one is refused before it starts. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { runChild } from "../testing/child.test-helpers.js";
import { runsRootless } from "../test-support/rootless.js";

const MAIN = fileURLToPath(new URL("./main.ts", import.meta.url));
const REPO = fileURLToPath(new URL("../..", import.meta.url));
const cli = (...args: string[]) =>
  runChild([process.execPath, "--import", "tsx", MAIN, ...args], { timeout: 90_000, cwd: REPO });

test("exec --user nobody runs as uid 65534; --user with an unknown name is refused", { timeout: 240_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "dummynet-exec-user-"));
  const name = `exec-user-${process.pid}`;
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, `name: ${name}\nhosts:\n  h1: {}\n`);
  try {
    const up = await cli("up", file, "--detach", "--wait");
    assert.equal(up.code, 0, up.output);
    try {
      const asNobody = await cli("exec", "h1", "--network", name, "--user", "nobody", "--", "id", "-u");
      if (runsRootless()) {
        assert.notEqual(asNobody.code, 0);
        assert.match(asNobody.output, /cannot apply in rootless mode/u);
      } else {
        assert.equal(asNobody.code, 0, asNobody.output);
        assert.equal(asNobody.stdout.trim(), "65534");
        const unknown = await cli("exec", "h1", "--network", name, "--user", "no-such-user-dn", "--", "true");
        assert.notEqual(unknown.code, 0);
        assert.match(unknown.output, /is no user of this system/u);
      }
    } finally {
      const down = await cli("down", name);
      assert.equal(down.code, 0, down.output);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
