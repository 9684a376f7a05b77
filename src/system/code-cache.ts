/**
 * A CommonJS file loaded with V8's code cache of it (`<file>.cache`, written
 * by the build after a first run, so that the functions that ran are in it):
 * the files the build generates (the topology schema's validator, yaml in one
 * file) are large, and every process that uses them would otherwise compile
 * them (docs/performance.md).
 * A cache V8 refuses (another Node version, other flags), one of another text
 * (V8 checks only its length: the cache starts with the text's SHA-256) or
 * none: the file is compiled as require() would compile it.
 */
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { Script } from "node:vm";

/** The file's source as require() wraps it, and that text's SHA-256, which its cache starts with. */
function wrappedSource(file: string): { text: string; digest: Buffer } {
  const text = `(function (exports, require, module, __filename, __dirname) {${readFileSync(file, "utf8")}\n})`;
  return { text, digest: createHash("sha256").update(text).digest() };
}

function compile(file: string, text: string, cachedData?: Buffer): Script {
  return new Script(text, { filename: file, ...(cachedData ? { cachedData } : {}) });
}

function run(script: Script, file: string): unknown {
  const module = { exports: {} as unknown };
  const body = script.runInThisContext() as (...args: unknown[]) => void;
  body(module.exports, createRequire(file), module, file, dirname(file));
  return module.exports;
}

/** The file's exports, and whether V8 took its code cache. Throws as readFileSync does when the file is missing. */
export function requireWithCodeCache(file: string): { exports: unknown; cached: boolean } {
  const { text, digest } = wrappedSource(file);
  let cache: Buffer | undefined;
  try {
    const stored = readFileSync(`${file}.cache`);
    if (stored.subarray(0, digest.length).equals(digest)) cache = stored.subarray(digest.length);
  } catch {
    // None: compiled as usual.
  }
  const script = compile(file, text, cache);
  return { exports: run(script, file), cached: cache !== undefined && script.cachedDataRejected === false };
}

/**
 * The exports of a file the build generates beside a module (`url`), loaded with its code cache; undefined where the
 * build did not make it (the tests, run from src/; the kernel lab's build), for the caller to do without.
 */
export function requireGenerated(url: URL): unknown {
  try {
    return requireWithCodeCache(fileURLToPath(url)).exports;
  } catch {
    return undefined;
  }
}

/** Writes `<file>.cache` after `exercise` has called what is to be in it (functions are compiled when first called). */
export function writeCodeCache(file: string, exercise: (exports: unknown) => void): void {
  const { text, digest } = wrappedSource(file);
  const script = compile(file, text);
  exercise(run(script, file));
  writeFileSync(`${file}.cache`, Buffer.concat([digest, script.createCachedData()]));
}
