/**
 * The fixtures' evidence of a failed test, end to end in child test runs:
 * node:test and vitest runs whose failing tests leave a folder each (a pcap
 * per link holding the datagrams the test sent, snapshot.json, the programs'
 * output, evidence.json) named in their failure, and whose passing tests
 * leave none; DUMMYNET_KEEP=on-failure keeps a failed test's network for
 * `dummynet ls`, `inspect`, `exec`, `probe` and `down`. Root and rootless.
 */
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { runChild, runNodeTest } from "../testing/child.test-helpers.js";
import { runCli } from "../cli/cli.test-helpers.js";
import { leftovers } from "../testing/leftovers.js";
import { runsRootless } from "../test-support/rootless.js";
import { makeEvidenceFolder, safeName } from "./evidence-folder.js";
import { parsePcap } from "./pcap.js";
import { datagramsWith } from "./pcap.test-helpers.js";

const SOURCE = fileURLToPath(new URL("../", import.meta.url));
const REPO = resolve(SOURCE, "..");
const FIXTURE = fileURLToPath(new URL("./fixtures/node-test.fixture.ts", import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), "dummynet-evidence-test-"));
after(() => {
  rmSync(scratch, { recursive: true, force: true });
});

const uidsIn = (output: string) => [...output.matchAll(/^uid (\d+)$/gm)].map((match) => Number(match[1]));

/** What every failed test's folder holds; `sent`: the datagrams "evidence-N" the scenario sent from a to b. */
function assertEvidenceFolder(folder: string, failure: RegExp): void {
  const files = readdirSync(folder).sort();
  const index = JSON.parse(readFileSync(join(folder, "evidence.json"), "utf8")) as {
    failure: string;
    notCollected: string[];
    captures: { file: string; packets: number }[];
  };
  assert.match(index.failure, failure);
  const snapshot = JSON.parse(readFileSync(join(folder, "snapshot.json"), "utf8")) as {
    hosts: { name: string; links: { name: string; addresses: string[] }[] }[];
    processes: { host: string; stdout: string[] }[];
    faults: { kind: string; hosts: string[] }[];
  };
  assert.deepEqual(
    snapshot.faults.map((fault) => fault.kind),
    ["partition"],
    "the fault in force at the failure",
  );
  const history = JSON.parse(readFileSync(join(folder, "faults.json"), "utf8")) as { action: string }[];
  assert.deepEqual(
    history.map((event) => event.action),
    ["partition"],
  );
  assert.deepEqual(snapshot.hosts.map((host) => host.name).sort(), ["a", "b"], JSON.stringify(snapshot));
  const a = snapshot.hosts.find((host) => host.name === "a")!;
  assert.ok(
    a.links.some((link) => link.addresses.includes("10.0.0.1/24")),
    "the snapshot was taken before cleanup",
  );
  assert.deepEqual(
    snapshot.processes.map((program) => [program.host, program.stdout]),
    [["b", ["server ready"]]],
  );
  const stdout = files.find((file) => file.endsWith(".stdout.txt"))!;
  const stderr = files.find((file) => file.endsWith(".stderr.txt"))!;
  assert.equal(readFileSync(join(folder, stdout), "utf8"), "server ready\n");
  assert.equal(readFileSync(join(folder, stderr), "utf8"), "server warning\n");
  // One pcap per link of each host: a's end and b's end each saw the five datagrams.
  assert.ok(files.includes("a-a-b.pcap") && files.includes("b-b-a.pcap"), files.join(" "));
  assert.equal(datagramsWith(join(folder, "a-a-b.pcap"), "evidence"), 5);
  assert.equal(datagramsWith(join(folder, "b-b-a.pcap"), "evidence"), 5);
  const read = execFileSync("tcpdump", ["-nn", "-r", join(folder, "b-b-a.pcap"), "udp port 9"], {
    encoding: "utf8",
    timeout: 20_000,
  });
  assert.equal(read.trim().split("\n").length, 5, read);
}

