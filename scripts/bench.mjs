// `npm run bench`: build and tear down chain and star networks of N hosts
// through the library (the contract's imperative calls, the same calls with
// veth ends born in their namespaces, and a topology file) and through the
// ip -batch floor (and the floor with links moved, as the contract's calls do), alternating them in one run, several runs each, and
// print medians, the ratio to the floor and peak RSS, as a table and as JSON.
// Kind "testing": the per-test cost of dummynet/testing (a two-host network
// with one link, built and torn down through useNetwork and useTopology,
// including the leftover check), median of --testing-runs tests in a row.
//
// Usage: npm run bench -- [--runs 3] [--sizes 10,50,100,500] [--kinds chain,star,testing] [--testing-runs 30] [--json FILE]
// Needs root. Builds dist/ first (the library is measured as users run it).
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import os from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const option = (name, fallback) => {
  const at = args.indexOf(`--${name}`);
  return at >= 0 && args[at + 1] ? args[at + 1] : fallback;
};
const runs = Number(option("runs", "3"));
const sizes = option("sizes", "10,50,100,500").split(",").map(Number);
const kinds = option("kinds", "chain,star,testing").split(",");
const testingRuns = Number(option("testing-runs", "30"));
const jsonFile = option("json", join(root, "bench-results.json"));

if (process.getuid?.() !== 0) {
  console.error("npm run bench needs root (it builds real namespaces).");
  process.exit(2);
}

// The whole build, as users get it (including the precompiled schema validator).
const build = spawnSync("npm", ["run", "--silent", "build"], { cwd: root, stdio: "inherit" });
if (build.status !== 0) process.exit(build.status ?? 1);

const implementations = [
  { name: "ip-batch floor", argv: (kind, n) => ["bash", join(root, "scripts/bench/ip-floor.sh"), kind, String(n), "born"] },
  // The same kernel work as linkVethAdd + linkSet (links made in the host namespace, then moved), without process overhead.
  { name: "ip-batch, links moved", argv: (kind, n) => ["bash", join(root, "scripts/bench/ip-floor.sh"), kind, String(n), "moved"] },
  { name: "dummynet api", argv: (kind, n) => [process.execPath, join(root, "scripts/bench/library-sample.mjs"), kind, String(n), "api"] },
  { name: "dummynet api, born", argv: (kind, n) => [process.execPath, join(root, "scripts/bench/library-sample.mjs"), kind, String(n), "born"] },
  { name: "dummynet file", argv: (kind, n) => [process.execPath, join(root, "scripts/bench/library-sample.mjs"), kind, String(n), "file"] },
];

function sample(impl, kind, n) {
  const [program, ...rest] = impl.argv(kind, n);
  const result = spawnSync(program, rest, { cwd: root, encoding: "utf8", maxBuffer: 1 << 24 });
  if (result.status !== 0) throw new Error(`${impl.name} ${kind} ${n} failed (${result.status}): ${result.stderr}`);
  return JSON.parse(result.stdout.trim().split("\n").at(-1));
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

const rows = [];
const testingRows = [];
for (const kind of kinds) {
  if (kind === "testing") {
    for (const helper of ["useNetwork", "useTopology"]) {
      const result = spawnSync(process.execPath, [join(root, "scripts/bench/testing-sample.mjs"), helper, String(testingRuns)], { cwd: root, encoding: "utf8", maxBuffer: 1 << 24 });
      if (result.status !== 0) throw new Error(`testing ${helper} failed (${result.status}): ${result.stderr}`);
      const { samples } = JSON.parse(result.stdout.trim().split("\n").at(-1));
      // The first test also reaps dead owners' leftovers (once per process): reported apart.
      const steady = samples.slice(1);
      testingRows.push({
        helper,
        tests: samples.length,
        setupMs: median(steady.map((s) => s.setupMs)),
        teardownMs: median(steady.map((s) => s.teardownMs)),
        totalMs: median(steady.map((s) => s.setupMs + s.teardownMs)),
        firstTestMs: samples[0].setupMs + samples[0].teardownMs,
      });
      process.stderr.write(`testing ${helper}: median ${testingRows.at(-1).totalMs.toFixed(1)} ms per test\n`);
    }
    continue;
  }
  for (const n of sizes) {
    const samples = new Map(implementations.map((impl) => [impl.name, []]));
    // Alternate the implementations run by run, so that machine noise hits all alike.
    for (let run = 0; run < runs; run++) {
      for (const impl of implementations) {
        const s = sample(impl, kind, n);
        samples.get(impl.name).push(s);
        process.stderr.write(`${kind} ${n} run ${run + 1}/${runs} ${impl.name}: ${(s.setupS + s.cleanupS).toFixed(3)} s\n`);
      }
    }
    const floor = samples.get("ip-batch floor");
    const floorTotal = median(floor.map((s) => s.setupS + s.cleanupS));
    for (const impl of implementations) {
      const list = samples.get(impl.name);
      const total = median(list.map((s) => s.setupS + s.cleanupS));
      rows.push({
        kind,
        n,
        impl: impl.name,
        setupS: median(list.map((s) => s.setupS)),
        cleanupS: median(list.map((s) => s.cleanupS)),
        totalS: total,
        ratioToFloor: total / floorTotal,
        perHostMs: (total / n) * 1000,
        peakRssMb: list[0].peakRssMb === undefined ? undefined : Math.max(...list.map((s) => s.peakRssMb)),
      });
    }
  }
}

const machine = `${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? "?"}), ${Math.round(os.totalmem() / 2 ** 30)} GiB, Linux ${os.release()}, Node ${process.version}`;
console.log(`\ndummynet benchmark, ${new Date().toISOString().slice(0, 10)}, ${machine}; medians of ${runs} runs\n`);
console.log("| kind | N | implementation | setup s | teardown s | total s | x floor | ms per host | peak RSS MB |");
console.log("| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |");
for (const r of rows) {
  console.log(
    `| ${r.kind} | ${r.n} | ${r.impl} | ${r.setupS.toFixed(3)} | ${r.cleanupS.toFixed(3)} | ${r.totalS.toFixed(3)} | ${r.ratioToFloor.toFixed(2)} | ${r.perHostMs.toFixed(2)} | ${r.peakRssMb === undefined ? "" : r.peakRssMb.toFixed(0)} |`,
  );
}
if (testingRows.length > 0) {
  console.log(`\nper test, two hosts and one link (dummynet/testing, ${testingRuns} tests in a row; medians without the first test, which also reaps dead owners):\n`);
  console.log("| helper | setup ms | teardown + leftover check ms | total ms | first test ms |");
  console.log("| --- | ---: | ---: | ---: | ---: |");
  for (const r of testingRows) console.log(`| ${r.helper} | ${r.setupMs.toFixed(1)} | ${r.teardownMs.toFixed(1)} | ${r.totalMs.toFixed(1)} | ${r.firstTestMs.toFixed(1)} |`);
}
writeFileSync(jsonFile, JSON.stringify({ date: new Date().toISOString(), machine, runs, rows, testing: testingRows }, null, 2) + "\n");
console.log(`\nJSON: ${jsonFile}`);
