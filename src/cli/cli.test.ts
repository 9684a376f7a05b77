// End-to-end tests of the `dummynet` command on this host: every example that
// needs no netem or VLAN, up/exec/down, signals, bad files, ls and cleanup.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { assertNothingLeft, ownerPrefix } from "../testing/leftovers.js";
import { finished, firstLine, namespacesOf, runCli, startCli } from "./cli.test-helpers.js";

const scratch = mkdtempSync(join(tmpdir(), "dummynet-cli-"));
function file(name: string, text: string): string {
  const path = join(scratch, name);
  writeFileSync(path, text);
  return path;
}

/** A chain of `n` hosts, big enough that a signal can land mid-build. */
function chain(n: number): string {
  const lines = [`name: chain${n}`, "hosts:"];
  for (let i = 0; i < n; i++) lines.push(`  h${i}: {}`);
  lines.push("links:");
  for (let i = 0; i + 1 < n; i++) {
    lines.push(
      `  - ends: [{ at: "h${i}:r${i}", address: 10.${i >> 6}.${(i & 63) * 4}.1/30 }, { at: "h${i + 1}:l${i + 1}", address: 10.${i >> 6}.${(i & 63) * 4}.2/30 }]`,
    );
  }
  return lines.join("\n") + "\n";
}

