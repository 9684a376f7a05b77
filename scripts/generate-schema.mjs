// Writes the netem part of schema/topology.schema.json (the `netem` and
// `impairment` definitions) from the netem model's tables (src/tc/netem-table.ts,
// through src/tc/netem-schema.ts). Run it after changing an option:
//   node scripts/generate-schema.mjs           # rewrites the schema file
//   node scripts/generate-schema.mjs --check   # exit 1 when the file is out of date
// The test src/tc/netem-schema.test.ts makes the same check.
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { tsImport } from "tsx/esm/api";
import { parseCommandLine } from "./args.mjs";

const { values } = parseCommandLine("usage: node scripts/generate-schema.mjs [--check]", {
  check: { type: "boolean" },
});
const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const file = join(root, "schema/topology.schema.json");
const { withNetemDefinitions } = await tsImport("../src/tc/netem-schema.ts", import.meta.url);
const current = readFileSync(file, "utf8");
const generated = withNetemDefinitions(current);
if (values.check) {
  if (generated !== current) {
    console.error(`${file} is out of date with src/tc/netem-table.ts: run node scripts/generate-schema.mjs`);
    process.exit(1);
  }
} else if (generated !== current) {
  writeFileSync(file, generated);
  console.log(`wrote the netem definitions of ${file}`);
} else console.log(`${file} is up to date`);
