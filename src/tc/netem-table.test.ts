/**
 * The impairments reference table of docs/traffic-control.md is generated from
 * the netem model (scripts/generate-netem-table.mjs): it must be what the
 * model gives now, and it must follow a change of the model.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { NETEM_KEYS, NETEM_OPTIONS } from "./netem-table.js";

interface TableScript {
  DOC: string;
  START: string;
  END: string;
  netemTable(): Promise<string>;
  withNetemTable(text: string): Promise<string>;
}
const script = (await import(new URL("../../scripts/generate-netem-table.mjs", import.meta.url).href)) as TableScript;

test("docs/traffic-control.md holds the netem table generated from NETEM_OPTIONS (run node scripts/generate-netem-table.mjs)", async () => {
  const current = readFileSync(script.DOC, "utf8");
  assert.equal(
    await script.withNetemTable(current),
    current,
    "docs/traffic-control.md is out of date: run node scripts/generate-netem-table.mjs",
  );
});

test("the table has one row per option of the model, with its unit, range and default", async () => {
  const table = await script.netemTable();
  for (const key of NETEM_KEYS) assert.match(table, new RegExp(`^\\| \`${key}\` \\|`, "m"), `a row for ${key}`);
  const delay = table.split("\n").find((line) => line.startsWith("| `delay` |"));
  assert.equal(
    delay,
    `| \`delay\` | milliseconds | 0 to ${NETEM_OPTIONS.delay.max} | none | ${NETEM_OPTIONS.delay.description} |`,
  );
  assert.match(table, /^\| `gap` \| packets \| 1 to 4294967295, integer \| 1 \|/m);
});

test("a document whose table differs from the model's is rewritten, and one without markers is refused", async () => {
  const current = readFileSync(script.DOC, "utf8");
  const stale = current.replace("| `delay` | milliseconds | 0 to 274877 |", "| `delay` | milliseconds | 0 to 1000 |");
  assert.notEqual(stale, current);
  assert.equal(await script.withNetemTable(stale), current);
  await assert.rejects(script.withNetemTable("# no markers\n"), /has no .* markers/);
});
