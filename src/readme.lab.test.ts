// requires: netem
/**
 * The README blocks that need netem (see README_BLOCKS in
 * readme.test-helpers.ts): the main example runs and its probe sees the
 * delay and rate it set; the command lines run one by one, in order, each
 * ending as the README says (0; the `up` that holds the terminal ends with
 * Ctrl-C, 130), and nothing is left.
 *
 * The command lines run in a sandbox of their own (a network namespace and a
 * mount namespace with its own /run, sharing only the owner records), as on a
 * machine where this is the only network: `dummynet exec h1` and `down star`
 * then mean this network even while other tests have theirs up, and
 * `dummynet cleanup` cannot mistake another test's network for a dead one.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { outputOf, readmeBlock, REPO, runTypeScriptBlock } from "./readme.test-helpers.js";
import { runBounded, type BoundedResult } from "./test-support/program-path.js";
import { assertNothingLeft } from "./test-support/leftovers.js";

test("the main example runs: the probe sees the netem delay and rate it set, the web client gets its answer", { timeout: 420_000 }, async () => {
  const result = await runTypeScriptBlock(readmeBlock("main example"), 360_000);
  assert.equal(result.code, 0, outputOf(result));
  const printed = /^([\d.]+) % lost, p50 ([\d.]+) ms, ([\d.]+) Mbit\/s$/m.exec(result.stdout);
  assert.ok(printed, outputOf(result));
  const [, , p50, goodput] = printed.map(Number);
  // 20 ms (jitter 2) on what the client sends: no round trip can be shorter; 10 Mbit/s caps what it sends.
  assert.ok(p50! >= 18, `p50 ${p50} ms under the 20 ms delay:\n${outputOf(result)}`);
  assert.ok(goodput! > 0 && goodput! <= 10.5, `goodput ${goodput} Mbit/s through a 10 Mbit/s link:\n${outputOf(result)}`);
  assertNothingLeft(result.pid);
});

/** Longest one command line may take (the emulated lab starts Node.js in seconds; `probe --tcp` and `run` build networks). */
const LINE_TIMEOUT_MS = 300_000;

interface Sandbox {
  pid: number;
  /** Runs `argv` inside the sandbox, in the repository, with `env` added. */
  argv(argv: readonly string[]): string[];
  end(): void;
}

/**
 * A process that holds a new network namespace and mount namespace with a
 * tmpfs on /run (so /run/netns and /run/dummynet are its own), except that
 * /run/dummynet/owners is the machine's: owners are judged alive or dead by
 * the same records everywhere. Ends with end(), or after an hour at most.
 */
