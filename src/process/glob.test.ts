import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { fnmatch, fnmatchFilter, globToRegExp, splitLines } from "./glob.js";

describe("fnmatch globs (Python semantics)", { timeout: 60_000 }, () => {
  test("* matches any run of characters, the whole line must match", () => {
    assert.equal(fnmatch("5 packets transmitted, 5 received", "5 packets transmitted*"), true);
    assert.equal(fnmatch("x 5 packets transmitted", "5 packets transmitted*"), false);
    assert.equal(fnmatch("abc", "*"), true);
    assert.equal(fnmatch("", "*"), true);
    assert.equal(fnmatch("abc", "a*c"), true);
    assert.equal(fnmatch("abcd", "a*c"), false);
  });

  test("? matches exactly one character (one code point)", () => {
    assert.equal(fnmatch("a1c", "a?c"), true);
    assert.equal(fnmatch("ac", "a?c"), false);
    assert.equal(fnmatch("a😀c", "a?c"), true);
  });

  test("[seq], [!seq], ranges, and ] first in a set", () => {
    assert.equal(fnmatch("b", "[abc]"), true);
    assert.equal(fnmatch("d", "[abc]"), false);
    assert.equal(fnmatch("d", "[!abc]"), true);
    assert.equal(fnmatch("a", "[!abc]"), false);
    assert.equal(fnmatch("m", "[a-z]"), true);
    assert.equal(fnmatch("M", "[a-z]"), false, "case-sensitive as on POSIX");
    assert.equal(fnmatch("]", "[]]"), true);
    assert.equal(fnmatch("x", "[!]]"), true);
    assert.equal(fnmatch("-", "[a-]"), true);
    assert.equal(fnmatch("^", "[^]"), true);
  });

  test("regex metacharacters and an unclosed [ are literals", () => {
    assert.equal(fnmatch("a.c", "a.c"), true);
    assert.equal(fnmatch("abc", "a.c"), false);
    assert.equal(fnmatch("(x)+$", "(x)+$"), true);
    assert.equal(fnmatch("[abc", "[abc"), true);
    assert.equal(fnmatch("a\\b", "a\\b"), true);
  });

  test("a reversed range is dropped as Python does, never a RegExp error", () => {
    assert.equal(fnmatch("b", "[z-a]"), false);
    assert.equal(fnmatch("b", "[!z-a]"), true);
    assert.equal(fnmatch("q", "[z-aq]"), true);
  });

  test("many stars stay fast (no catastrophic backtracking)", () => {
    const start = performance.now();
    assert.equal(globToRegExp("*a*a*a*a*a*a*a*a*a*b").test("a".repeat(40)), false);
    assert.ok(performance.now() - start < 2000);
  });

  test("filter and splitlines behave like Python's", () => {
    assert.deepEqual(splitLines("a\nb\r\nc\rd\n"), ["a", "b", "c", "d"]);
    assert.deepEqual(splitLines(""), []);
    assert.deepEqual(splitLines("\n"), [""]);
    assert.deepEqual(fnmatchFilter(["one", "two", "three"], "t*"), ["two", "three"]);
  });
});
