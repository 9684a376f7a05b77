// `npm run bench`: build and tear down chain and star networks of N hosts
// through the library (the contract's imperative calls, the same calls with
// veth ends born in their namespaces, and a topology file) and through the
// ip -batch floor (and the floor with links moved, as the contract's calls do), alternating them in one run, several runs each, and
// print medians, the ratio to the floor and peak RSS, as a table and as JSON.
// Kind "testing": the per-test cost of dummynet/testing (a two-host network
// with one link, built and torn down through useNetwork and useTopology,
// including the leftover check), median of --testing-runs tests in a row,
// and its floor: the same network made and removed by four plain ip commands.
// Rootless rows: "dummynet api, born" and "dummynet file" again as uid 65534
// with `rootless: true` (docs/rootless.md), in the same alternation, and the
// rootless/root ratio of each (the target: at most 1.3).
//
// Kind "faults" (not in the default kinds): a seeded schedule of 200 steps at 10 ms spacing on 10 hosts (p50/p99/max
// of lateMs), the time from partition() resolving to the first dropped packet, and partition()/heal() of 100 hosts
// into two groups; medians of --runs samples, each in a fresh process (scripts/bench/faults-sample.mjs).
//
// Kind "testing" measures each helper without evidence and with it (the default),
// and the difference. Kind "snapshot": snapshot() of 10 hosts and a switch.
//
// Usage: npm run bench -- [--runs 3] [--sizes 10,50,100,500] [--kinds chain,star,testing,snapshot,faults] [--testing-runs 30] [--json FILE]
//   [--impls floor,moved,api,born,file,born-rootless,file-rootless] (chain and star rows to run; default all, the floor always)
// Needs root. Builds dist/ first (the library is measured as users run it).
import { spawnSync } from "node:child_process";
import { chownSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseCommandLine } from "./args.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const { values: options } = parseCommandLine(
  "usage: npm run bench -- [--runs 3] [--sizes 10,50,100,500] [--kinds chain,star,testing,snapshot,faults] [--testing-runs 30] [--json FILE] [--impls floor,moved,api,born,file,born-rootless,file-rootless]",
  {
    runs: { type: "string", default: "3" },
    sizes: { type: "string", default: "10,50,100,500" },
    kinds: { type: "string", default: "chain,star,testing,snapshot" },
    "testing-runs": { type: "string", default: "30" },
    json: { type: "string", default: join(root, "bench-results.json") },
    impls: { type: "string", default: "" },
  },
);
const runs = Number(options.runs);
const sizes = options.sizes.split(",").map(Number);
const kinds = options.kinds.split(",");
const testingRuns = Number(options["testing-runs"]);
const only = options.impls.split(",").filter((id) => id !== "");
const jsonFile = options.json;

if (process.getuid?.() !== 0) {
  console.error("npm run bench needs root (it builds real namespaces).");
  process.exit(2);
}

// The whole build, as users get it (including the precompiled schema validator).
const build = spawnSync("npm", ["run", "--silent", "build"], { cwd: root, stdio: "inherit" });
if (build.status !== 0) process.exit(build.status ?? 1);

/** The unprivileged user of the rootless rows, with a scratch HOME/XDG_RUNTIME_DIR of its own. */
const ROOTLESS_UID = 65534;
const rootlessHome = mkdtempSync(join(os.tmpdir(), "dummynet-bench-rootless-"));
chownSync(rootlessHome, ROOTLESS_UID, ROOTLESS_UID);
process.on("exit", () => rmSync(rootlessHome, { recursive: true, force: true }));
const asRootlessUser = (argv) => [
  "setpriv",
  `--reuid=${ROOTLESS_UID}`,
  `--regid=${ROOTLESS_UID}`,
  "--clear-groups",
  "--",
  ...argv,
];
const rootlessEnv = { PATH: process.env.PATH, HOME: rootlessHome, XDG_RUNTIME_DIR: rootlessHome, TMPDIR: rootlessHome };

