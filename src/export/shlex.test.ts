/**
 * Quoting for exec commands: containerlab's split (google/shlex, as
 * splitWords does it) gives back every word, and /bin/sh reads the same
 * quoting as the same words; no `{{` is ever written.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fc from "fast-check";
import { joinWords, quoteWord, ShlexError, splitWords } from "./shlex.js";

const word = fc.string({
  unit: fc.constantFrom("a", "{", "}", "'", '"', "\\", "$", " ", "#", "`", "=", "\n", "\t", "é", "*", ";"),
});

test("splitWords(joinWords(words)) gives the words back, and the text holds no {{", () => {
  fc.assert(
    fc.property(fc.array(word, { minLength: 1, maxLength: 6 }), (words) => {
      const text = joinWords(words);
      assert.ok(!text.includes("{{"), text);
      assert.deepEqual(splitWords(text), words);
    }),
    { numRuns: 2000 },
  );
});

test("/bin/sh reads the same quoting as the same words", { timeout: 60_000 }, () => {
  fc.assert(
    fc.property(
      fc.array(
        word.filter((w) => !w.includes("\0")),
        { minLength: 1, maxLength: 4 },
      ),
      (words) => {
        const script = `for w in ${words.map(quoteWord).join(" ")}; do printf '%s\\0' "$w"; done`;
        const out = spawnSync("/bin/sh", ["-c", script], { encoding: "utf8", timeout: 5000 });
        assert.equal(out.status, 0, out.stderr);
        assert.deepEqual(out.stdout.split("\0").slice(0, -1), words);
      },
    ),
    { numRuns: 60 },
  );
});

test("google/shlex's own rules: comments at a word's start, empty quotes, escapes, errors", () => {
  assert.deepEqual(splitWords(`a #b c\nd a#b '' "x\\"y" \\ z`), ["a", "d", "a#b", "", 'x"y', " z"]);
  assert.deepEqual(splitWords("  "), []);
  assert.throws(() => splitWords("'open"), ShlexError);
  assert.throws(() => splitWords("end\\"), ShlexError);
  // A first word with = is quoted, so sh -c never takes it for an assignment.
  assert.equal(joinWords(["A=1", "B=2"]), "'A=1' B=2");
});
