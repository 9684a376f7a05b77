// The example topologies (examples/*.yaml) as text: what the build's code caches are made after
// (scripts/build-schema-validator.mjs, scripts/build-yaml-bundle.mjs) and what their tests check against.
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";

/** The text of every examples/*.yaml under `root`. */
export function exampleTexts(root) {
  const examples = join(root, "examples");
  return readdirSync(examples)
    .filter((name) => name.endsWith(".yaml"))
    .map((name) => readFileSync(join(examples, name), "utf8"));
}
