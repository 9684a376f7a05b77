// `npm run demo`: the README's main job, for real. Where the kernel has netem
// it builds examples/lossy-pair.yaml (two hosts over a link with 20 ms delay
// and 10 % loss each way), elsewhere examples/star.yaml (three hosts on a
// bridge, any Linux), with the `dummynet` command; lets its programs ping
// across, tears it all down, and reports what crossed the links.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const cli = join(repo, "dist/cli/main.js");

if (!existsSync(cli)) {
  console.error("dist/cli/main.js is missing: run `npm run build` first (npm ci does it)");
  process.exit(1);
}

const dummynet = (...args) => spawnSync(process.execPath, [cli, ...args], { cwd: repo, encoding: "utf8", env: { ...process.env, CI: "true" } });

// Where the kernel has netem, show what an impaired link does to traffic; elsewhere (this project's own
// machines lack sch_netem) the plain star, and say why.
const doctor = dummynet("doctor", "--json");
const netem = doctor.status === 0 && JSON.parse(doctor.stdout).netem?.available === true;
const example = netem ? "examples/lossy-pair.yaml" : "examples/star.yaml";
if (!netem) console.log("(this kernel has no sch_netem, so the demo runs the unimpaired star; with netem it runs examples/lossy-pair.yaml)\n");


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
const leftCount = left.filter((line) => line.startsWith(`d-${base58(report.uid)}-`)).length;
console.log(`namespaces it left on this machine: ${leftCount}`);
process.exit(leftCount > 0 ? 1 : report.exitCode);

function base58(n) {
  const alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
  let text = "";
  do {
    text = alphabet[n % 58] + text;
    n = Math.floor(n / 58);
  } while (n > 0);
  return text;
}
