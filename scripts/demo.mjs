// `npm run demo`: the README's main job, for real, with nothing beyond Node.js
// and iproute2 (no ping, no iperf, no iptables). Where the kernel has netem it
// brings up examples/lossy-pair.yaml (two hosts over a link with 20 ms delay
// and 10 % loss each way), elsewhere examples/star.yaml (three hosts on a
// bridge, any Linux), with the `dummynet` command; measures what crosses the
// links with `dummynet probe` (loss, duplicates, reordering, round-trip
// percentiles, TCP goodput), cuts two hosts apart with `dummynet fault
// partition` (the probe loses everything) and heals it (the probe gets
// through again), takes it all down and checks that nothing is left.
import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const cli = join(repo, "dist/cli/main.js");
const env = { ...process.env, CI: "true" };
/** Longest any one command may take (a build on a loaded machine, a probe with TCP). */
const COMMAND_TIMEOUT = 120_000;

if (!existsSync(cli)) {
  console.error("dist/cli/main.js is missing: run `npm run build` first (`npm run demo` does it before it starts)");
  process.exit(1);
}

const dummynet = (...args) =>
  spawnSync(process.execPath, [cli, ...args], { cwd: repo, encoding: "utf8", env, timeout: COMMAND_TIMEOUT });
// While `up` runs in the background this process must keep its event loop turning (spawnSync would block it):
// `up` ends as a zombie until we reap it, and `down` waits for it to be gone.
const dummynetAsync = (...args) =>
  new Promise((done) => {
    const child = spawn(process.execPath, [cli, ...args], {
      cwd: repo,
      env,
      stdio: ["ignore", "pipe", "pipe"],
      timeout: COMMAND_TIMEOUT,
    });
    const result = { stdout: "", stderr: "", status: null, signal: null };
    child.stdout.on("data", (chunk) => (result.stdout += chunk));
    child.stderr.on("data", (chunk) => (result.stderr += chunk));
    child.on("close", (status, signal) => done({ ...result, status, signal }));
  });
const show = (args) => console.log(`\n$ dummynet ${args.join(" ")}`);

// Where the kernel has netem, show what an impaired link does to traffic; elsewhere (this project's own
// machines lack sch_netem) the plain star, and say why.
const doctor = dummynet("doctor", "--json");
const netem = doctor.status === 0 && JSON.parse(doctor.stdout).netem?.available === true;
const example = netem ? "examples/lossy-pair.yaml" : "examples/star.yaml";
const probes = netem
  ? [
      ["a", "b", "--tcp"],
      ["b", "a"],
    ]
  : [
      ["h1", "h2", "--tcp"],
      ["h3", "h1"],
    ];
if (!netem)
  console.log(
    "(this kernel has no sch_netem, so the demo uses the unimpaired star; with netem it uses examples/lossy-pair.yaml)",
  );

show(["graph", example]);
process.stdout.write(dummynet("graph", example).stdout);

show(["up", example, "--json", "&"]);
const started = process.hrtime.bigint();
const up = spawn(process.execPath, [cli, "up", example, "--json"], {
  cwd: repo,
  env,
  stdio: ["ignore", "pipe", "pipe"],
});
let upStderr = "";
up.stderr.on("data", (chunk) => (upStderr += chunk));
const upEnded = new Promise((done) => up.on("close", (code, signal) => done(code ?? signal)));
const announced = await firstLine(up, COMMAND_TIMEOUT).catch((error) => {
  up.kill("SIGTERM");
  console.error(`dummynet up failed: ${error.message}\n${upStderr}`);
  process.exit(1);
});
const { uid, name, hosts } = JSON.parse(announced);
console.log(`network ${name} is up: hosts ${Object.keys(hosts).join(", ")} (owner uid ${uid})`);

let failed = false;
for (const [from, to, ...flags] of probes) {
  // By uid, not by name: another run of the same example may be up on this machine.
  const args = ["probe", String(uid), from, to, ...flags];
  show(args);
  const probe = await dummynetAsync(...args);
  process.stdout.write(probe.stdout);
  if (probe.status !== 0) {
    process.stderr.write(probe.stderr);
    console.error(`dummynet probe failed with exit status ${probe.status ?? probe.signal}`);
    failed = true;
  }
}

