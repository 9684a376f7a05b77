// Reads node --test's TAP output: the totals, the failing and skipped tests, and the tests still open.
import { existsSync, readFileSync } from "node:fs";

/**
 * @typedef {{ passed: number, failed: number, skipped: number, todo: number,
 *   complete: boolean, failures: string[], skips: string[] }} TapSummary
 */

/**
 * The TAP lines that matter, in order: a test opening ("# Subtest: name") and a test's result, each with its
 * nesting depth (4 spaces a level).
 * @returns {Generator<{ kind: "subtest", depth: number, name: string }
 *   | { kind: "result", depth: number, ok: boolean, name: string, directive?: "SKIP" | "TODO", rest: string }>}
 */
function* tapLines(text) {
  for (const line of text.split("\n")) {
    const subtest = /^(\s*)# Subtest: (.*)$/.exec(line);
    if (subtest) {
      yield { kind: "subtest", depth: subtest[1].length / 4, name: subtest[2] };
      continue;
    }
    const result = /^(\s*)(not )?ok \d+ - (.*?)(?:\s+# (SKIP|TODO)\b(.*))?$/.exec(line);
    if (result) {
      const [, indent, not, name, directive, rest] = result;
      yield { kind: "result", depth: indent.length / 4, ok: !not, name, directive, rest: rest ?? "" };
    }
  }
}

/** @returns {TapSummary} */
export function summarizeTap(text) {
  const total = (key) => {
    const matches = [...text.matchAll(new RegExp(`^# ${key} (\\d+)$`, "gm"))];
    return matches.length ? Number(matches[matches.length - 1][1]) : undefined;
  };
  const pass = total("pass");
  const fail = total("fail");
  const cancelled = total("cancelled") ?? 0;
  const failures = [];
  const skips = [];
  // The names of the open tests by depth: the path of nested names.
  const stack = [];
  for (const line of tapLines(text)) {
    if (line.kind === "subtest") {
      stack.length = line.depth;
      stack[line.depth] = line.name;
      continue;
    }
    const path = [...stack.slice(0, line.depth), line.name].join(" > ");
    if (!line.ok && !line.directive) failures.push(path);
    if (line.ok && line.directive) skips.push(`${path} (${line.directive}${line.rest})`);
  }
  // A suite fails when one of its tests fails: list only the innermost failures.
  const innermost = failures.filter(
    (name) => !failures.some((other) => other !== name && other.startsWith(`${name} > `)),
  );
  return {
    passed: pass ?? 0,
    failed: fail === undefined ? Math.max(1, innermost.length) : fail + cancelled,
    skipped: total("skipped") ?? 0,
    todo: total("todo") ?? 0,
    complete: pass !== undefined && fail !== undefined,
    failures: innermost,
    skips,
  };
}

/** @returns {TapSummary | undefined} */
export function summarizeTapFile(path) {
  return existsSync(path) ? summarizeTap(readFileSync(path, "utf8")) : undefined;
}

/** The tests that opened in a TAP file and never reported: what was running when a bound ended a run. */
export function unfinishedTests(path) {
  if (!existsSync(path)) return [];
  const open = [];
  for (const line of tapLines(readFileSync(path, "utf8"))) {
    if (line.kind === "subtest") open.push(line);
    else {
      const at = open.findLastIndex((test) => test.depth === line.depth && test.name === line.name);
      if (at >= 0) open.splice(at, 1);
    }
  }
  return open.map((test) => test.name);
}