const implementations = [
  {
    name: "ip-batch floor",
    id: "floor",
    argv: (kind, n) => ["bash", join(root, "scripts/bench/ip-floor.sh"), kind, String(n), "born"],
  },
  // The same kernel work as linkVethAdd + linkSet (links made in the host namespace, then moved), without process overhead.
  {
    name: "ip-batch, links moved",
    id: "moved",
    argv: (kind, n) => ["bash", join(root, "scripts/bench/ip-floor.sh"), kind, String(n), "moved"],
  },
  {
    name: "dummynet api",
    id: "api",
    // Its kernel work is the moved floor's: the target is a ratio to that row.
    floor: "ip-batch, links moved",
    argv: (kind, n) => [process.execPath, join(root, "scripts/bench/library-sample.mjs"), kind, String(n), "api"],
  },
  {
    name: "dummynet api, born",
    id: "born",
    argv: (kind, n) => [process.execPath, join(root, "scripts/bench/library-sample.mjs"), kind, String(n), "born"],
  },
  {
    name: "dummynet file",
    id: "file",
    argv: (kind, n) => [process.execPath, join(root, "scripts/bench/library-sample.mjs"), kind, String(n), "file"],
  },
  // The same builds rootless ("api" is refused there: its veths are made in the host namespace).
  {
    name: "dummynet api, born, rootless",
    id: "born-rootless",
    rootlessOf: "dummynet api, born",
    env: rootlessEnv,
    argv: (kind, n) =>
      asRootlessUser([
        process.execPath,
        join(root, "scripts/bench/library-sample.mjs"),
        kind,
        String(n),
        "born",
        "rootless",
      ]),
  },
  {
    name: "dummynet file, rootless",
    id: "file-rootless",
    rootlessOf: "dummynet file",
    env: rootlessEnv,
    argv: (kind, n) =>
      asRootlessUser([
        process.execPath,
        join(root, "scripts/bench/library-sample.mjs"),
        kind,
        String(n),
        "file",
        "rootless",
      ]),
  },
];
// --impls floor,born,...: only these rows of the chain and star kinds (the floor always: ratios are to it).
const unknownImpls = only.filter((id) => !implementations.some((impl) => impl.id === id));
if (unknownImpls.length > 0) {
  console.error(
    `--impls: unknown ${unknownImpls.join(", ")}; known: ${implementations.map((impl) => impl.id).join(", ")}`,
  );
  process.exit(2);
}
const measured = implementations.filter((impl) => only.length === 0 || impl.id === "floor" || only.includes(impl.id));

/** A bound per sample: a hung build fails the benchmark, naming the sample. */
const SAMPLE_TIMEOUT_MS = 10 * 60 * 1000;

function sample(impl, kind, n) {
  const [program, ...rest] = impl.argv(kind, n);
  const result = spawnSync(program, rest, {
    cwd: root,
    encoding: "utf8",
    maxBuffer: 1 << 24,
    env: impl.env ?? process.env,
    timeout: SAMPLE_TIMEOUT_MS,
  });
  if (result.error?.code === "ETIMEDOUT")
    throw new Error(
      `${impl.name} ${kind} ${n} did not finish within ${SAMPLE_TIMEOUT_MS / 60_000} min (killed): ${result.stderr}`,
    );
  if (result.status !== 0)
    throw new Error(`${impl.name} ${kind} ${n} failed (${result.status ?? result.signal}): ${result.stderr}`);
  return JSON.parse(result.stdout.trim().split("\n").at(-1));
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

const percentile = (values, p) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
};

