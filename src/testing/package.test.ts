/**
 * dummynet as users get it: `npm pack`, then a scratch project installs the
 * tarball. Without vitest the package loads (vitest is an optional peer);
 * with it, the README's examples (examples/testing/) run there, a node:test
 * file runs 8 tests at once and vitest runs 8 tests in 4 worker threads, all
 * building the same host names at once, each talking TCP across its own
 * link; all pass and nothing of any of their uids is left. The tarball
 * carries LICENSE and no source maps; every entry point loads through both
 * import and require() (require(esm), Node.js 20.19+), its types check with
 * tsc, and the installed bin answers --version.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { runChild, type ChildOutcome } from "./child.test-helpers.js";
import { leftovers } from "./leftovers.js";
import { machineCapabilities } from "./capabilities.js";

const REPO = fileURLToPath(new URL("../../", import.meta.url));
const EXAMPLES = join(REPO, "examples/testing");
const NPM_TIMEOUT = 600_000;
const RUN_TIMEOUT = 300_000;

const ENTRY_POINTS = [
  "dummynet",
  "dummynet/testing",
  "dummynet/vitest",
  "dummynet/schema/topology.schema.json",
  "dummynet/package.json",
];
let tarballPath = "";

const scratch = mkdtempSync(join(tmpdir(), "dummynet-scratch-"));
const env: NodeJS.ProcessEnv = {
  ...process.env,
  CI: "true",
  npm_config_fund: "false",
  npm_config_audit: "false",
  npm_config_update_notifier: "false",
};
delete env["NODE_TEST_CONTEXT"];
delete env["NODE_OPTIONS"];

async function npm(args: string[], cwd: string): Promise<ChildOutcome> {
  const result = await runChild(["npm", ...args], { cwd, env, timeout: NPM_TIMEOUT });
  assert.equal(result.code, 0, `npm ${args.join(" ")} failed:\n${result.output}`);
  return result;
}

/**
 * The uids the tests printed ("uid <n>": one line per test), each checked for
 * leftovers. Tests at once have distinct uids; one after another may reuse one.
 */
function assertNothingLeftOf(output: string, tests: number, distinct: number): number[] {
  const printed = [...output.matchAll(/^uid (\d+)$/gm)].map((match) => Number(match[1]));
  assert.equal(printed.length, tests, `expected ${tests} uid lines in:\n${output}`);
  const uids = [...new Set(printed)];
  assert.ok(uids.length >= distinct, `expected at least ${distinct} distinct uids, got ${uids.join(", ")}`);
  for (const uid of uids) assert.deepEqual(leftovers(uid), [], `uid ${uid}`);
  return uids;
}

const parallelNodeTest = `
import { describe, test } from "node:test";
import { useNetwork, waitForPort } from "dummynet/testing";
${programs()}
describe("the same host names, 8 tests at once", { concurrency: 8 }, () => {
  for (let i = 0; i < 8; i++) {
    test("test " + i, async (t) => {
      const net = useNetwork(t);
      console.log("uid " + net.uid);
      await talk(net, i);
    });
  }
});
`;

const parallelVitest = (file: number) => `
import { test } from "dummynet/vitest";
import { waitForPort } from "dummynet/testing";
${programs()}
for (let i = 0; i < 2; i++) {
  test("file ${file} test " + i, async ({ net }) => {
    console.log("uid " + net.uid);
    await talk(net, ${file} * 2 + i);
  });
}
`;

/** An echo server and client, and a test body: two hosts, a link, one round trip with the test's own message. */
function programs(): string {
  return `
const server = [process.execPath, "-e", 'require("node:net").createServer((s) => s.pipe(s)).listen(7000)'];
const client = [process.execPath, "-e", 'const s = require("node:net").connect(7000, "10.0.0.2", () => s.write(process.argv[1])); s.on("data", (d) => { console.log("echo " + d); s.end(); })'];
async function talk(net, i) {
  const [a, b] = await Promise.all([net.netnsAdd("client"), net.netnsAdd("server")]);
  await net.linkVethAdd("eth0", "eth0", { p1Namespace: a, p2Namespace: b });
  await a.addrAdd("10.0.0.1/24", "eth0");
  await b.addrAdd("10.0.0.2/24", "eth0");
  await Promise.all([a.up("eth0"), b.up("eth0")]);
  await b.runAsync(server, { daemon: true });
  await waitForPort(b, 7000, { timeout: 20000 });
  const reply = await a.run([...client, "hello-" + i], { timeout: 20000 });
  reply.match({ stdout: "echo hello-" + i });
}
`;
}

