// Loading a CommonJS file with V8's code cache of it (the topology schema's validator): the cache is taken when it
// was made from the same text by this Node, refused otherwise, and the file's own text always decides what runs.
// Each load is of a copy under another name: V8 keeps what this process compiled by text and name, and would
// answer from there without reading the cache.
import { test } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { requireWithCodeCache, writeCodeCache } from "./code-cache.js";

type Module = { answer: (x: number) => number; dirname: string };

const SOURCE = `"use strict";
const { join } = require("node:path");
module.exports = { answer: (x) => x * 2, dirname: join(__dirname, ".") };`;

/** A file of SOURCE with its cache, and a path for a copy. */
function cachedFile(body: (file: string, copy: string) => void): void {
  const directory = mkdtempSync(join(tmpdir(), "dummynet-code-cache-"));
  try {
    const file = join(directory, "module.cjs");
    writeFileSync(file, SOURCE);
    writeCodeCache(file, (exports) => {
      assert.equal((exports as Module).answer(1), 2);
    });
    body(file, join(directory, "copy.cjs"));
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

test(
  "a cache made from the same text is taken, and the file runs as require() would run it",
  { timeout: 30_000 },
  () => {
    cachedFile((file, copy) => {
      copyFileSync(file, copy);
      assert.equal(requireWithCodeCache(copy).cached, false, "no cache beside the copy yet");
      const again = `${copy}.again.cjs`;
      copyFileSync(file, again);
      copyFileSync(`${file}.cache`, `${again}.cache`);
      const loaded = requireWithCodeCache(again);
      assert.equal(loaded.cached, true);
      const module = loaded.exports as Module;
      assert.equal(module.answer(21), 42);
      assert.equal(module.dirname, join(again, ".."));
    });
  },
);

test("a cache of another text of the same length is refused: the file's own text runs", { timeout: 30_000 }, () => {
  cachedFile((file, copy) => {
    // V8's own check (the text's length) would take the stale cache and run `x * 2`.
    const changed = SOURCE.replace("x * 2", "x + 2");
    assert.equal(changed.length, SOURCE.length);
    writeFileSync(copy, changed);
    copyFileSync(`${file}.cache`, `${copy}.cache`);
    const loaded = requireWithCodeCache(copy);
    assert.equal(loaded.cached, false);
    assert.equal((loaded.exports as Module).answer(40), 42);
  });
});

test("a damaged cache is refused: the file is compiled as usual", { timeout: 30_000 }, () => {
  cachedFile((file, copy) => {
    copyFileSync(file, copy);
    const digest = readFileSync(`${file}.cache`).subarray(0, 32);
    writeFileSync(`${copy}.cache`, Buffer.concat([digest, Buffer.from("not a code cache")]));
    const loaded = requireWithCodeCache(copy);
    assert.equal(loaded.cached, false);
    assert.equal((loaded.exports as Module).answer(21), 42);
  });
});
