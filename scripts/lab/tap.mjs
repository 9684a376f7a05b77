// Reads the totals and the failing/skipped test names out of node --test's TAP output.
import { existsSync, readFileSync } from "node:fs";

/**
 * @typedef {{ passed: number, failed: number, skipped: number, todo: number,
 *   complete: boolean, failures: string[], skips: string[] }} TapSummary
 */

/** @returns {TapSummary} */
export function summarizeTap(text) {
  const total = (key) => {
    const matches = [...text.matchAll(new RegExp(`^# ${key} (\\d+)$`, "gm"))];
    return matches.length ? Number(matches[matches.length - 1][1]) : undefined;
  };
  const pass = total("pass");
  const fail = total("fail");
  const cancelled = total("cancelled") ?? 0;
  const lines = text.split("\n");
  const failures = [];
  const skips = [];
  const stack = [];
  for (const line of lines) {
    // "# Subtest: name" lines open a test at their indentation; they give the path of nested names.
    const subtest = /^(\s*)# Subtest: (.*)$/.exec(line);
    if (subtest) {
      const depth = subtest[1].length / 4;
      stack.length = depth;
      stack[depth] = subtest[2];
      continue;
    }
    const notOk = /^(\s*)not ok \d+ - (.*?)(\s+# (TODO|SKIP).*)?$/.exec(line);
    if (notOk && !notOk[3]) {
      const depth = notOk[1].length / 4;
      failures.push([...stack.slice(0, depth), notOk[2]].join(" > "));
    }
    const skip = /^(\s*)ok \d+ - (.*?)\s+# (SKIP|TODO)\b(.*)$/.exec(line);
    if (skip) {
      const depth = skip[1].length / 4;
      skips.push(`${[...stack.slice(0, depth), skip[2]].join(" > ")} (${skip[3]}${skip[4]})`);
    }
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