const rows = [];
const testingRows = [];
const faultRows = [];
const snapshotRows = [];
for (const kind of kinds) {
  if (kind === "faults") {
    for (let run = 0; run < runs; run++) {
      const s = sample(
        {
          name: "faults",
          argv: () => [process.execPath, join(root, "scripts/bench/faults-sample.mjs"), String(run + 1)],
        },
        kind,
        0,
      );
      faultRows.push({
        seed: run + 1,
        steps: s.steps,
        failed: s.failed,
        lateP50Ms: percentile(s.lateMs, 50),
        lateP99Ms: percentile(s.lateMs, 99),
        lateMaxMs: Math.max(...s.lateMs),
        firstDropAfterResolveMs: s.firstDropAfterResolveMs,
        partition100Ms: s.partition100Ms,
        heal100Ms: s.heal100Ms,
      });
      const r = faultRows.at(-1);
      process.stderr.write(
        `faults run ${run + 1}/${runs}: lateMs p50 ${r.lateP50Ms.toFixed(2)} p99 ${r.lateP99Ms.toFixed(2)} max ${r.lateMaxMs.toFixed(2)}; first drop ${r.firstDropAfterResolveMs.toFixed(2)} ms after resolve; partition of 100 ${r.partition100Ms.toFixed(1)} ms, heal ${r.heal100Ms.toFixed(1)} ms\n`,
      );
    }
    continue;
  }
  if (kind === "testing") {
    // Each helper without evidence and with it (the default: a tcpdump per host into a ring, thrown away on a pass).
    for (const [helper, evidence] of [
      ["ip", "never"],
      ["useNetwork", "never"],
      ["useNetwork", "on-failure"],
      ["useTopology", "never"],
      ["useTopology", "on-failure"],
    ]) {
      const result = spawnSync(
        process.execPath,
        [join(root, "scripts/bench/testing-sample.mjs"), helper, String(testingRuns), evidence],
        { cwd: root, encoding: "utf8", maxBuffer: 1 << 24 },
      );
      if (result.status !== 0) throw new Error(`testing ${helper} failed (${result.status}): ${result.stderr}`);
      const { samples } = JSON.parse(result.stdout.trim().split("\n").at(-1));
      // The first test also reaps dead owners' leftovers (once per process): reported apart.
      const steady = samples.slice(1);
      testingRows.push({
        helper,
        evidence,
        tests: samples.length,
        setupMs: median(steady.map((s) => s.setupMs)),
        teardownMs: median(steady.map((s) => s.teardownMs)),
        totalMs: median(steady.map((s) => s.setupMs + s.teardownMs)),
        firstTestMs: samples[0].setupMs + samples[0].teardownMs,
      });
      process.stderr.write(
        `testing ${helper} (evidence ${evidence}): median ${testingRows.at(-1).totalMs.toFixed(1)} ms per test\n`,
      );
    }
    continue;
  }
  if (kind === "snapshot") {
    // snapshot() of a star of 10 hosts around a switch namespace (11 namespaces), as the evidence takes it.
    const result = spawnSync(process.execPath, [join(root, "scripts/bench/snapshot-sample.mjs"), "10", "20"], {
      cwd: root,
      encoding: "utf8",
      maxBuffer: 1 << 24,
      timeout: SAMPLE_TIMEOUT_MS,
    });
    if (result.status !== 0) throw new Error(`snapshot failed (${result.status ?? result.signal}): ${result.stderr}`);
    const { hosts, samples } = JSON.parse(result.stdout.trim().split("\n").at(-1));
    snapshotRows.push({ hosts, snapshots: samples.length, medianMs: median(samples), maxMs: Math.max(...samples) });
    process.stderr.write(`snapshot of ${hosts} hosts: median ${snapshotRows.at(-1).medianMs.toFixed(1)} ms\n`);
    continue;
  }
  for (const n of sizes) {
    const samples = new Map(measured.map((impl) => [impl.name, []]));
    // Alternate the implementations run by run, so that machine noise hits all alike.
    for (let run = 0; run < runs; run++) {
      for (const impl of measured) {
        const s = sample(impl, kind, n);
        samples.get(impl.name).push(s);
        process.stderr.write(
          `${kind} ${n} run ${run + 1}/${runs} ${impl.name}: ${(s.setupS + s.cleanupS).toFixed(3)} s\n`,
        );
      }
    }
    const floor = samples.get("ip-batch floor");
    const floorTotal = median(floor.map((s) => s.setupS + s.cleanupS));
    for (const impl of measured) {
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
        ...(impl.floor && samples.has(impl.floor)
          ? { ratioToOwnFloor: total / median(samples.get(impl.floor).map((s) => s.setupS + s.cleanupS)) }
          : {}),
        ...(impl.rootlessOf ? { rootlessOf: impl.rootlessOf } : {}),
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
for (const r of rows.filter((row) => row.ratioToOwnFloor !== undefined))
  console.log(
    `${r.kind} ${r.n}: ${r.impl} is ${r.ratioToOwnFloor.toFixed(2)} x the ip-batch floor of the same kernel work`,
  );
const rootlessRows = rows
  .filter((r) => r.rootlessOf)
  .map((r) => {
    const asRoot = rows.find((other) => other.kind === r.kind && other.n === r.n && other.impl === r.rootlessOf);
    if (!asRoot) return undefined;
    return {
      kind: r.kind,
      n: r.n,
      impl: r.rootlessOf,
      rootS: asRoot.totalS,
      rootlessS: r.totalS,
      ratio: r.totalS / asRoot.totalS,
    };
  })
  .filter((r) => r !== undefined);
if (rootlessRows.length > 0) {
  console.log(
    `\nrootless (uid ${ROOTLESS_UID}, rootless: true) against the same build as root, same run (target: at most 1.3):\n`,
  );
  console.log("| kind | N | build | root s | rootless s | rootless / root |");
  console.log("| --- | ---: | --- | ---: | ---: | ---: |");
  for (const r of rootlessRows)
    console.log(
      `| ${r.kind} | ${r.n} | ${r.impl} | ${r.rootS.toFixed(3)} | ${r.rootlessS.toFixed(3)} | ${r.ratio.toFixed(2)} |`,
    );
}
if (faultRows.length > 0) {
  const m = (key) => median(faultRows.map((r) => r[key])).toFixed(2);
  console.log(`\nfaults (${faultRows.length} runs, medians; ${faultRows[0].steps} steps at 10 ms on 10 hosts):\n`);
  console.log(
    "| lateMs p50 | p99 | max | first drop after partition() resolves, ms | partition 100 hosts, ms | per host, ms | heal 100 hosts, ms |",
  );
  console.log("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
  console.log(
    `| ${m("lateP50Ms")} | ${m("lateP99Ms")} | ${m("lateMaxMs")} | ${m("firstDropAfterResolveMs")} | ${m("partition100Ms")} | ${(median(faultRows.map((r) => r.partition100Ms)) / 100).toFixed(2)} | ${m("heal100Ms")} |`,
  );
}
if (testingRows.length > 0) {
  console.log(
    `\nper test, two hosts and one link (dummynet/testing, ${testingRuns} tests in a row; medians without the first test, which also reaps dead owners):\n`,
  );
  console.log(
    "| helper | evidence | setup ms | teardown + leftover check ms | total ms | x floor | evidence costs ms | first test ms | first x floor |",
  );
  console.log("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
  const floor = testingRows.find((r) => r.helper === "ip");
  for (const r of testingRows) {
    const without = testingRows.find((other) => other.helper === r.helper && other.evidence === "never");
    const extra = r.evidence === "never" || !without ? "" : (r.totalMs - without.totalMs).toFixed(1);
    const name = r.helper === "ip" ? "four ip commands (floor)" : r.helper;
    const ratio = (ms) => (floor ? (ms / floor.totalMs).toFixed(2) : "");
    console.log(
      `| ${name} | ${r.helper === "ip" ? "" : r.evidence} | ${r.setupMs.toFixed(1)} | ${r.teardownMs.toFixed(1)} | ${r.totalMs.toFixed(1)} | ${ratio(r.totalMs)} | ${extra} | ${r.firstTestMs.toFixed(1)} | ${ratio(r.firstTestMs)} |`,
    );
  }
}
if (snapshotRows.length > 0) {
  console.log("\nsnapshot() (docs/evidence.md; target: under 100 ms for 10 hosts):\n");
  console.log("| namespaces | snapshots | median ms | max ms |");
  console.log("| ---: | ---: | ---: | ---: |");
  for (const r of snapshotRows)
    console.log(`| ${r.hosts} | ${r.snapshots} | ${r.medianMs.toFixed(1)} | ${r.maxMs.toFixed(1)} |`);
}
writeFileSync(
  jsonFile,
  JSON.stringify(
    {
      date: new Date().toISOString(),
      machine,
      runs,
      rows,
      rootless: rootlessRows,
      testing: testingRows,
      faults: faultRows,
      snapshot: snapshotRows,
    },
    null,
    2,
  ) + "\n",
);
console.log(`\nJSON: ${jsonFile}`);
