/**
 * The YAML library, loaded on first use: most programs that import dummynet
 * never parse or write YAML, and loading it would cost every start time and
 * memory (docs/performance.md).
 */
import { createRequire } from "node:module";

type Yaml = typeof import("yaml");

let loaded: Yaml | undefined;

export function yaml(): Yaml {
  loaded ??= createRequire(import.meta.url)("yaml") as Yaml;
  return loaded;
}
