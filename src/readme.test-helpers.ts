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
import { readFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { runBounded, type BoundedResult } from "./test-support/program-path.js";

export const REPO = fileURLToPath(new URL("../", import.meta.url));

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
  { name: "repository commands", lang: "sh", firstLine: "npm ci && npm run demo", where: "host", how: "checked: .ci/run (CI) runs `npm ci` and `npm test`; src/cli/demo.test.ts runs `npm run demo`" },
  { name: "install", lang: "sh", firstLine: "npm i -D dummynet", where: "host", how: "checked: the package's name; src/testing/package.test.ts installs the packed package into a scratch project" },
  { name: "sudoers line", lang: "sudoers", firstLine: "youruser ALL=(root) NOPASSWD:SETENV: /usr/sbin/ip, /usr/sbin/tc, /usr/sbin/iptables, /usr/bin/nsenter, /usr/sbin/sysctl, /usr/bin/kill, /usr/bin/true", where: "host", how: "checked: the paths are where sudo finds the programs on Debian, and they are what the library asks sudo to run" },
  { name: "main example", lang: "ts", firstLine: 'import { DummyNet } from "dummynet";', where: "lab", how: "run (netem)" },
  { name: "node:test example", lang: "ts", firstLine: "// A TCP client and server in two hosts of their own, with node:test.", where: "host", how: "= examples/testing/node-test.test.ts" },
  { name: "vitest example", lang: "ts", firstLine: "// The same test with vitest: `net` and `topology` are fixtures, removed when the test ends.", where: "host", how: "= examples/testing/vitest.test.ts" },
  { name: "plain JavaScript example", lang: "js", firstLine: "// The same test in plain JavaScript, for Node versions without `await using`:", where: "host", how: "= examples/testing/plain.test.mjs" },
  { name: "topology file", lang: "yaml", firstLine: "# yaml-language-server: $schema=../schema/topology.schema.json", where: "host", how: "= examples/star.yaml" },
  { name: "command lines", lang: "sh", firstLine: "dummynet validate examples/star.yaml", where: "lab", how: "run, line by line (impair needs netem)" },
  { name: "graph", lang: "mermaid", firstLine: "graph LR", where: "host", how: "= the output of `dummynet graph examples/star.yaml --format mermaid`" },
  { name: "topologies from code", lang: "ts", firstLine: 'import { buildTopology, loadTopology } from "dummynet";', where: "host", how: "run" },
  { name: "API imports", lang: "ts", firstLine: "import {", where: "host", how: "run: every name is exported" },
];

/** The fenced code blocks of a Markdown text (``` or ~~~ fences, at most three spaces in). */
export function codeBlocks(markdown: string): CodeBlock[] {
  const lines = markdown.split("\n");
  const blocks: CodeBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^ {0,3}(`{3,}|~{3,})\s*([^\s`]*)/.exec(lines[i]!);
    if (!open) continue;
    const fence = open[1]!;
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length; j++) {
      const close = /^ {0,3}(`{3,}|~{3,})\s*$/.exec(lines[j]!);
      if (close && close[1]![0] === fence[0] && close[1]!.length >= fence.length) break;
      body.push(lines[j]!);
    }
    if (j === lines.length) throw new Error(`README.md line ${i + 1}: a code block that is never closed`);
    blocks.push({ lang: open[2] ?? "", text: body.map((line) => `${line}\n`).join(""), line: i + 1 });
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
  const describe = (block: CodeBlock) => `the \`\`\`${block.lang} block at README.md line ${block.line} (first line ${JSON.stringify(block.text.split("\n")[0])})`;
  for (let i = 0; i < Math.max(blocks.length, README_BLOCKS.length); i++) {
    const block = blocks[i];
    const known = README_BLOCKS[i];
    if (!block) throw new Error(`README.md has no block "${known!.name}" (\`\`\`${known!.lang}, first line ${JSON.stringify(known!.firstLine)}) after its ${blocks.length} blocks; README_BLOCKS in src/readme.test-helpers.ts expects it`);
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
  const fromRepo = createRequire(join(REPO, "package.json"));
  return createRequire(fromRepo.resolve("tsx/package.json"))("esbuild") as Esbuild;
}

/**
 * Runs a TypeScript block as a user's module would run: `await using` is
 * lowered for Node.js 20, every import is kept as written (so a name the
 * package does not export fails), `dummynet*` imports resolve to the source,
 * and `node --import tsx` runs it with the repository as working directory
 * (tsx loads the source; in the kernel lab its stand-in loads the compiled
 * files). Killed after `timeoutMs` (runBounded rejects with the output).
 */
export async function runTypeScriptBlock(block: CodeBlock, timeoutMs: number): Promise<BoundedResult> {
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
  const dir = mkdtempSync(join(tmpdir(), "dummynet-readme-"));
  try {
    const file = join(dir, `readme-line-${block.line}.mjs`);
    writeFileSync(file, module);
    return await runBounded([process.execPath, "--import", "tsx", file], {}, timeoutMs, REPO);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A block's output for an assertion message. */
export function outputOf(result: Pick<BoundedResult, "code" | "signal" | "stdout" | "stderr">): string {
  return `exit ${result.code ?? result.signal}\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`;
}
