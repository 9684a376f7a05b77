/**
 * Test support for README.md: its fenced code blocks, and the catalogue that
 * says how the suite runs or checks each one (src/readme.test.ts on the host,
 * src/readme.lab.test.ts where the kernel has netem). A block the catalogue
 * does not know fails the host test, so no block can be added unrun.
 *
 * README.md is read at run time from the repository root: in the kernel lab
 * the test files are bundled, and the checkout's other files are links beside
 * the build.
 */
import { spawn, type ChildProcess } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { runBounded, type BoundedResult } from "./test-support/program-path.js";
import { assertNothingLeft } from "./testing/leftovers.js";
import { SUDOERS_LINE } from "./system/privilege.js";

/**
 * The repository: the nearest directory above this module with a
 * package.json (the kernel lab bundles these helpers into each test file,
 * wherever it sits under src/, so a fixed "../" would not do).
 */
export const REPO = repositoryAbove(fileURLToPath(new URL(".", import.meta.url)));

function repositoryAbove(dir: string): string {
  for (let at = dir; ; at = dirname(at)) {
    if (existsSync(join(at, "package.json"))) return `${at.replace(/\/$/, "")}/`;
    if (dirname(at) === at) throw new Error(`no package.json in ${dir} or any directory above it`);
  }
}

export interface CodeBlock {
  /** The info string's first word (`ts`, `sh`, ...), "" when there is none. */
  lang: string;
  /** The lines between the fences, each ending with a newline. */
  text: string;
  /** Line of the opening fence in README.md, from 1. */
  line: number;
}

/** How the suite covers a block: `run` for real, or `check` it against what the suite runs. */
export interface KnownBlock {
  name: string;
  lang: string;
  /** The block's first line, exactly: what tells the blocks apart. */
  firstLine: string;
  /** Which test file covers it: the lab one needs netem. */
  where: "host" | "lab";
  how: string;
}

/** Every block of README.md, in order. */
export const README_BLOCKS: readonly KnownBlock[] = [
  {
    name: "repository commands",
    lang: "sh",
    firstLine: "npm ci && npm run demo",
    where: "host",
    how: "checked: .ci/run (CI) runs `npm ci` and `npm test`; src/cli/demo.test.ts runs `npm run demo`",
  },
  {
    name: "first test",
    lang: "ts",
    firstLine: "// Two hosts, a link with 20 ms delay and 1 % loss each way, an echo server and a client.",
    where: "host",
    how: "= examples/testing/first.test.ts",
  },
  {
    name: "install",
    lang: "sh",
    firstLine: "npm i -D dummynet",
    where: "host",
    how: "checked: the package's name; src/testing/package.test.ts installs the packed package into a scratch project",
  },
  {
    name: "sudoers line",
    lang: "sudoers",
    firstLine: SUDOERS_LINE,
    where: "host",
    how: "checked: the paths are where sudo finds the programs on Debian, and they are what the library asks sudo to run",
  },
  {
    name: "main example",
    lang: "ts",
    firstLine: 'import { DummyNet } from "dummynet";',
    where: "lab",
    how: "run (netem)",
  },
  {
    name: "node:test example",
    lang: "ts",
    firstLine: "// A TCP client and server in two hosts of their own, with node:test.",
    where: "host",
    how: "= examples/testing/node-test.test.ts",
  },
  {
    name: "vitest example",
    lang: "ts",
    firstLine: "// The same test with vitest: `net` and `topology` are fixtures, removed when the test ends.",
    where: "host",
    how: "= examples/testing/vitest.test.ts",
  },
  {
    name: "plain JavaScript example",
    lang: "js",
    firstLine: "// The same test in plain JavaScript, for Node versions without `await using`:",
    where: "host",
    how: "= examples/testing/plain.test.mjs",
  },
  {
    name: "topology file",
    lang: "yaml",
    firstLine: "# yaml-language-server: $schema=../schema/topology.schema.json",
    where: "host",
    how: "= examples/star.yaml",
  },
  {
    name: "command lines",
    lang: "sh",
    firstLine: "dummynet validate examples/star.yaml",
    where: "host",
    how: "run, line by line, in a sandbox (runCommandLines)",
  },
  {
    name: "netem command lines",
    lang: "sh",
    firstLine: "dummynet up examples/lossy-pair.yaml --detach --wait   # two hosts, 20 ms and 10 % loss each way",
    where: "lab",
    how: "run, line by line, in a sandbox (runCommandLines)",
  },
  {
    name: "graph",
    lang: "mermaid",
    firstLine: "graph LR",
    where: "host",
    how: "= the output of `dummynet graph examples/star.yaml --format mermaid`",
  },
  {
    name: "topologies from code",
    lang: "ts",
    firstLine: 'import { buildTopology, loadTopology } from "dummynet";',
    where: "host",
    how: "run",
  },
  {
    name: "faults topology file",
    lang: "yaml",
    firstLine: "# yaml-language-server: $schema=../schema/topology.schema.json",
    where: "host",
    how: "= examples/partition.yaml (run by src/topology/partition-example.test.ts)",
  },
  { name: "API imports", lang: "ts", firstLine: "import {", where: "host", how: "run: every name is exported" },
];

