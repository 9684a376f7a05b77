/**
 * The ip workers' helper (worker-launcher.ts): workers are forked by one Perl
 * helper, not by this process, and still answer, fail and end as spawned ones
 * do; without Perl they are spawned. Real workers, real namespaces.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readFileSync, readlinkSync, statSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { SystemCommandError } from "../errors.js";
import { InterfaceScoped } from "../names/scoped.js";
import { programPath } from "../test-support/program-path.js";
import { assertNothingLeft } from "../testing/leftovers.js";
import { IpBatchRunner } from "./ip-batch-runner.js";
import { readStatSync } from "./proc.js";

const FIXTURE = fileURLToPath(new URL("../test-support/fixtures/worker-parents.ts", import.meta.url));

const parentOf = (pid: number): number | undefined => readStatSync(pid)?.ppid;
const commandOf = (pid: number): string => readFileSync(`/proc/${String(pid)}/comm`, "utf8").trim();

test(
  "ip workers are forked by one Perl helper, answer through their own pipes, and end with their input",
  { timeout: 60_000 },
  async () => {
    const runner = new IpBatchRunner();
    const namespaces = ["wl0", "wl1"].map((name) => new InterfaceScoped(name, process.pid).scoped);
    try {
      await Promise.all(namespaces.map((namespace) => runner.run(["ip", "netns", "add", namespace])));
      await Promise.all(
        namespaces.map((namespace, i) =>
          runner.run(["ip", "addr", "add", `10.91.0.${String(i + 1)}/32`, "dev", "lo"], { namespace }),
        ),
      );
      const workers = runner.helperPids();
      assert.equal(workers.length, 3, "the host's worker and one per namespace");
      const parents = new Set(workers.map(parentOf));
      assert.equal(parents.size, 1, "every worker has the same parent");
      const [helper] = [...parents];
      assert.notEqual(helper, process.pid, "a worker was spawned by this process");
      assert.equal(commandOf(helper!), "perl");
      // As root, the helper enters each namespace for its worker: no `ip -n`, so no mount namespace of its own.
      const nsOf = (pid: number, kind: string) => readlinkSync(`/proc/${String(pid)}/ns/${kind}`);
      const inNamespaces = workers.filter((pid) => nsOf(pid, "net") !== nsOf(process.pid, "net"));
      assert.deepEqual(
        inNamespaces.map((pid) => nsOf(pid, "net")).sort(),
        namespaces.map((namespace) => `net:[${String(statSync(`/run/netns/${namespace}`).ino)}]`).sort(),
      );
      for (const pid of inNamespaces) {
        assert.equal(nsOf(pid, "mnt"), nsOf(process.pid, "mnt"));
        assert.doesNotMatch(readFileSync(`/proc/${String(pid)}/cmdline`, "utf8"), /\0-n\0/);
      }
      // What each worker did, read by a process of its own.
      for (const [i, namespace] of namespaces.entries()) {
        const shown = execFileSync("ip", ["-n", namespace, "-br", "addr", "show", "dev", "lo"], { encoding: "utf8" });
        assert.match(shown, new RegExp(`10\\.91\\.0\\.${String(i + 1)}/32`));
      }
      // A read through a worker gets its own listing.
      const listing = await runner.run(["ip", "-j", "addr", "show", "dev", "lo"], { namespace: namespaces[1] });
      assert.match(listing.stdout, /10\.91\.0\.2/);
      await Promise.all(namespaces.map((namespace) => runner.run(["ip", "netns", "delete", namespace])));
      await runner.close();
      for (const pid of workers)
        assert.equal(existsSync(`/proc/${String(pid)}`), false, `worker ${String(pid)} still runs`);
    } finally {
      // Deleted already unless the test failed.
      for (const namespace of namespaces) spawnSync("ip", ["netns", "delete", namespace], { stdio: "ignore" });
      await runner.close();
    }
    assertNothingLeft(process.pid);
  },
);

test(
  "a worker that ends at once (its namespace does not exist) fails its command with ip's words",
  { timeout: 60_000 },
  async () => {
    const runner = new IpBatchRunner();
    try {
      await assert.rejects(
        runner.run(["ip", "link", "set", "dev", "lo", "up"], { namespace: "dummynet-no-such-namespace" }),
        (error: unknown) =>
          error instanceof SystemCommandError &&
          /Cannot open network namespace "dummynet-no-such-namespace"/.test(error.message),
      );
    } finally {
      await runner.close();
    }
  },
);

test("without Perl, the workers are spawned by the process itself", { timeout: 60_000 }, () => {
  const path = programPath(["perl"]);
  const namespace = new InterfaceScoped("wlp", process.pid).scoped;
  try {
    const output = execFileSync(process.execPath, ["--import", "tsx", FIXTURE, namespace], {
      encoding: "utf8",
      env: { ...process.env, PATH: path.path },
      timeout: 50_000,
    });
    const [, self, ...parents] = output.trim().split(" ");
    assert.equal(parents.length, 2, output);
    for (const parent of parents) assert.equal(parent, self, output);
  } finally {
    path.remove();
  }
  assertNothingLeft(process.pid);
});

test("in a worker thread, the workers are spawned by the process itself", { timeout: 60_000 }, () => {
  const namespace = new InterfaceScoped("wlt", process.pid).scoped;
  // Workers do not inherit tsx's loader: the thread loads the fixture through tsx's API.
  const thread = `import("tsx/esm/api").then(({ tsImport }) => tsImport(${JSON.stringify(FIXTURE)}, "file:///"))`;
  const output = execFileSync(
    process.execPath,
    [
      "-e",
      `new (require("node:worker_threads").Worker)(${JSON.stringify(thread)}, { eval: true, argv: [${JSON.stringify(namespace)}] });`,
    ],
    { encoding: "utf8", timeout: 50_000 },
  );
  const [, self, ...parents] = output.trim().split(" ");
  assert.equal(parents.length, 2, output);
  for (const parent of parents) assert.equal(parent, self, output);
  assertNothingLeft(process.pid);
});
