// `npm test`'s checks before the tests: the typecheck and the linters, each a failure of its own.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { add, failure, heading, outcome, repoRoot, timing } from "./outcome.mjs";

/** The linters; how to fix is in the message. */
const LINTERS = [
  {
    name: "eslint",
    argv: ["node_modules/eslint/bin/eslint.js", "."],
    fix: "fix the findings above (npx eslint . --fix does the safe ones)",
  },
  {
    name: "prettier",
    argv: ["node_modules/prettier/bin/prettier.cjs", "--check", "."],
    fix: "npx prettier --write <the files above>",
  },
  {
    name: "knip",
    argv: ["node_modules/knip/bin/knip.js"],
    fix: "delete what is unused, or add its entry point to knip.json",
  },
];

/** `node <script> ...args` from the checkout under a heading, its output shown; whether it passed, and its time. */
function runTool(title, name, [script, ...args]) {
  heading(title);
  const t0 = Date.now();
  const result = spawnSync(process.execPath, [join(repoRoot, script), ...args], { cwd: repoRoot, stdio: "inherit" });
  return { ok: result.status === 0, took: timing(name, t0) };
}

/** tsc --noEmit; errors count as one failure (the tests still run, so that one run shows everything). */
export function typecheck() {
  const { ok, took } = runTool("typecheck (tsc --noEmit)", "typecheck", [
    "node_modules/typescript/bin/tsc",
    "--noEmit",
    "-p",
    ".",
  ]);
  if (!ok) return { ...failure("typecheck: tsc --noEmit reported errors (above)"), timings: [took] };
  console.log("typecheck: no errors");
  return outcome({ timings: [took] });
}

export function lint() {
  const parts = LINTERS.map((linter) => {
    const { ok, took } = runTool(`lint (${linter.name})`, linter.name, linter.argv);
    if (!ok) return { ...failure(`lint: ${linter.name} reported problems (above): ${linter.fix}`), timings: [took] };
    console.log(`${linter.name}: clean`);
    return outcome({ timings: [took] });
  });
  return add(outcome(), ...parts);
}
