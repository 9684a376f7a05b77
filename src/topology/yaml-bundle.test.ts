// The build bundles the yaml package into one file with V8's code cache of it
// (scripts/build-yaml-bundle.mjs): the bundle must read and write YAML exactly
// as the package does, and its cache must be taken.
import { test } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as packaged from "yaml";
import { requireWithCodeCache, writeCodeCache } from "../system/code-cache.js";

type Yaml = typeof packaged;
interface BundleScript {
  writeYamlBundle(root: string, out: string): Promise<void>;
  exerciseYaml(Y: Yaml, root: string): void;
}
interface ExamplesScript {
  exampleTexts: (root: string) => string[];
}

const root = fileURLToPath(new URL("../..", import.meta.url));
const script = (await import(new URL("../../scripts/build-yaml-bundle.mjs", import.meta.url).href)) as BundleScript;
const { exampleTexts } = (await import(new URL("../../scripts/examples.mjs", import.meta.url).href)) as ExamplesScript;

/** What the bundle and the package make of `text`: its data, its errors with their line and column, and it written. */
function reading(Y: Yaml, text: string): unknown {
  const lineCounter = new Y.LineCounter();
  const doc = Y.parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const errors = doc.errors.map((error) => [error.code, error.message, lineCounter.linePos(error.pos[0])]);
  if (errors.length > 0) return errors;
  const data = doc.toJS({ maxAliasCount: 100 }) as unknown;
  return [data, new Y.Document(data).toString({ lineWidth: 0 })];
}

test(
  "the bundled yaml reads and writes as the package does, and loads with its code cache",
  { timeout: 60_000 },
  async () => {
    // The bundle requires nothing outside itself, so it may be anywhere (the rootless phase cannot write the checkout).
    const directory = mkdtempSync(join(tmpdir(), "dummynet-yaml-"));
    try {
      const file = join(directory, "yaml.cjs");
      await script.writeYamlBundle(root, file);
      writeCodeCache(file, (exports) => {
        script.exerciseYaml(exports as Yaml, root);
      });
      // A copy under another name: V8 would answer this process's compilation of `file` from memory.
      const copy = join(directory, "copy.cjs");
      copyFileSync(file, copy);
      copyFileSync(`${file}.cache`, `${copy}.cache`);
      const { exports, cached } = requireWithCodeCache(copy);
      assert.equal(cached, true, "the code cache was refused");
      const bundled = exports as Yaml;
      const texts = exampleTexts(root);
      assert.ok(texts.length > 3);
      for (const text of [...texts, "hosts: { a: {}, a: {} }\n", "links: [\n", "a: &x 1\nb: *x\n", "- \u2028\n"]) {
        assert.deepEqual(reading(bundled, text), reading(packaged, text), text);
      }
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  },
);