describe("the packed package in a scratch project", () => {
  before(async () => {
    const packed = await npm(["pack", "--pack-destination", scratch], REPO);
    const tarball = packed.stdout.trim().split("\n").at(-1)!;
    writeFileSync(
      join(scratch, "package.json"),
      JSON.stringify({ name: "scratch", private: true, type: "module" }, null, 2),
    );
    tarballPath = join(scratch, tarball);
    await npm(["install", tarballPath], scratch);
  });
  after(() => {
    rmSync(scratch, { recursive: true, force: true });
  });

  test("without vitest it installs and works; dummynet/vitest says what is missing", async () => {
    const check = `
      const main = await import("dummynet");
      const testing = await import("dummynet/testing");
      for (const name of ["DummyNet", "loadTopology", "buildTopology", "Lab", "TopologyError", "toMermaid", "toDot", "missingFeatures"]) if (!main[name]) throw new Error("dummynet lacks " + name);
      for (const name of ["useNetwork", "useTopology", "skipUnless", "assertNothingLeft", "waitForPort", "waitForLine"]) if (!testing[name]) throw new Error("dummynet/testing lacks " + name);
      const topology = await main.loadTopology({ text: "hosts: { a: {} }" });
      console.log("loaded " + topology.hosts.length);
      await import("dummynet/vitest").then(() => console.log("vitest entry loaded"), (error) => console.log("vitest entry: " + error.code));
    `;
    const result = await runChild([process.execPath, "--input-type=module", "-e", check], {
      cwd: scratch,
      env,
      timeout: 60_000,
    });
    assert.equal(result.code, 0, result.output);
    assert.match(result.stdout, /^loaded 1$/m);
    assert.match(result.stdout, /^vitest entry: ERR_MODULE_NOT_FOUND$/m);
  });

  test("the tarball carries LICENSE (both notices), the docs and examples the README links to, and no source maps, compiled tests, lab sweeps or test support", async () => {
    const listing = await runChild(["tar", "-tzf", tarballPath], { env, timeout: 60_000 });
    assert.equal(listing.code, 0, listing.output);
    const files = listing.stdout.trim().split("\n");
    assert.ok(files.includes("package/LICENSE"), listing.stdout);
    assert.deepEqual(
      files.filter((file) => file.endsWith(".map") || /sourceMappingURL/.test(file)),
      [],
    );
    assert.deepEqual(
      files.filter(
        (file) =>
          file.startsWith("package/dist/") && /\.(test|test-helpers|lab)\.|\/test-support\/|\/fixtures\//.test(file),
      ),
      [],
    );
    // The README links to these on unpkg; examples/testing is the README's tests, shipped as examples on purpose.
    for (const shipped of [
      "docs/api.md",
      "docs/traffic-control.md",
      "docs/cli.md",
      "examples/star.yaml",
      "examples/testing/first.test.ts",
    ])
      assert.ok(files.includes(`package/${shipped}`), `${shipped} is not in the tarball`);
    const license = readFileSync(join(scratch, "node_modules/dummynet/LICENSE"), "utf8");
    assert.match(license, /Copyright \(c\) 2026 the dummynet authors/);
    assert.match(license, /Copyright \(c\) Steinwurf ApS/);
    assert.doesNotMatch(readFileSync(join(scratch, "node_modules/dummynet/dist/index.js"), "utf8"), /sourceMappingURL/);
  });

  test("every entry point loads with import and with require(); npx dummynet --version", async () => {
    const check = (how: "import" | "require") => `
      for (const name of ${JSON.stringify(ENTRY_POINTS)}) {
        try {
          const loaded = ${how === "import" ? 'await import(name, name.endsWith(".json") ? { with: { type: "json" } } : undefined)' : "require(name)"};
          console.log(name + ": " + Object.keys(loaded.default && name.endsWith(".json") ? loaded.default : loaded).length + " keys");
        } catch (error) {
          console.log(name + ": " + error.code);
        }
      }`;
    const imported = await runChild([process.execPath, "--input-type=module", "-e", check("import")], {
      cwd: scratch,
      env,
      timeout: 60_000,
    });
    const required = await runChild([process.execPath, "--input-type=commonjs", "-e", check("require")], {
      cwd: scratch,
      env,
      timeout: 60_000,
    });
    for (const result of [imported, required]) {
      assert.equal(result.code, 0, result.output);
      for (const name of ENTRY_POINTS.filter((entry) => entry !== "dummynet/vitest"))
        assert.match(result.stdout, new RegExp(`^${name}: [1-9]\\d* keys$`, "m"), result.output);
      // vitest is an optional peer, not installed here: its entry says so.
      assert.match(result.stdout, /^dummynet\/vitest: ERR_MODULE_NOT_FOUND$/m, result.output);
    }
    const version = await runChild(["npx", "--no-install", "dummynet", "--version"], {
      cwd: scratch,
      env,
      timeout: 60_000,
    });
    assert.equal(version.code, 0, version.output);
    const manifest = JSON.parse(readFileSync(join(scratch, "node_modules/dummynet/package.json"), "utf8")) as {
      version: string;
    };
    assert.equal(version.stdout.trim(), manifest.version);
  });

  test("with vitest: the examples, 8 node:test tests at once and 8 vitest tests in 4 threads, the same names, nothing left", async () => {
    await npm(["install", "--save-dev", "vitest@3", "tsx@4"], scratch);
    mkdirSync(join(scratch, "node"));
    mkdirSync(join(scratch, "vitest"));
    for (const file of readdirSync(EXAMPLES))
      copyFileSync(join(EXAMPLES, file), join(scratch, file.startsWith("vitest") ? "vitest" : "node", file));
    writeFileSync(join(scratch, "node/parallel.test.mjs"), parallelNodeTest);
    for (let file = 0; file < 4; file++)
      writeFileSync(join(scratch, `vitest/parallel-${file}.test.mjs`), parallelVitest(file));
    const netem = (await machineCapabilities()).netem.available;

    const nodeRun = await runChild(
      [
        process.execPath,
        "--import",
        "tsx",
        "--test",
        "--test-reporter=spec",
        "--test-concurrency=3",
        "node/first.test.ts",
        "node/node-test.test.ts",
        "node/plain.test.mjs",
        "node/parallel.test.mjs",
      ],
      { cwd: scratch, env, timeout: RUN_TIMEOUT },
    );
    assert.equal(nodeRun.code, 0, nodeRun.output);
    assert.match(nodeRun.output, /ℹ pass (\d+)/);
    const nodePassed = Number(/ℹ pass (\d+)/.exec(nodeRun.output)![1]);
    const nodeSkipped = Number(/ℹ skipped (\d+)/.exec(nodeRun.output)![1]);
    assert.deepEqual([nodePassed, nodeSkipped], netem ? [13, 0] : [10, 3], nodeRun.output);
    if (!netem) assert.equal([...nodeRun.output.matchAll(/# this machine lacks netem/g)].length, 3, nodeRun.output);
    assertNothingLeftOf(nodeRun.output, 8, 8);

    const vitestRun = await runChild(
      [
        join(scratch, "node_modules/.bin/vitest"),
        "run",
        "--dir",
        "vitest",
        "--pool",
        "threads",
        "--poolOptions.threads.minThreads=4",
        "--poolOptions.threads.maxThreads=4",
        "--reporter=verbose",
        // vitest's 5 s default per test is less than building a network takes on a loaded 2-core machine.
        "--testTimeout=60000",
      ],
      { cwd: scratch, env, timeout: RUN_TIMEOUT },
    );
    assert.equal(vitestRun.code, 0, vitestRun.output);
    const testsLine = /^\s*Tests\s+(.*)$/m.exec(vitestRun.output.replace(/\x1b\[[0-9;]*m/g, ""))?.[1] ?? "";
    const passedTests = Number(/(\d+) passed/.exec(testsLine)?.[1] ?? 0);
    assert.equal(passedTests, netem ? 10 : 9, vitestRun.output);
    const vitestUids = assertNothingLeftOf(vitestRun.output.replace(/\x1b\[[0-9;]*m/g, ""), 8, 1);
    console.log(
      `# node:test: ${nodePassed} passed, ${nodeSkipped} skipped; vitest (threads, 4 workers): ${passedTests} passed, ${vitestUids.length} distinct uids for 8 tests`,
    );
  });

  test("the types of every entry point check with tsc in the scratch project", async () => {
    await npm(["install", "--save-dev", "vitest@3"], scratch);
    writeFileSync(
      join(scratch, "types.ts"),
      `import { DummyNet, loadTopology, type Topology, type TopologyDocument } from "dummynet";
import { useNetwork, waitForPort } from "dummynet/testing";
import { test } from "dummynet/vitest";
import schema from "dummynet/schema/topology.schema.json" with { type: "json" };
import manifest from "dummynet/package.json" with { type: "json" };
const net: DummyNet = new DummyNet();
const raw: TopologyDocument = { hosts: { a: {} } };
const document: Promise<Topology> = loadTopology({ text: "hosts: { a: {} }" });
const id: string = schema.$id;
const version: string = manifest.version;
export { net, raw, document, id, version, useNetwork, waitForPort, test };
`,
    );
    writeFileSync(
      join(scratch, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          noEmit: true,
          module: "NodeNext",
          moduleResolution: "NodeNext",
          target: "ES2022",
          resolveJsonModule: true,
          skipLibCheck: false,
          types: ["node"],
          typeRoots: [join(REPO, "node_modules/@types")],
        },
        files: ["types.ts"],
      }),
    );
    const tsc = await runChild([process.execPath, join(REPO, "node_modules/typescript/bin/tsc"), "-p", scratch], {
      cwd: scratch,
      env,
      timeout: 180_000,
    });
    assert.equal(tsc.code, 0, tsc.output);
  });
});
