/**
 * Every code block of README.md is run or checked (the catalogue is
 * README_BLOCKS in readme.test-helpers.ts; the blocks that need netem run in
 * readme.lab.test.ts). Here, on the host: the repository commands are the
 * ones CI and the demo test run; the install line names this package; the
 * sudoers line names, at the paths sudo finds them on Debian, exactly the
 * programs the library asks sudo to run (recorded through a stand-in sudo
 * while a network is built and torn down); the testing examples and the
 * topology file are the files the suite runs; the command lines run in order
 * (in a sandbox, see runCommandLines); the Mermaid drawing is what
 * `dummynet graph` prints; the topology-from-code and API blocks run.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { accessSync, constants, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { pathToFileURL } from "node:url";
import {
  catalogued,
  codeBlocks,
  outputOf,
  readmeBlock,
  readmeText,
  README_BLOCKS,
  REPO,
  runCommandLines,
  runTypeScriptBlock,
} from "./readme.test-helpers.js";
import { runCli } from "./cli/cli.test-helpers.js";
import { SUDOERS_LINE } from "./system/privilege.js";
import { runBounded } from "./test-support/program-path.js";
import { assertNothingLeft } from "./testing/leftovers.js";

const read = (path: string) => readFileSync(join(REPO, path), "utf8");

test("every block of README.md is one the suite runs or checks, in order", () => {
  const blocks = catalogued();
  assert.equal(blocks.size, codeBlocks(readmeText()).length);
  // Each catalogued block is taken up by the test file that README_BLOCKS names.
  const files = { host: read("src/readme.test.ts"), lab: read("src/readme.lab.test.ts") };
  for (const known of README_BLOCKS)
    assert.ok(
      files[known.where].includes(`readmeBlock(${JSON.stringify(known.name)})`),
      `src/readme.${known.where === "lab" ? "lab." : ""}test.ts does not take up "${known.name}"`,
    );
});

test("a block that is neither run nor checked fails the catalogue, naming its line", () => {
  const text = readmeText();
  const at = text.indexOf("## Install");
  const added = `${text.slice(0, at)}\`\`\`sh\nrm -rf /tmp/something\n\`\`\`\n\n${text.slice(at)}`;
  const line = added.slice(0, at).split("\n").length;
  assert.throws(() => catalogued(added), new RegExp(`README\\.md line ${line} .*add it to README_BLOCKS`));
  assert.throws(() => catalogued(text.replace("```mermaid\n", "```\n")), /block at README\.md line \d+ .*"graph"/);
  assert.throws(() => codeBlocks("```sh\nnever closed\n"), /line 1: a code block that is never closed/);
});

test("the repository commands are the ones CI runs and the demo test runs", () => {
  const [fresh, tests, ...rest] = readmeBlock("repository commands").text.trimEnd().split("\n");
  assert.deepEqual(rest, []);
  // .ci/run: a clean checkout of a fresh machine runs `npm ci`, then the README's test command.
  const ci = read(".ci/run")
    .split("\n")
    .filter((line) => /^npm\b/.test(line));
  assert.deepEqual(ci, ["npm ci", tests]);
  assert.equal(fresh, `${ci[0]} && npm run demo`);
  const scripts = (JSON.parse(read("package.json")) as { scripts: Record<string, string> }).scripts;
  assert.equal(scripts["test"], "node scripts/test.mjs");
  assert.ok(scripts["demo"], "package.json has a demo script");
  assert.ok(
    read("src/cli/demo.test.ts").includes(`["npm", "run", "--silent", "demo"]`),
    "src/cli/demo.test.ts runs npm run demo",
  );
});

test("the install line adds this package as a development dependency", () => {
  const name = (JSON.parse(read("package.json")) as { name: string }).name;
  assert.equal(readmeBlock("install").text, `npm i -D ${name}\n`);
  // The packed package, installed into a scratch project, is what src/testing/package.test.ts tests.
  assert.ok(read("src/testing/package.test.ts").includes(`"pack"`), "src/testing/package.test.ts packs the package");
});

/** sudo's secure_path on Debian and Ubuntu (/etc/sudoers): where it looks for a program named without a path. */
const DEBIAN_SECURE_PATH = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"];

