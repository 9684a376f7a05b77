/**
 * `dummynet export`: the text on stdout (or in -o's file), warnings and
 * notices on stderr, and with --strict a refusal (exit status 2, nothing
 * written) when something does not carry over.
 */
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { readContainerlabText } from "../export/rules.js";
import { runCli } from "./cli.test-helpers.js";

const scratch = mkdtempSync(join(tmpdir(), "dummynet-export-"));
after(() => {
  rmSync(scratch, { recursive: true, force: true });
});

test(
  "export --to clabernetes: a Topology resource on stdout; each warning on stderr",
  { timeout: 120_000 },
  async () => {
    const result = await runCli(["export", "examples/star.yaml", "--to", "clabernetes"]);
    assert.equal(result.code, 0, result.stderr);
    const resource = parse(result.stdout) as { kind: string; spec: { definition: { containerlab: string } } };
    assert.equal(resource.kind, "Topology");
    const inner = readContainerlabText(resource.spec.definition.containerlab) as { topology: { nodes: object } };
    assert.deepEqual(Object.keys(inner.topology.nodes), ["sw", "h1", "h2", "h3"]);
    assert.match(result.stderr, /^warning: programs\[0\]: program web on host h2 runs node, which the default image/m);
    assert.match(result.stderr, /^warning: hosts\.h1: the jobs of h1 may start before the daemons of h2 are ready/m);
  },
);

test("export --to containerlab -o FILE --image, and --strict refusing", { timeout: 120_000 }, async () => {
  const file = join(scratch, "nat.clab.yml");
  const written = await runCli([
    "export",
    "examples/nat-router.yaml",
    "--to",
    "containerlab",
    "-o",
    file,
    "--image",
    "node:20",
  ]);
  assert.equal(written.code, 0, written.stderr);
  assert.equal(written.stdout, "");
  const doc = readContainerlabText(readFileSync(file, "utf8")) as {
    topology: { nodes: Record<string, { image: string }> };
  };
  assert.equal(doc.topology.nodes["router"].image, "node:20");
  // With an image of the user's, node is not checked against the default image's programs: nothing to warn about.
  const strictOk = await runCli([
    "export",
    "examples/nat-router.yaml",
    "--to",
    "containerlab",
    "--image",
    "node:20",
    "--strict",
  ]);
  assert.equal(strictOk.code, 0, strictOk.stderr);

  const refused = join(scratch, "refused.yml");
  const strict = await runCli(["export", "examples/star.yaml", "--to", "containerlab", "--strict", "-o", refused]);
  assert.equal(strict.code, 2);
  assert.match(strict.stderr, /does not export to containerlab faithfully \(--strict; nothing was written\)/);
  assert.ok(!existsSync(refused));
  const missing = await runCli(["export", "examples/star.yaml"]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /--to/);
});
