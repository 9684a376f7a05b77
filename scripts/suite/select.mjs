// Which test files a run takes, and where each kernel-feature (*.lab.test.ts) file runs: host or kernel lab.
import { existsSync, readdirSync } from "node:fs";
import { join, relative, resolve, sep } from "node:path";
import { labAvailability } from "../lab/availability.mjs";
import { readRequires } from "../lab/lab.mjs";
import { add, failure, outcome, repoRoot } from "./outcome.mjs";

export function isLabFile(file) {
  return file.endsWith(".lab.test.ts");
}

/** A filter names a file, a directory, or a fragment of a path relative to the checkout. */
function matches(file, filter) {
  const absolute = resolve(repoRoot, filter);
  if (file === absolute) return true;
  if (existsSync(absolute) && file.startsWith(absolute + sep)) return true;
  return relative(repoRoot, file).includes(filter);
}

/** Every *.test.ts under `dir`, sorted (node 20's --test does not expand globs). */
function findTestFiles(dir) {
  const found = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== "node_modules") found.push(...findTestFiles(path));
    } else if (entry.name.endsWith(".test.ts")) {
      found.push(path);
    }
  }
  return found.sort();
}

/** The test files under src/ that `filters` select (all of them without filters); none is a failure. */
export function selectTestFiles(filters) {
  const all = findTestFiles(join(repoRoot, "src"));
  const files = filters.length === 0 ? all : all.filter((file) => filters.some((filter) => matches(file, filter)));
  return { files, outcome: files.length === 0 ? failure(`no test files match ${filters.join(" ")}`) : outcome() };
}

/**
 * Decides for each lab file: host (the host kernel has what it requires) or lab; those neither can run, and those
 * without a valid `// requires:` line, are failures.
 * @returns {Promise<{ host: string[], lab: { path: string, requires: string[] }[], reasons: Set<string>,
 *   outcome: import("./outcome.mjs").Outcome }>} reasons: the features the host lacks, which sent files to the lab
 */
export async function placeLabFiles(files) {
  const { tsImport } = await import("tsx/esm/api");
  const capabilities = await tsImport("../../src/capabilities/index.ts", import.meta.url);
  const report = await capabilities.detectCapabilities();
  const lab = labAvailability();
  const placed = { host: [], lab: [], reasons: new Set(), outcome: outcome() };
  for (const file of files) {
    const name = relative(repoRoot, file);
    const requires = readRequires(file);
    if (requires === undefined) {
      add(
        placed.outcome,
        failure(
          `${name}: a lab test file must declare what it needs on a first-lines comment, e.g. // requires: netem, vlan`,
        ),
      );
      continue;
    }
    const unknown = requires.filter((feature) => !capabilities.isKernelFeature(feature));
    if (unknown.length > 0) {
      add(
        placed.outcome,
        failure(
          `${name}: unknown feature(s) in // requires: ${unknown.join(", ")} (known: ${capabilities.KERNEL_FEATURES.join(", ")})`,
        ),
      );
      continue;
    }
    const missing = capabilities.missingFeatures(report, requires);
    if (missing.length === 0) {
      console.log(`${name}: the host kernel has ${requires.join(", ") || "what it needs"}: running it on the host`);
      placed.host.push(file);
    } else if (lab.available) {
      console.log(`${name}: the host lacks ${missing.join(", ")}: running it in the kernel lab`);
      placed.lab.push({ path: file, requires });
      for (const feature of missing) placed.reasons.add(feature);
    } else {
      add(
        placed.outcome,
        failure(
          `${name} needs ${missing.join(", ")}, which this host lacks, and the kernel lab cannot run (${lab.reason}). ` +
            `Install the lab: ${lab.howToGet}. Or give the host the features:\n` +
            missing.map((feature) => `${feature}: ${report[feature].howToGet ?? report[feature].evidence}`).join("\n"),
        ),
      );
    }
  }
  return placed;
}