// A network fault on any kernel (no netem, iptables or nft): cut the first probe's two hosts apart, probe across
// the cut (every datagram lost, silently), heal, probe again (back to what the link does without the fault).
const [cutFrom, cutTo] = probes[0];
const lossOf = async (label) => {
  const args = ["probe", String(uid), cutFrom, cutTo, "--count", "50"];
  show(args);
  const probe = await dummynetAsync(...args);
  process.stdout.write(probe.stdout);
  const lost = /([\d.]+) % lost/.exec(probe.stdout)?.[1];
  if (probe.status !== 0 || lost === undefined) {
    process.stderr.write(probe.stderr);
    console.error(`dummynet probe ${label} failed with exit status ${probe.status ?? probe.signal}`);
    failed = true;
  }
  return Number(lost);
};
for (const [args, what] of [
  [["fault", String(uid), "partition", cutFrom, cutTo], "partition"],
  [["fault", String(uid), "heal"], "heal"],
]) {
  show(args);
  const fault = await dummynetAsync(...args);
  process.stdout.write(fault.stdout);
  if (fault.status !== 0) {
    process.stderr.write(fault.stderr);
    console.error(`dummynet fault ${what} failed with exit status ${fault.status ?? fault.signal}`);
    failed = true;
  }
  const lost = await lossOf(what === "partition" ? "across the partition" : "after healing");
  if (what === "partition" && lost !== 100) {
    console.error(`across the partition ${lost} % were lost, expected 100 %`);
    failed = true;
  }
  // Healed, the link is as it was: lossless on the star, lossy-pair's own 10 % each way with netem.
  if (what === "heal" && (netem ? lost >= 100 : lost !== 0)) {
    console.error(`after healing ${lost} % were lost, expected ${netem ? "the link's own loss" : "0 %"}`);
    failed = true;
  }
}

// From another terminal, as a user would: `down` asks the holder to remove everything; `up` then exits 0.
show(["down", String(uid)]);
const down = await dummynetAsync("down", String(uid));
process.stdout.write(down.stdout);
if (down.status !== 0) {
  process.stderr.write(down.stderr);
  console.error(`dummynet down failed with exit status ${down.status ?? down.signal}`);
  failed = true;
}
const upStatus = await Promise.race([
  upEnded,
  new Promise((done) => setTimeout(() => done("still running"), COMMAND_TIMEOUT)),
]);
if (upStatus !== 0) {
  console.error(`dummynet up ended with ${upStatus} instead of 0 after down:\n${upStderr}`);
  if (upStatus === "still running") up.kill("SIGKILL");
  failed = true;
}
const seconds = Number(process.hrtime.bigint() - started) / 1e9;

const prefix = `d-${base58(uid)}-`;
const namespaces = lines(["ip", "netns", "list"]).filter((line) => line.startsWith(prefix));
const links = lines(["ip", "-o", "link", "show"]).filter((line) => line.split(": ")[1]?.startsWith(prefix));
console.log(`\nbuilt, probed, partitioned, healed and removed network "${name}" in ${seconds.toFixed(2)} s`);
console.log(`left on this machine: ${namespaces.length} namespaces, ${links.length} links (${prefix}*)`);
process.exit(failed || namespaces.length + links.length > 0 ? 1 : 0);

/** The lines a listing prints; a listing that fails ends the demo (it must never read as "nothing left"). */
function lines(argv) {
  const result = spawnSync(argv[0], argv.slice(1), { encoding: "utf8", timeout: 10_000 });
  if (result.status !== 0) {
    console.error(
      `cannot check what is left: ${argv.join(" ")} failed (${result.error?.message ?? result.stderr.trim() ?? result.status})`,
    );
    process.exit(1);
  }
  return result.stdout.split("\n").filter(Boolean);
}

/** Resolves with the first line the child prints, rejects if it ends or stays silent for `timeoutMs`. */
function firstLine(child, timeoutMs) {
  return new Promise((resolveLine, reject) => {
    let text = "";
    const timer = setTimeout(() => reject(new Error(`no output within ${timeoutMs} ms`)), timeoutMs);
    child.stdout.on("data", (chunk) => {
      text += chunk;
      const newline = text.indexOf("\n");
      if (newline >= 0) {
        clearTimeout(timer);
        resolveLine(text.slice(0, newline));
      }
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`it exited (${code ?? signal}) before announcing the network`));
    });
  });
}

function base58(n) {
  const alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
  let text = "";
  do {
    text = alphabet[n % 58] + text;
    n = Math.floor(n / 58);
  } while (n > 0);
  return text;
}