describe("evidence of a failed test", { timeout: 300_000 }, () => {
  test("node:test: each failed test leaves its folder, named in its failure; the passing one leaves none", async () => {
    const dir = join(scratch, "node");
    const run = await runNodeTest([FIXTURE], {
      timeout: 240_000,
      env: { ...process.env, DUMMYNET_EVIDENCE_DIR: dir },
      args: ["--test-name-pattern=replicas|passing"],
    });
    assert.equal(run.code, 1, run.output);
    assert.match(run.output, /ℹ pass 1/, run.output);
    assert.match(run.output, /ℹ fail 2/, run.output);
    const folders = readdirSync(dir).sort();
    assert.deepEqual(folders, ["replicas-agree-on-purpose-not", "replicas-agree-on-purpose-not-2"]);
    for (const folder of folders) {
      assert.ok(run.output.includes(`dummynet evidence: ${join(dir, folder)}`), run.output);
      assertEvidenceFolder(join(dir, folder), /expected 3 replicas, got 2/);
    }
    const uids = uidsIn(run.output);
    assert.equal(uids.length, 3, run.output);
    for (const uid of uids) assert.deepEqual(leftovers(uid), []);
  });

  test("vitest: the failed test leaves its folder, named in its failure; the passing one leaves none", async () => {
    const project = join(scratch, "vitest");
    const dir = join(project, "evidence");
    execFileSync("mkdir", ["-p", project]);
    writeFileSync(
      join(project, "evidence.test.ts"),
      `import { test } from ${JSON.stringify(join(SOURCE, "testing/vitest.ts"))};
import { scenario } from ${JSON.stringify(join(SOURCE, "evidence/fixtures/scenario.ts"))};
test("vitest replicas: on purpose", async ({ net }) => { await scenario(net, true); });
test("vitest passing", async ({ net }) => { await scenario(net, false); });
`,
    );
    const run = await runChild(
      [join(REPO, "node_modules/.bin/vitest"), "run", "--root", project, "--reporter=verbose", "--testTimeout=120000"],
      { cwd: project, env: { ...process.env, DUMMYNET_EVIDENCE_DIR: dir, CI: "true" }, timeout: 240_000 },
    );
    const output = run.output.replace(/\x1b\[[0-9;]*m/g, "");
    assert.equal(run.code, 1, output);
    assert.match(output, /1 failed \| 1 passed/, output);
    assert.deepEqual(readdirSync(dir), ["vitest-replicas-on-purpose"]);
    assert.ok(output.includes(`dummynet evidence: ${join(dir, "vitest-replicas-on-purpose")}`), output);
    assertEvidenceFolder(join(dir, "vitest-replicas-on-purpose"), /expected 3 replicas, got 2/);
    for (const uid of uidsIn(output)) assert.deepEqual(leftovers(uid), []);
  });

  test("DUMMYNET_KEEP=on-failure keeps the failed test's network for ls, inspect, exec, probe and capture until down", async () => {
    const dir = join(scratch, "kept");
    const run = await runNodeTest([FIXTURE], {
      timeout: 240_000,
      env: { ...process.env, DUMMYNET_EVIDENCE_DIR: dir, DUMMYNET_KEEP: "on-failure" },
      args: ["--test-name-pattern=kept on failure"],
    });
    assert.equal(run.code, 1, run.output);
    const uid = uidsIn(run.output).at(0);
    assert.ok(uid !== undefined, run.output);
    if (runsRootless()) {
      // A rootless network lives in the test process's holder and ends with it: not kept, and said so.
      assert.match(run.output, /DUMMYNET_KEEP: a rootless network/, run.output);
      assert.deepEqual(leftovers(uid), []);
      return;
    }
    const name = `kept-on-failure-${uid}`;
    assert.ok(run.output.includes(`dummynet kept the network as "${name}"`), run.output);
    try {
      assert.notDeepEqual(leftovers(uid), [], "the network is still there after the test run ended");
      const ls = JSON.parse((await runCli(["ls", "--json"])).stdout) as {
        owners: { uid: number; kept: unknown; network: { name: string } | null }[];
      };
      const owner = ls.owners.find((entry) => entry.uid === uid);
      assert.equal(owner?.network?.name, name);
      assert.ok(owner.kept, "ls says it is kept");
      const inspect = await runCli(["inspect", name, "--json"]);
      assert.equal(inspect.code, 0, inspect.stderr);
      const view = JSON.parse(inspect.stdout) as { hosts: { name: string; interfaces: { addresses: string[] }[] }[] };
      const a = view.hosts.find((host) => host.name === "a");
      assert.deepEqual(
        a?.interfaces.flatMap((iface) => iface.addresses),
        ["10.0.0.1/24"],
      );
      const exec = await runCli(["exec", "a", "--network", name, "--", "ip", "-brief", "addr"]);
      assert.equal(exec.code, 0, exec.stderr);
      assert.match(exec.stdout, /10\.0\.0\.1\/24/);
      const probe = await runCli(["probe", name, "a", "b", "--count", "20", "--json"]);
      assert.equal(probe.code, 0, probe.stderr);
      // The partition in force at the failure is kept too: nothing gets across.
      const report = JSON.parse(probe.stdout) as { sent: number; received: number };
      assert.deepEqual([report.sent, report.received], [20, 0]);
      // dummynet capture reaches it too: a pcap tcpdump reads (nothing crosses the partition, so it may be empty).
      const pcap = join(scratch, "kept-a.pcap");
      const capture = await runCli(["capture", name, "a:a-b", "-w", pcap, "--seconds", "1", "--json"]);
      assert.equal(capture.code, 0, capture.stderr);
      const captured = JSON.parse(capture.stdout) as { file: string; packets: number };
      assert.equal(captured.file, pcap);
      assert.equal(parsePcap(readFileSync(pcap)).packets.length, captured.packets);
      execFileSync("tcpdump", ["-nn", "-r", pcap], { encoding: "utf8", timeout: 20_000 });
      // The reaper (every useNetwork reaps dead owners first) leaves it alone.
      const { reapDeadOwners } = await import("../lifecycle/reaper.js");
      await reapDeadOwners();
      assert.notDeepEqual(leftovers(uid), []);
    } finally {
      const down = await runCli(["down", name]);
      assert.equal(down.code, 0, down.stderr);
    }
    assert.deepEqual(leftovers(uid), [], "down removed the kept network");
    assert.equal((await runCli(["inspect", name])).code, 2, "and its record");
  });
});

describe("evidence folder names", () => {
  test("are safe path components, bounded, and unique when tests share a name", () => {
    assert.equal(safeName("a/b\\c: d..e"), "a-b-c-d..e");
    assert.equal(safeName("../../etc/passwd"), "etc-passwd");
    assert.equal(safeName("///"), "test");
    assert.ok(safeName("x".repeat(500)).length <= 80);
    const root = join(scratch, "names");
    const first = makeEvidenceFolder(root, "same name");
    const second = makeEvidenceFolder(root, "same name");
    assert.notEqual(first, second);
    assert.ok(existsSync(first) && existsSync(second));
    assert.deepEqual(readdirSync(root).sort(), ["same-name", "same-name-2"]);
  });
});