/** The fenced code blocks of a Markdown text (``` or ~~~ fences, at most three spaces in). */
export function codeBlocks(markdown: string): CodeBlock[] {
  const lines = markdown.split("\n");
  const blocks: CodeBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^ {0,3}(`{3,}|~{3,})\s*([^\s`]*)/.exec(lines[i]);
    if (!open) continue;
    const fence = open[1];
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length; j++) {
      const close = /^ {0,3}(`{3,}|~{3,})\s*$/.exec(lines[j]);
      if (close && close[1][0] === fence[0] && close[1].length >= fence.length) break;
      body.push(lines[j]);
    }
    if (j === lines.length) throw new Error(`README.md line ${i + 1}: a code block that is never closed`);
    blocks.push({
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- an optional group that did not match is undefined
      lang: open[2] ?? "",
      text: body.map((line) => `${line}\n`).join(""),
      line: i + 1,
    });
    i = j;
  }
  return blocks;
}

export function readmeText(): string {
  return readFileSync(join(REPO, "README.md"), "utf8");
}

/**
 * README.md's blocks matched to the catalogue, in order; throws naming the
 * first block that the catalogue does not expect (a new block, a changed
 * first line, a block moved) and any the README lacks.
 */
export function catalogued(markdown = readmeText()): Map<string, CodeBlock> {
  const blocks = codeBlocks(markdown);
  const found = new Map<string, CodeBlock>();
  const describe = (block: CodeBlock) =>
    `the \`\`\`${block.lang} block at README.md line ${block.line} (first line ${JSON.stringify(block.text.split("\n")[0])})`;
  for (let i = 0; i < Math.max(blocks.length, README_BLOCKS.length); i++) {
    const block = blocks.at(i);
    const known = README_BLOCKS.at(i);
    if (!block) {
      if (!known) break;
      throw new Error(
        `README.md has no block "${known.name}" (\`\`\`${known.lang}, first line ${JSON.stringify(known.firstLine)}) after its ${blocks.length} blocks; README_BLOCKS in src/readme.test-helpers.ts expects it`,
      );
    }
    if (!known || block.lang !== known.lang || !block.text.startsWith(`${known.firstLine}\n`)) {
      throw new Error(
        `${describe(block)} is not the block the suite runs or checks there (${known ? `"${known.name}": \`\`\`${known.lang}, first line ${JSON.stringify(known.firstLine)}` : "none"}). ` +
          "Every README block must be run or checked: add it to README_BLOCKS in src/readme.test-helpers.ts and to src/readme.test.ts or src/readme.lab.test.ts.",
      );
    }
    found.set(known.name, block);
  }
  return found;
}

export function readmeBlock(name: string): CodeBlock {
  const block = catalogued().get(name);
  if (!block) throw new Error(`README_BLOCKS has no block named "${name}"`);
  return block;
}

/** Entry points of the package, from source (as the kernel lab's bundles and examples/testing's tsconfig give them). */
const PACKAGE_SOURCES: Readonly<Record<string, string>> = {
  dummynet: "src/index.ts",
  "dummynet/testing": "src/testing/index.ts",
  "dummynet/vitest": "src/testing/vitest.ts",
};

interface Esbuild {
  transform(code: string, options: Record<string, unknown>): Promise<{ code: string }>;
}

/**
 * esbuild, found the way tsx finds it (it comes with tsx; in the kernel lab
 * the tsx stand-in sits where tsx was, and esbuild beside it).
 */
function esbuild(): Esbuild {
  // A path inside node_modules/tsx (not its package.json's "exports", which the stand-in limits): esbuild resolves from there.
  return createRequire(join(REPO, "node_modules", "tsx", "index.js"))("esbuild") as Esbuild;
}

/**
 * Writes a TypeScript block to `dir` as a user's module would run: `await
 * using` is lowered for Node.js 20, every import is kept as written (so a
 * name the package does not export fails), and `dummynet*` imports resolve
 * to the source. Resolves with the file's path (run it with `node --import
 * tsx` from the repository: tsx loads the source; in the kernel lab its
 * stand-in loads the compiled files).
 */
export async function writeTypeScriptBlock(block: CodeBlock, dir: string): Promise<string> {
  const { code } = await esbuild().transform(block.text, {
    loader: "ts",
    format: "esm",
    platform: "node",
    target: "node20",
    sourcefile: `README.md:${block.line}`,
    tsconfigRaw: { compilerOptions: { verbatimModuleSyntax: true } },
  });
  // esbuild prints every import as `from "specifier"`.
  const module = code.replace(/(\bfrom\s*)"(dummynet(?:\/[a-z]+)?)"/g, (whole, from: string, specifier: string) => {
    const source = PACKAGE_SOURCES[specifier];
    return source ? `${from}${JSON.stringify(pathToFileURL(join(REPO, source)).href)}` : whole;
  });
  const file = join(dir, `readme-line-${block.line}.mjs`);
  writeFileSync(file, module);
  return file;
}

/**
 * Runs a TypeScript block (see writeTypeScriptBlock) with `node --import
 * tsx`, the repository as working directory. Killed after `timeoutMs`
 * (runBounded rejects with the output).
 */
export async function runTypeScriptBlock(block: CodeBlock, timeoutMs: number): Promise<BoundedResult> {
  const dir = mkdtempSync(join(tmpdir(), "dummynet-readme-"));
  try {
    const file = await writeTypeScriptBlock(block, dir);
    return await runBounded([process.execPath, "--import", "tsx", file], {}, timeoutMs, REPO);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A block's output for an assertion message. */
export function outputOf(result: Pick<BoundedResult, "code" | "signal" | "stdout" | "stderr">): string {
  return `exit ${result.code ?? result.signal}\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`;
}

/** Longest one command line may take (`probe --tcp` and `run` build networks; the emulated lab starts Node.js in seconds). */
const LINE_TIMEOUT_MS = 300_000;

interface Sandbox {
  pid: number;
  /** The argv that runs `argv` inside the sandbox, in the repository. */
  argv(argv: readonly string[]): string[];
  /** Pids of the processes in the sandbox's network namespace, its holder aside. */
  processes(): number[];
}

/**
 * A process that holds a new network namespace and mount namespace with a
 * tmpfs on /run (so /run/netns and /run/dummynet are its own), except that
 * /run/dummynet/owners is the machine's: owners are judged alive or dead by
 * the same records everywhere. Bounded to an hour; the caller kills it.
 */
async function startSandbox(work: string): Promise<{ sandbox: Sandbox; holder: ChildProcess }> {
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
  const holder = spawn("unshare", ["--mount", "--net", "--propagation", "private", "--", "sh", "-c", script], {
    stdio: ["ignore", "pipe", "pipe"],
    timeout: 3_600_000,
    killSignal: "SIGKILL",
  });
  let output = "";
  holder.stderr.setEncoding("utf8").on("data", (text: string) => (output += text));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`the sandbox did not start within 60 s:\n${output}`));
    }, 60_000);
    holder.stdout.setEncoding("utf8").on("data", (text: string) => {
      output += text;
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
  const pid = holder.pid!;
  const net = readlinkSync(`/proc/${pid}/ns/net`);
  const sandbox: Sandbox = {
    pid,
    argv: (argv) => ["nsenter", "-t", String(pid), "-m", "-n", `--wd=${REPO}`, "--", ...argv],
    processes: () =>
      readdirSync("/proc")
        .filter((entry) => /^\d+$/.test(entry) && Number(entry) !== pid)
        .filter((entry) => {
          try {
            return readlinkSync(`/proc/${entry}/ns/net`) === net;
          } catch {
            return false; // ended meanwhile
          }
        })
        .map(Number),
  };
  return { sandbox, holder };
}

/** Starts `argv` in its own process group (so a signal reaches it as Ctrl-C would), bounded; `done` resolves when it ends. */
function startBounded(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
): { child: ChildProcess; output: { stdout: string; stderr: string }; done: Promise<BoundedResult> } {
  const child = spawn(argv[0], argv.slice(1), {
    env: { ...process.env, CI: "true", ...env },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
    timeout: LINE_TIMEOUT_MS,
    killSignal: "SIGKILL",
  });
  const output = { stdout: "", stderr: "" };
  child.stdout.setEncoding("utf8").on("data", (text: string) => (output.stdout += text));
  child.stderr.setEncoding("utf8").on("data", (text: string) => (output.stderr += text));
  const done = new Promise<BoundedResult>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) => {
      resolve({ pid: child.pid!, code, signal, ...output });
    });
  });
  return { child, output, done };
}

async function waitFor(condition: () => boolean, timeoutMs: number, what: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  // Another process's state gives no single event to wait on here; look again every 100 ms.
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`no ${what()} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** One line on stderr per command line done, so that a slow lab run shows how far it got. */
function progress(line: string, started: number): void {
  process.stderr.write(
    `# README command line done in ${((Date.now() - started) / 1000).toFixed(1)} s: ${line.replace(/\s+#.*$/, "")}\n`,
  );
}

/**
 * Runs a block of `dummynet` command lines one by one, in order, with bash,
 * each bounded, and checks that each ends as the README says: status 0; an
 * `up` that holds the terminal is ended with Ctrl-C once its network is up
 * (status 130); `up --detach` prints the network's name. Then nothing may be
 * left: no namespace, d- link, network record or process in the sandbox, and
 * no object of any owner the lines had (cgroups and owner records are the
 * machine's). Resolves with each line's standard output.
 *
 * The lines run in a sandbox of their own (see startSandbox), as on a machine
 * where theirs is the only network: `dummynet exec h1` and `down star` mean
 * it even while other tests have theirs up, and `dummynet cleanup` cannot
 * mistake another test's network for a dead one. `dummynet` is the command
 * from source, as the package's bin would be.
 */
export async function runCommandLines(block: CodeBlock): Promise<{ line: string; stdout: string }[]> {
  const lines = block.text.split("\n").filter((line) => line.trim() !== "");
  const work = mkdtempSync(join(tmpdir(), "dummynet-readme-cli-"));
  const bin = join(work, "bin");
  const pids = join(work, "pids");
  mkdirSync(bin);
  // Each pid it notes is that process's first owner uid.
  writeFileSync(
    join(bin, "dummynet"),
    `#!/bin/sh\necho $$ >> '${pids}'\nexec '${process.execPath}' --import tsx '${join(REPO, "src/cli/main.ts")}' "$@"\n`,
    { mode: 0o755 },
  );
  const env = { PATH: `${bin}:${process.env["PATH"]}` };
  const uids = new Set<number>();
  const outputs: { line: string; stdout: string }[] = [];
  const { sandbox, holder } = await startSandbox(work);
  try {
    for (const line of lines) {
      const t0 = Date.now();
      const started = startBounded(sandbox.argv(["bash", "-c", line]), env);
      const describe = (result: BoundedResult) =>
        `\`${line}\` (README.md, the block at line ${block.line}): ${outputOf(result)}`;
      if (/^dummynet up (?!.*--detach)/.test(line)) {
        await waitFor(
          () => /^network \S+ is up/m.test(started.output.stdout) || started.child.exitCode !== null,
          LINE_TIMEOUT_MS,
          () => `"network ... is up" from \`${line}\`: ${JSON.stringify(started.output)}`,
        );
        process.kill(-started.child.pid!, "SIGINT");
        const result = await started.done;
        assert.equal(result.code, 130, describe(result));
        outputs.push({ line, stdout: result.stdout });
      } else {
        const result = await started.done;
        assert.equal(result.code, 0, describe(result));
        const file = /^dummynet up (\S+\.yaml) .*--detach/.exec(line)?.[1];
        if (file)
          assert.equal(
            result.stdout,
            `${/^name: (\S+)$/m.exec(readFileSync(join(REPO, file), "utf8"))![1]}\n`,
            `prints the network's name: ${describe(result)}`,
          );
        if (/^dummynet inspect .*--json/.test(line)) uids.add((JSON.parse(result.stdout) as { uid: number }).uid);
        outputs.push({ line, stdout: result.stdout });
      }
      progress(line, t0);
    }
    for (const pid of readFileSync(pids, "utf8").trim().split("\n")) uids.add(Number(pid));
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
    const left = [
      ...look.stdout.split("\n").filter(Boolean),
      ...sandbox
        .processes()
        .map((pid) => `process ${pid}: ${readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ")}`),
    ];
    assert.deepEqual(left, [], "left in the sandbox");
    for (const uid of uids) assertNothingLeft(uid);
    return outputs;
  } finally {
    // After a failure: what still runs in the sandbox (a background `up`) removes its network on SIGTERM; then the holder goes.
    const running = sandbox.processes();
    for (const pid of running) process.kill(pid, "SIGTERM");
    await waitFor(
      () => sandbox.processes().length === 0,
      60_000,
      () => "end of the sandbox's processes",
    ).catch(() => {
      for (const pid of sandbox.processes()) process.kill(pid, "SIGKILL");
    });
    holder.kill("SIGKILL");
    rmSync(work, { recursive: true, force: true });
  }
}
