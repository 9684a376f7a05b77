/**
 * The YAML library, loaded on first use: most programs that import dummynet
 * never parse or write YAML, and loading it would cost every start time and
 * memory (docs/performance.md). The build bundles it into one file with V8's
 * code cache of it (scripts/build-yaml-bundle.mjs), which loads in a fifth of
 * the time the package's modules take; without that file the package is loaded.
 */
import { createRequire } from "node:module";
import { requireGenerated } from "../system/code-cache.js";

type Yaml = typeof import("yaml");

let loaded: Yaml | undefined;

export function yaml(): Yaml {
  loaded ??=
    (requireGenerated(new URL("./yaml.generated.cjs", import.meta.url)) as Yaml | undefined) ??
    (createRequire(import.meta.url)("yaml") as Yaml);
  return loaded;
}