describe("dummynet command", { concurrency: false, timeout: 900_000 }, () => {
  test("validate accepts every example and --help documents exit codes", async () => {
    for (const example of ["star", "nat-router", "lossy-pair", "vlan-trunk"]) {
      const result = await runCli(["validate", `examples/${example}.yaml`]);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, new RegExp(`valid: examples/${example}\\.yaml: network ${example}`));
    }
    const help = await runCli(["--help"]);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /130\s+ended by Ctrl-C/);
    const upHelp = await runCli(["up", "--help"]);
    assert.match(upHelp.stdout, /Examples:/);
  });

  test("run examples/star.yaml: h1 and h3 reach h2's web server across the bridge, exit 0, nothing left", async () => {
    const child = startCli(["run", "examples/star.yaml", "--json"]);
    const result = await finished(child);
    assert.equal(result.code, 0, result.stderr);
    const report = JSON.parse(result.stdout) as {
      exitCode: number;
      uid: number;
      jobs: { name: string; stdout: string }[];
    };
    assert.equal(report.exitCode, 0);
    assert.equal(report.uid, child.pid);
    assert.deepEqual(
      report.jobs.map((job) => [job.name, job.stdout]),
      [
        ["h1-to-h2", "h2 answered 10.0.0.1\n"],
        ["h3-to-h2", "h2 answered 10.0.0.3\n"],
      ],
    );
    assertNothingLeft(child.pid!);
  });

  test("run examples/nat-router.yaml: the server sees the router's address (NAT), waits for the daemon's port", async () => {
    const child = startCli(["run", "examples/nat-router.yaml", "--json"]);
    const result = await finished(child);
    assert.equal(result.code, 0, result.stderr);
    const report = JSON.parse(result.stdout) as { jobs: { name: string; stdout: string }[] };
    assert.equal(report.jobs[0].name, "fetch");
    assert.match(report.jobs[0].stdout, /^server saw (::ffff:)?10\.0\.1\.1$/m);
    assertNothingLeft(child.pid!);
  });

  test("run: a job killed by a signal exits 128 + its number, as a shell reports it", async () => {
    const path = file(
      "killed.yaml",
      'name: killed\nhosts:\n  a: {}\nprograms:\n  - { name: k, host: a, command: [sh, -c, "kill -TERM $$"] }\n',
    );
    const child = startCli(["run", path]);
    const result = await finished(child);
    assert.equal(result.code, 143, result.stderr);
    assertNothingLeft(child.pid!);
  });

  test("run FILE -- COMMAND exits with the command's status and streams its output", async () => {
    const child = startCli([
      "run",
      "examples/star.yaml",
      "--host",
      "h2",
      "--",
      "sh",
      "-c",
      "ip -o -4 addr show | grep -o '10\\.0\\.0\\.[0-9]*'; exit 3",
    ]);
    const result = await finished(child);
    assert.equal(result.code, 3, result.stderr);
    assert.equal(result.stdout.trim(), "10.0.0.2");
    assertNothingLeft(child.pid!);
  });

  test("up in the background, exec into it, ls shows it alive, down removes everything", async () => {
    const up = startCli(["up", "examples/star.yaml", "--json"]);
    try {
      const announced = JSON.parse(await firstLine(up)) as {
        uid: number;
        hosts: Record<string, string>;
        stateFile: string;
      };
      assert.equal(announced.uid, up.pid);
      assert.equal(announced.hosts["h1"], `${ownerPrefix(up.pid!)}h1`);
      assert.ok(existsSync(announced.stateFile));

      const ping = await runCli([
        "exec",
        "h1",
        "--network",
        String(announced.uid),
        "--",
        "ping",
        "-c",
        "1",
        "10.0.0.3",
      ]);
      assert.equal(ping.code, 0, ping.stderr);
      assert.match(ping.stdout, /1 received/);
      const status = await runCli(["exec", "h3", "--network", String(announced.uid), "--", "sh", "-c", "exit 7"]);
      assert.equal(status.code, 7);
      // A command killed by a signal exits 128 + its number, as a shell reports it, whatever the signal (no core file: ulimit -c 0).
      for (const [signal, code] of [
        ["SEGV", 139],
        ["ABRT", 134],
        ["PIPE", 141],
      ] as const) {
        const killed = await runCli([
          "exec",
          "h3",
          "--network",
          String(announced.uid),
          "--",
          "sh",
          "-c",
          `ulimit -c 0; kill -s ${signal} $$`,
        ]);
        assert.equal(killed.code, code, `SIG${signal}: ${killed.stderr}`);
      }
      const unknownHost = await runCli(["exec", "nope", "--network", String(announced.uid), "--", "true"]);
      assert.equal(unknownHost.code, 2);
      assert.match(unknownHost.stderr, /no host "nope" in network star; hosts: sw, h1, h2, h3/);

      assert.equal(up.exitCode, null, "up holds the network until told to stop");
      const ls = await runCli(["ls", "--json"]);
      const entry = (
        JSON.parse(ls.stdout) as { owners: { uid: number; alive: boolean; network: { name: string } | null }[] }
      ).owners.find((e) => e.uid === up.pid);
      assert.ok(entry, ls.stdout);
      assert.equal(entry.alive, true);
      assert.equal(entry.network?.name, "star");

      // A live owner's objects survive cleanup (asked about this owner only: other runs share the machine).
      const cleanup = await runCli(["cleanup", String(up.pid), "--json"]);
      assert.equal(cleanup.code, 0, cleanup.stderr);
      assert.deepEqual(
        (JSON.parse(cleanup.stdout) as { spared: { uid: number }[] }).spared.map((s) => s.uid),
        [up.pid],
      );
      assert.equal(namespacesOf(ownerPrefix(up.pid!)).length, 4);

      const down = await runCli(["down", String(announced.uid)]);
      assert.equal(down.code, 0, down.stderr);
      const result = await finished(up);
      assert.equal(result.code, 0, result.stderr);
      assert.ok(!existsSync(announced.stateFile));
    } finally {
      if (up.exitCode === null) up.kill("SIGKILL");
    }
    assertNothingLeft(up.pid!);
  });

  for (const [signal, code] of [
    ["SIGINT", 130],
    ["SIGTERM", 143],
  ] as const) {
    test(`${signal} while up holds the network removes everything (exit ${code})`, async () => {
      const up = startCli(["up", "examples/star.yaml", "--json"]);
      await firstLine(up);
      up.kill(signal);
      const result = await finished(up);
      assert.equal(result.code, code, result.stderr);
      assertNothingLeft(up.pid!);
    });

    test(`${signal} in the middle of building a 60-host chain removes everything (exit ${code})`, async () => {
      const up = startCli(["up", file(`chain-${signal}.yaml`, chain(60)), "--json"]);
      const prefix = ownerPrefix(up.pid!);
      // Wait for the first namespaces to appear: the build is under way.
      while (namespacesOf(prefix).length < 3 && up.exitCode === null) await new Promise((r) => setTimeout(r, 5));
      up.kill(signal);
      const result = await finished(up);
      assert.equal(result.code, code, result.stderr);
      assertNothingLeft(up.pid!);
    });

    test(`${signal} while run waits for its job removes everything (exit ${code})`, async () => {
      const run = startCli(["run", "examples/star.yaml", "--host", "h1", "--", "sh", "-c", "echo started; sleep 60"]);
      await firstLine(run);
      run.kill(signal);
      const result = await finished(run);
      assert.equal(result.code, code, result.stderr);
      assertNothingLeft(run.pid!);
    });
  }

  const badFiles: [string, string, RegExp][] = [
    ["syntax.yaml", "hosts:\n  a: [\n  b: {}\n", /syntax\.yaml:\d+:\d+: YAML syntax error/],
    [
      "unknown-host.yaml",
      "hosts: { a: {} }\nlinks:\n  - ends: ['a:a0', 'ghost:g0']\n",
      /unknown-host\.yaml:3:\d+: links\[0\]\.ends\[1\]: unknown host "ghost"; expected a host declared under hosts \(a\)/,
    ],
    [
      "clash.yaml",
      "hosts: { a: {}, b: {} }\nlinks:\n  - ends: [{ at: 'a:a0', address: 10.0.0.1/24 }, { at: 'b:b0', address: 10.0.0.1/24 }]\n",
      /clash\.yaml:3:\d+: links\[0\]\.ends\[1\]\.address: address 10\.0\.0\.1 is already used by a:a0/,
    ],
    [
      "long-name.yaml",
      "hosts: { a: {}, b: {} }\nlinks:\n  - ends: ['a:eth0-long-name', 'b:b0']\n",
      /long-name\.yaml:3:\d+: links\[0\]\.ends\[0\]: interface name "eth0-long-name" is 14 characters long; at most 8/,
    ],
    [
      "impossible.yaml",
      "hosts: { a: { memory: 0 } }\nlinks:\n  - ends: ['a:x', 'a:y']\n    impair: { loss: 101 }\n",
      /impossible\.yaml:1:23: hosts\.a\.memory: is 0; expected a value >= 1[\s\S]*impossible\.yaml:4:21: links\[0\]\.impair\.loss: is 101; expected a value <= 100/,
    ],
  ];
  for (const [name, text, message] of badFiles) {
    test(`a bad file (${name}) fails with file:line:column, exit 2, and changes nothing`, async () => {
      const path = file(name, text);
      for (const command of ["validate", "up", "run"]) {
        const child = startCli([command, path]);
        const result = await finished(child);
        assert.equal(result.code, 2, `${command}: ${result.stderr}`);
        assert.match(result.stderr, message);
        assertNothingLeft(child.pid!);
      }
    });
  }

  test("run ended by `dummynet down` before its job finished fails (status 1), and removes everything", async () => {
    const path = file(
      "longjob.yaml",
      'name: longjob\nhosts:\n  a: {}\nprograms:\n  - { name: slow, host: a, command: [sh, -c, "echo started; sleep 60"] }\n',
    );
    const child = startCli(["run", path]);
    await new Promise<void>((resolve) => {
      let seen = "";
      child.stdout!.on("data", (chunk: Buffer) => {
        seen += chunk.toString();
        if (seen.includes("started")) resolve();
      });
    });
    const down = await runCli(["down", String(child.pid)]);
    assert.equal(down.code, 0, down.stderr);
    const result = await finished(child);
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, /removed the network before the job finished/);
    assertNothingLeft(child.pid!);
  });

  test("up ends with status 1 as soon as a daemon dies, and removes everything", async () => {
    const path = file(
      "dying.yaml",
      'name: dying\nhosts:\n  a: {}\nprograms:\n  - { name: brief, host: a, daemon: true, command: [sh, -c, "sleep 1; echo bye; exit 3"] }\n',
    );
    const started = Date.now();
    const child = startCli(["up", path]);
    const result = await finished(child);
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, /a daemon exited: .*exited with status 3/);
    // Noticed by the exit event, not by a slow poll.
    assert.ok(Date.now() - started < 20000);
    assertNothingLeft(child.pid!);
  });

  test("doctor reports what this machine can do, agreeing with a real attempt, and leaves nothing", async () => {
    const child = startCli(["doctor", "--json"]);
    const result = await finished(child);
    assert.equal(result.code, 0, result.stderr);
    const report = JSON.parse(result.stdout) as {
      netem: { available: boolean; howToGet?: string };
      veth: { available: boolean };
      privileges: { root: boolean };
    };
    assert.equal(report.veth.available, true);
    assert.equal(report.privileges.root, process.getuid?.() === 0);
    // Independent evidence: try netem on loopback in a scratch namespace of our own.
    const { execFileSync } = await import("node:child_process");
    const scratchNs = `${ownerPrefix(process.pid)}doctor`;
    execFileSync("ip", ["netns", "add", scratchNs], { timeout: 30_000 });
    let netem = true;
    try {
      execFileSync("tc", ["-n", scratchNs, "qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms"], {
        stdio: "ignore",
        timeout: 30_000,
      });
    } catch {
      netem = false;
    } finally {
      execFileSync("ip", ["netns", "delete", scratchNs], { timeout: 30_000 });
    }
    assert.equal(report.netem.available, netem);
    if (!netem) assert.match(report.netem.howToGet ?? "", /sch_netem/);
    const text = await runCli(["doctor"]);
    assert.match(text.stdout, netem ? /ok\s+netem/ : /MISSING netem[\s\S]*sch_netem/);
    assertNothingLeft(child.pid!);
    assertNothingLeft(process.pid);
  });

  test("graph writes Mermaid and DOT with hosts, addresses and impairments; SVG needs Graphviz", async () => {
    const mermaid = await runCli(["graph", "examples/lossy-pair.yaml"]);
    assert.equal(mermaid.code, 0, mermaid.stderr);
    assert.match(mermaid.stdout, /^graph LR/);
    assert.match(mermaid.stdout, /a-b 10\.0\.0\.1\/24 — b-a 10\.0\.0\.2\/24<br\/>both ways: delay 20ms, loss 10%/);
    const dot = await runCli(["graph", "examples/nat-router.yaml", "--format", "dot"]);
    assert.match(dot.stdout, /"h:client" -- "h:router" \[label="c-r 10\.0\.0\.2\/24 — r-cli 10\.0\.0\.1\/24"\]/);
    const svg = await runCli(["graph", "examples/star.yaml", "--format", "svg", "-o", join(scratch, "star.svg")]);
    // Either Graphviz is installed and the SVG is written, or the error says how to get it.
    if (svg.code === 0) assert.match(readFileSync(join(scratch, "star.svg"), "utf8"), /<svg/);
    else {
      assert.equal(svg.code, 1);
      assert.match(svg.stderr, /needs Graphviz's `dot`, which is not installed: install graphviz/);
    }
  });

  test("cleanup removes the objects of an owner killed with SIGKILL", async () => {
    const up = startCli(["up", "examples/star.yaml", "--json"]);
    await firstLine(up);
    up.kill("SIGKILL");
    await finished(up);
    assert.equal(namespacesOf(ownerPrefix(up.pid!)).length, 4, "the killed owner left its namespaces");
    const ls = await runCli(["ls", "--json"]);
    const entry = (JSON.parse(ls.stdout) as { owners: { uid: number; alive: boolean }[] }).owners.find(
      (e) => e.uid === up.pid,
    );
    assert.equal(entry?.alive, false);
    const cleanup = await runCli(["cleanup", String(up.pid)]);
    assert.equal(cleanup.code, 0, cleanup.stderr);
    assert.match(cleanup.stdout, new RegExp(`removed uid ${up.pid} \\(network star\\)`));
    assertNothingLeft(up.pid!);
  });
});