async function startSandbox(work: string): Promise<Sandbox> {
  const owners = "/run/dummynet/owners";
  mkdirSync(owners, { recursive: true, mode: 0o755 });
  const keep = join(work, "owners");
  mkdirSync(keep);
  const script = [
    "set -e",
    `mount --bind ${owners} ${keep}`,
    "mount -t tmpfs -o mode=0755 dummynet-readme /run",
    `mkdir -p ${owners}`,
    `mount --move ${keep} ${owners}`,
    "echo ready",
    "exec sleep 3600",
  ].join("\n");
  const holder = spawn("unshare", ["--mount", "--net", "--propagation", "private", "--", "sh", "-c", script], { stdio: ["ignore", "pipe", "pipe"], timeout: 3_600_000 });
  let output = "";
  holder.stdout.setEncoding("utf8").on("data", (text: string) => (output += text));
  holder.stderr.setEncoding("utf8").on("data", (text: string) => (output += text));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the sandbox did not start within 30 s:\n${output}`)), 30_000);
    holder.stdout.on("data", () => {
      if (output.includes("ready\n")) {
        clearTimeout(timer);
        resolve();
      }
    });
    holder.on("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`the sandbox ended (${code ?? signal}) before it was ready:\n${output}`));
    });
  });
  return {
    pid: holder.pid!,
    argv: (argv) => ["nsenter", "-t", String(holder.pid), "-m", "-n", `--wd=${REPO}`, "--", ...argv],
    end: () => holder.kill("SIGKILL"),
  };
}

/** Starts `argv` in its own process group (so a signal reaches it as Ctrl-C would), bounded; resolves when it ends. */
function startBounded(argv: readonly string[], env: NodeJS.ProcessEnv): { child: ChildProcess; output: { stdout: string; stderr: string }; done: Promise<BoundedResult> } {
  const child = spawn(argv[0]!, argv.slice(1), { env: { ...process.env, CI: "true", ...env }, stdio: ["ignore", "pipe", "pipe"], detached: true, timeout: LINE_TIMEOUT_MS, killSignal: "SIGKILL" });
  const output = { stdout: "", stderr: "" };
  child.stdout!.setEncoding("utf8").on("data", (text: string) => (output.stdout += text));
  child.stderr!.setEncoding("utf8").on("data", (text: string) => (output.stderr += text));
  const done = new Promise<BoundedResult>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ pid: child.pid!, code, signal, ...output }));
  });
  return { child, output, done };
}

async function waitFor(condition: () => boolean, timeoutMs: number, what: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  // Another process's output gives no single event to wait on here; look again every 100 ms.
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`no ${what()} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

test("the command lines run in order against examples/star.yaml, each as the README says, and nothing is left", { timeout: 3_000_000 }, async () => {
  const lines = readmeBlock("command lines").text.split("\n").filter((line) => line.trim() !== "");
  const work = mkdtempSync(join(tmpdir(), "dummynet-readme-cli-"));
  // `dummynet` as the package's bin would be, from source; it notes each pid (each process's first owner uid).
  const bin = join(work, "bin");
  const pids = join(work, "pids");
  mkdirSync(bin);
  writeFileSync(join(bin, "dummynet"), `#!/bin/sh\necho $$ >> '${pids}'\nexec '${process.execPath}' --import tsx '${join(REPO, "src/cli/main.ts")}' "$@"\n`, { mode: 0o755 });
  const env = { PATH: `${bin}:${process.env["PATH"]}` };
  const uids = new Set<number>();
  const sandbox = await startSandbox(work);
  try {
    for (const line of lines) {
      const started = startBounded(sandbox.argv(["bash", "-c", line]), env);
      const describe = (result: BoundedResult) => `\`${line}\`: ${outputOf(result)}`;
      if (/^dummynet up (?!.*--detach)/.test(line)) {
        // It holds the terminal until Ctrl-C: wait until it says the network is up, then press it.
        await waitFor(() => /network star.* is up/.test(started.output.stdout) || started.child.exitCode !== null, LINE_TIMEOUT_MS, () => `"network star is up" from \`${line}\`: ${JSON.stringify(started.output)}`);
        process.kill(-started.child.pid!, "SIGINT");
        const result = await started.done;
        assert.equal(result.code, 130, describe(result));
        continue;
      }
      const result = await started.done;
      assert.equal(result.code, 0, describe(result));
      if (/--detach/.test(line)) assert.equal(result.stdout, "star\n", `prints the network's name: ${describe(result)}`);
      if (/^dummynet inspect .*--json/.test(line)) uids.add((JSON.parse(result.stdout) as { uid: number }).uid);
    }
    for (const pid of readFileSync(pids, "utf8").trim().split("\n")) uids.add(Number(pid));

    // Inside the sandbox: no namespace, no d- link, no network record or log; no process in its network namespace but its holder.
    const look = await runBounded(
      sandbox.argv([
        "sh",
        "-c",
        "ls -A /run/netns 2>/dev/null | sed 's/^/namespace /'; ip -o link show | awk -F': ' '$2 ~ /^d-/ {print \"link \" $2}'; ls -A /run/dummynet | grep -v '^owners$' | sed 's/^/state /'",
      ]),
      {},
      60_000,
    );
    assert.equal(look.code, 0, outputOf(look));
    const sandboxNet = readlinkSync(`/proc/${sandbox.pid}/ns/net`);
    const processes = readdirSync("/proc")
      .filter((entry) => /^\d+$/.test(entry) && Number(entry) !== sandbox.pid)
      .filter((pid) => {
        try {
          return readlinkSync(`/proc/${pid}/ns/net`) === sandboxNet;
        } catch {
          return false; // ended meanwhile
        }
      })
      .map((pid) => `process ${pid}`);
    assert.deepEqual([...look.stdout.split("\n").filter(Boolean), ...processes], [], `left in the sandbox:\n${look.stdout}${look.stderr}`);
    // And outside it (cgroups and owner records are the machine's).
    for (const uid of uids) assertNothingLeft(uid);
  } finally {
    sandbox.end();
    rmSync(work, { recursive: true, force: true });
  }
});