/** The sudoers line's programs that a network built as root with sudo never asks for, and why. */
const NOT_ASKED_FOR_HERE: Readonly<Record<string, string>> = {
  kill: "asked for only when a signal sent directly is refused, as it is for a caller that is not root",
  sysctl:
    "asked for in the host namespace only (inside a namespace it runs through nsenter); the recording leaves the host's sysctls alone",
};

test(
  "the sudoers line names what the library runs through sudo, where sudo finds it on Debian",
  { timeout: 240_000 },
  async () => {
    const line = readmeBlock("sudoers line").text.trimEnd();
    assert.equal(
      line,
      SUDOERS_LINE,
      "the README's sudoers line is the one the library's advice gives (src/system/privilege.ts)",
    );
    const parsed = /^youruser ALL=\(root\) NOPASSWD:(SETENV:)? (\/\S+(?:, \/\S+)*)$/.exec(line);
    assert.ok(parsed, `a sudoers line of the form "youruser ALL=(root) NOPASSWD:[SETENV:] /path, /path": ${line}`);
    const paths = parsed[2].split(", ");
    // What sudo runs for `sudo -n ip`: the first executable of that name on its secure_path (a PATH search: `kill` is also a shell builtin).
    for (const path of paths) {
      const found = DEBIAN_SECURE_PATH.map((dir) => join(dir, basename(path))).find((candidate) => {
        try {
          accessSync(candidate, constants.X_OK);
          return true;
        } catch {
          return false;
        }
      });
      assert.equal(found, path, `sudo finds ${basename(path)} at ${found ?? "no path"}, the line says ${path}`);
    }
    const named = paths.map((path) => basename(path));

    // A network built through a stand-in sudo that records what it is asked to run, then runs it (this test runs as root).
    const dir = mkdtempSync(join(tmpdir(), "dummynet-sudo-"));
    const record = join(dir, "record");
    writeFileSync(
      join(dir, "sudo"),
      `#!/bin/sh\nflags=""\nwhile [ $# -gt 0 ]; do case "$1" in --) shift; break;; -*) flags="$flags $1"; shift;; *) break;; esac; done\n` +
        `printf '%s\\t%s\\n' "$1" "$flags" >> '${record}'\nexec "$@"\n`,
      { mode: 0o755 },
    );
    const library = pathToFileURL(join(REPO, "src/index.ts")).href;
    const testing = pathToFileURL(join(REPO, "src/testing/index.ts")).href;
    const twoHostsModule = pathToFileURL(join(REPO, "src/test-support/two-hosts.ts")).href;
    const workload = `
    import { DummyNet, HostShell } from ${JSON.stringify(library)};
    import { waitForPort } from ${JSON.stringify(testing)};
    import { twoHosts } from ${JSON.stringify(twoHostsModule)};
    const net = new DummyNet({ shell: new HostShell({ sudo: true }) });
    console.log("uid " + net.uid);
    try {
      const { a, b, ba } = await twoHosts(net);
      await b.sysctl("net.ipv4.ip_forward", 1);
      await b.nat("10.0.0.0/24", ba);
      const [h0, h1] = await net.linkVethAdd("h0", "h1");
      await net.forward(h0, h1);
      await net.tcShow(h0);
      await b.runAsync([process.execPath, "-e", "require('node:net').createServer((s) => s.end('hi')).listen(7000)"], { daemon: true });
      await waitForPort(b, 7000, { timeout: 10000 });
      await a.run([process.execPath, "-e", "require('node:net').connect(7000, '10.0.0.2').pipe(process.stdout)"], { timeout: 10000 });
      await net.probe(a, b, { count: 5, intervalMs: 1 });
    } finally {
      await net.cleanup();
    }`;
    try {
      const run = await runBounded(
        [process.execPath, "--import", "tsx", "--input-type=module", "-e", workload],
        { PATH: `${dir}:${process.env["PATH"]}` },
        180_000,
        REPO,
      );
      assert.equal(run.code, 0, outputOf(run));
      assertNothingLeft(Number(/^uid (\d+)$/m.exec(run.stdout)?.[1]));
      const asked = readFileSync(record, "utf8")
        .trimEnd()
        .split("\n")
        .map((entry) => entry.split("\t") as [string, string]);
      const programs = new Set(asked.map(([program]) => basename(program)));
      for (const program of programs)
        assert.ok(
          named.includes(program),
          `the library ran \`sudo ${program}\`, which the line does not allow (it allows ${named.join(", ")})`,
        );
      for (const program of named)
        assert.ok(
          programs.has(program) || program in NOT_ASKED_FOR_HERE,
          `the line allows ${program}, which the library never asked sudo for (it asked for ${[...programs].join(", ")})`,
        );
      const keepsEnvironment = asked
        .filter(([, flags]) => flags.includes("--preserve-env"))
        .map(([program]) => program);
      assert.ok(keepsEnvironment.length > 0, "programs in the hosts start with sudo --preserve-env");
      assert.ok(parsed[1], `sudo --preserve-env (${[...new Set(keepsEnvironment)].join(", ")}) needs the SETENV tag`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test("every unpkg link of README.md names a file the package ships", () => {
  const shipped = (JSON.parse(read("package.json")) as { files: string[] }).files;
  const links = [...read("README.md").matchAll(/https:\/\/unpkg\.com\/dummynet\/([^)\s]+)/g)].map((match) => match[1]);
  assert.ok(links.length > 5, "the README links to its docs");
  for (const link of links) {
    const path = link.replace(/\/$/, "");
    assert.ok(existsSync(join(REPO, path)), `README links to ${link}, which is not in the repository`);
    const top = path.split("/")[0];
    const matches = shipped.some(
      (entry) => entry === top || (entry.startsWith(`${top}/`) && path.endsWith(entry.slice(entry.lastIndexOf(".")))),
    );
    assert.ok(matches, `README links to ${link}, which package.json's "files" does not ship`);
  }
});

test("the testing examples and the topology file are the files the suite runs", () => {
  // src/testing/package.test.ts runs examples/testing/ from the packed package, src/testing/examples.lab.test.ts with netem;
  // examples/star.yaml is what the CLI tests, the demo and the README's own command lines build.
  for (const [block, file] of [
    [readmeBlock("first test"), "examples/testing/first.test.ts"],
    [readmeBlock("node:test example"), "examples/testing/node-test.test.ts"],
    [readmeBlock("vitest example"), "examples/testing/vitest.test.ts"],
    [readmeBlock("plain JavaScript example"), "examples/testing/plain.test.mjs"],
    [readmeBlock("topology file"), "examples/star.yaml"],
    // src/topology/partition-example.test.ts runs it: a follower falls behind while cut off and catches up.
    [readmeBlock("faults topology file"), "examples/partition.yaml"],
  ] as const) {
    assert.equal(block.text, read(file), `README.md's block at line ${block.line} is not ${file}`);
  }
});

test(
  "the Mermaid drawing is what `dummynet graph examples/star.yaml --format mermaid` prints",
  { timeout: 360_000 },
  async () => {
    const graph = await runCli(["graph", "examples/star.yaml", "--format", "mermaid"]);
    assert.equal(graph.code, 0, graph.stderr);
    assert.equal(readmeBlock("graph").text, graph.stdout);
  },
);

test(
  "the command lines run in order against examples/star.yaml, each as the README says, and nothing is left",
  { timeout: 1_800_000 },
  async () => {
    await runCommandLines(readmeBlock("command lines"));
  },
);

test(
  "the topologies-from-code example builds the star, fetches from h2, and leaves nothing",
  { timeout: 240_000 },
  async () => {
    const result = await runTypeScriptBlock(readmeBlock("topologies from code"), 180_000);
    assert.equal(result.code, 0, outputOf(result));
    assert.match(result.stdout, /^\d+\/\d+$/m, outputOf(result));
    assertNothingLeft(result.pid);
  },
);

test("the API block's names are all exported by the package", { timeout: 120_000 }, async () => {
  const block = readmeBlock("API imports");
  assert.match(block.text, /^import \{[^}]+\} from "dummynet";\n$/);
  const result = await runTypeScriptBlock(block, 60_000);
  assert.equal(result.code, 0, outputOf(result));
  // The imports are kept as written, so a name the package lacks fails the run.
  const lacking = await runTypeScriptBlock(
    { ...block, text: block.text.replace("DummyNet,", "DummyNet, NoSuchExport,") },
    60_000,
  );
  assert.notEqual(lacking.code, 0, outputOf(lacking));
  assert.match(lacking.stderr, /does not provide an export named 'NoSuchExport'/, outputOf(lacking));
});
