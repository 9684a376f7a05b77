/**
 * The API reference builds from the source with TypeDoc (`npm run docs`,
 * typedoc.json: treatWarningsAsErrors, validation.notDocumented), so every
 * export of every entry point is documented and every link resolves. Built
 * into a temporary directory, with a JSON model to count what is documented.
 */
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { runChild } from "./testing/child.test-helpers.js";

const REPO = fileURLToPath(new URL("../", import.meta.url));
const out = mkdtempSync(join(tmpdir(), "dummynet-docs-"));
after(() => rmSync(out, { recursive: true, force: true }));

interface Reflection {
  name: string;
  kind: number;
  comment?: { summary: unknown[] };
  signatures?: Reflection[];
  children?: Reflection[];
}

test("npm run docs builds the API reference with no warning; every export of every entry point is documented", async () => {
  const env: NodeJS.ProcessEnv = { ...process.env, npm_config_update_notifier: "false" };
  delete env["NODE_OPTIONS"];
  delete env["NODE_TEST_CONTEXT"];
  const json = join(out, "api.json");
  const result = await runChild(["npm", "run", "docs", "--", "--out", join(out, "html"), "--json", json], { cwd: REPO, env, timeout: 180_000 });
  assert.equal(result.code, 0, result.output);
  assert.doesNotMatch(result.output, /\[warning\]|\[error\]/, result.output);
  assert.ok(existsSync(join(out, "html/index.html")), result.output);

  const project = JSON.parse(readFileSync(json, "utf8")) as { children: Reflection[] };
  const modules = project.children.map((module) => module.name).sort();
  assert.deepEqual(modules, ["index", "testing", "testing/vitest"]);
  // A re-export of another entry point's export (TypeDoc's Reference kind) is documented where it points.
  const REFERENCE = 4194304;
  const exports = project.children.flatMap((module) => (module.children ?? []).filter((child) => child.kind !== REFERENCE).map((child) => ({ module: module.name, child })));
  const documented = (reflection: Reflection): boolean =>
    (reflection.comment?.summary.length ?? 0) > 0 || (reflection.signatures ?? []).some((signature) => (signature.comment?.summary.length ?? 0) > 0);
  assert.deepEqual(exports.filter(({ child }) => !documented(child)).map(({ module, child }) => `${module}.${child.name}`), []);
  for (const name of ["DummyNet", "Lab", "ProcessMonitor", "CGroup", "HostShell", "loadTopology", "buildTopology", "describeProbeReport"]) {
    assert.ok(exports.some(({ module, child }) => module === "index" && child.name === name), `index exports ${name}`);
  }
  console.log(`# ${exports.length} exports documented (${modules.map((module) => `${module}: ${exports.filter((e) => e.module === module).length}`).join(", ")})`);
});
