// `npm run demo`: the README's main job, for real. Builds examples/star.yaml
// (three hosts on a bridge; runs on any Linux, no netem needed) with the
// `dummynet` command, lets its programs ping across the bridge, tears it all
// down, and prints a short report of what crossed the links.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const cli = join(repo, "dist/cli/main.js");
const example = "examples/star.yaml";

if (!existsSync(cli)) {
  console.error("dist/cli/main.js is missing: run `npm run build` first (npm ci does it)");
  process.exit(1);
}

const dummynet = (...args) => spawnSync(process.execPath, [cli, ...args], { cwd: repo, encoding: "utf8", env: { ...process.env, CI: "true" } });

console.log(`$ dummynet graph ${example}`);
process.stdout.write(dummynet("graph", example).stdout);

console.log(`\n$ dummynet run ${example}`);
const started = process.hrtime.bigint();
const run = dummynet("run", example, "--json");
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
if (run.status !== 0 || !run.stdout.trim()) {
  process.stderr.write(run.stderr);
  console.error(`dummynet run failed with exit status ${run.status}`);
  process.exit(run.status || 1);
}
const report = JSON.parse(run.stdout);
for (const job of report.jobs) {
  const target = /PING (\S+)/.exec(job.stdout)?.[1] ?? "?";
  const counts = /(\d+) packets transmitted, (\d+) received.*?([\d.]+)% packet loss/.exec(job.stdout);
  const rtt = /= ([\d.]+)\/([\d.]+)\/([\d.]+)/.exec(job.stdout);
  console.log(
    `  ${job.host} -> ${target}: ${counts ? `${counts[1]} echo requests sent, ${counts[2]} answered (${counts[3]}% lost)` : "no statistics"}` +
      (rtt ? `, round trip min/avg/max ${rtt[1]}/${rtt[2]}/${rtt[3]} ms` : ""),
  );
}
console.log(`\nbuilt, used and removed network "${report.name}" in ${seconds.toFixed(2)} s; exit status ${report.exitCode}`);
const left = spawnSync("ip", ["netns", "list"], { encoding: "utf8" }).stdout.split("\n").filter(Boolean);
console.log(`namespaces it left on this machine: ${left.filter((line) => line.startsWith(`d-${base58(report.uid)}-`)).length}`);
process.exit(report.exitCode);

function base58(n) {
  const alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
  let text = "";
  do {
    text = alphabet[n % 58] + text;
    n = Math.floor(n / 58);
  } while (n > 0);
  return text;
}
