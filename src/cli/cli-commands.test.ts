// End-to-end tests of the command's conveniences: up --detach, inspect,
// validate of several files and stdin, "did you mean", colours, completion.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { assertNothingLeft } from "../testing/leftovers.js";
import { processStartTime } from "../system/proc.js";
import { CLI_TIMEOUT_MS, REPO, runCli } from "./cli.test-helpers.js";

const scratch = mkdtempSync(join(tmpdir(), "dummynet-cli-commands-"));
function file(name: string, text: string): string {
  const path = join(scratch, name);
  writeFileSync(path, text);
  return path;
}

/** Runs the command with `input` on its standard input (bounded like every CLI a test starts). */
function runWithInput(args: string[], input: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", "src/cli/main.ts", ...args], {
      cwd: REPO,
      env: { ...process.env, CI: "true" },
      timeout: CLI_TIMEOUT_MS,
      killSignal: "SIGKILL",
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("error", reject);
    child.on("close", (code) => {
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(input);
  });
}

const PAIR = `name: detached-pair
hosts:
  a: {}
  b: {}
links:
  - ends: [{ at: "a:a-b", address: 10.77.0.1/24 }, { at: "b:b-a", address: 10.77.0.2/24 }]
programs:
  - { name: listener, host: b, command: [sh, -c, "echo listening; exec sleep 600"], daemon: true, ready: { line: "listening" } }
`;

describe("dummynet command conveniences", { concurrency: false, timeout: 900_000 }, () => {
  test("--version is the version in package.json", async () => {
    const manifest = JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")) as { version: string };
    const version = await runCli(["--version"]);
    assert.equal(version.code, 0, version.stderr);
    assert.equal(version.stdout, `${manifest.version}\n`);
  });

  test("up --detach --wait returns with the network up; inspect --json shows it from the kernel; exec reaches it; down removes everything", async () => {
    const up = await runCli(["up", file("pair.yaml", PAIR), "--detach", "--wait", "--json"]);
    assert.equal(up.code, 0, up.stderr);
    const announced = JSON.parse(up.stdout) as {
      name: string;
      uid: number;
      pid: number;
      stateFile: string;
      hosts: Record<string, string>;
    };
    let removed = false;
    try {
      assert.equal(announced.name, "detached-pair");
      assert.ok(processStartTime(announced.pid) !== undefined, "the background owner runs after up --detach returned");
      assert.ok(existsSync(announced.stateFile));

      const inspect = await runCli(["inspect", String(announced.uid), "--json"]);
      assert.equal(inspect.code, 0, inspect.stderr);
      const view = JSON.parse(inspect.stdout) as {
        name: string;
        log: string;
        hosts: {
          name: string;
          namespace: string;
          interfaces: { name: string; state: string; addresses: string[]; peer: string; qdisc: string }[];
        }[];
        programs: { name: string; host: string; pid: number; state: string }[];
      };
      assert.equal(view.name, "detached-pair");
      assert.deepEqual(
        view.hosts.map((host) => [
          host.name,
          host.namespace,
          host.interfaces.map((iface) => [iface.name, iface.state, iface.addresses, iface.peer]),
        ]),
        [
          ["a", announced.hosts["a"], [["a-b", "up", ["10.77.0.1/24"], "b:b-a"]]],
          ["b", announced.hosts["b"], [["b-a", "up", ["10.77.0.2/24"], "a:a-b"]]],
        ],
      );
      assert.ok(
        view.hosts.every((host) => host.interfaces.every((iface) => typeof iface.qdisc === "string")),
        inspect.stdout,
      );
      assert.deepEqual(
        view.programs.map((program) => [program.name, program.host, program.state]),
        [["listener", "b", "running"]],
      );
      assert.ok(existsSync(view.log), "the background owner's output goes to its log");

      const ping = await runCli([
        "exec",
        "a",
        "--network",
        String(announced.uid),
        "--",
        "ping",
        "-c",
        "1",
        "-W",
        "5",
        "10.77.0.2",
      ]);
      assert.equal(ping.code, 0, ping.stderr);
      assert.match(ping.stdout, /1 received/);

      const text = await runCli(["inspect", String(announced.uid)]);
      assert.equal(text.code, 0, text.stderr);
      assert.match(text.stdout, /a-b\s+up\s+10\.77\.0\.1\/24\s+b:b-a/);
      assert.match(text.stdout, /listener\s+b\s+\d+\s+running/);

      const down = await runCli(["down", String(announced.uid)]);
      assert.equal(down.code, 0, down.stderr);
      removed = true;
      assert.ok(!existsSync(announced.stateFile));
      assert.ok(!existsSync(view.log), "down removes the log of a background owner");
      assert.equal(processStartTime(announced.pid), undefined, "the background owner has ended");
    } finally {
      if (!removed) await runCli(["down", String(announced.uid)]);
    }
    assertNothingLeft(announced.uid);
  });

  test("up --detach of a network whose daemon never gets ready: exit 1, its log shown, nothing left", async () => {
    const path = file(
      "never-ready.yaml",
      'name: never-ready\nhosts:\n  a: {}\nprograms:\n  - { name: mute, host: a, command: [sh, -c, "echo quiet here; exec sleep 600"], daemon: true, ready: { line: "never*", timeout: 500 } }\n',
    );
    const up = await runCli(["up", path, "--detach", "--wait", "--json"]);
    assert.equal(up.code, 1, up.stderr);
    assert.equal(up.stdout, "");
    assert.match(up.stderr, /up --detach .*never-ready\.yaml \(owner uid \d+\): the background `dummynet up` ended/);
    assert.match(up.stderr, /quiet here/, "the daemon's output, from the log");
    assertNothingLeft(Number(/owner uid (\d+)/.exec(up.stderr)![1]));
    const inspect = await runCli(["inspect", "never-ready"]);
    assert.equal(inspect.code, 2);
    assert.match(inspect.stderr, /no network named "never-ready" is up/);
  });

  test("up --wait without --detach and up --detach of a bad file are refused with exit 2", async () => {
    const wait = await runCli(["up", "examples/star.yaml", "--wait"]);
    assert.equal(wait.code, 2);
    assert.match(wait.stderr, /--wait goes with --detach/);
    const bad = await runCli(["up", file("bad.yaml", "hosts: 3\n"), "--detach"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /bad\.yaml:1:\d+: hosts/);
  });

  test("a mistyped command or option gets one line with the suggestion and exit 2", async () => {
    const command = await runCli(["vaildate", "examples/star.yaml"]);
    assert.equal(command.code, 2);
    assert.equal(command.stdout, "");
    assert.equal(command.stderr, "error: unknown command 'vaildate'; did you mean validate?\n");
    const option = await runCli(["up", "examples/star.yaml", "--detatch"]);
    assert.equal(option.code, 2);
    assert.equal(option.stderr, "error: unknown option '--detatch'; did you mean --detach?\n");
    const unknown = await runCli(["frobnicate"]);
    assert.equal(unknown.code, 2);
    assert.equal(unknown.stderr.trim().split("\n").length, 1, unknown.stderr);
  });

  test("validate takes several files and - for standard input; one invalid file makes it exit 2", async () => {
    const two = await runCli(["validate", "examples/star.yaml", "examples/nat-router.yaml"]);
    assert.equal(two.code, 0, two.stderr);
    assert.match(
      two.stdout,
      /^valid: examples\/star\.yaml: network star: 4 hosts.*\nvalid: examples\/nat-router\.yaml: network nat-router: 3 hosts/,
    );
    const json = await runCli(["validate", "examples/star.yaml", "examples/nat-router.yaml", "--json"]);
    assert.deepEqual(
      (JSON.parse(json.stdout) as { file: string; valid: boolean }[]).map((r) => [r.file, r.valid]),
      [
        ["examples/star.yaml", true],
        ["examples/nat-router.yaml", true],
      ],
    );

    const stdin = await runWithInput(
      ["validate", "-"],
      "name: piped\nhosts:\n  a: {}\n  b: {}\nlinks:\n  - ends: [a:a0, b:b0]\n",
    );
    assert.equal(stdin.code, 0, stdin.stderr);
    assert.equal(stdin.stdout, "valid: stdin: network piped: 2 hosts, 1 link, 0 bridges, 0 VLANs, 0 programs\n");
    const jsonStdin = await runWithInput(["validate", "-"], '{ "name": "j", "hosts": { "a": {} } }');
    assert.equal(jsonStdin.code, 0, jsonStdin.stderr);

    const mixed = await runWithInput(
      ["validate", "examples/star.yaml", "-"],
      "hosts:\n  a: {}\nlinks:\n  - ends: [a:a0, ghost:g0]\n",
    );
    assert.equal(mixed.code, 2);
    assert.match(mixed.stdout, /valid: examples\/star\.yaml/);
    assert.match(mixed.stderr, /stdin:4:\d+: links\[0\]\.ends\[1\]: unknown host "ghost"/);
  });

  test("--no-color and FORCE_COLOR decide the colours", async () => {
    const colour = /\x1b\[/;
    const forced = await runCli(["validate", "examples/star.yaml"], { FORCE_COLOR: "1" });
    assert.match(forced.stdout, colour, "FORCE_COLOR colours a pipe");
    assert.doesNotMatch((await runCli(["validate", "examples/star.yaml"])).stdout, colour, "a pipe is plain");
    assert.doesNotMatch(
      (await runCli(["validate", "examples/star.yaml", "--no-color"], { FORCE_COLOR: "1" })).stdout,
      colour,
    );
    assert.doesNotMatch(
      (await runCli(["--no-color", "validate", "examples/star.yaml"], { FORCE_COLOR: "1" })).stdout,
      colour,
    );
    assert.doesNotMatch((await runCli(["validate", "examples/star.yaml"], { FORCE_COLOR: "0" })).stdout, colour);
  });

  test("completion bash|zsh|fish: generated from the program's commands and options; bash -n accepts the bash one", async () => {
    const bash = await runCli(["completion", "bash"]);
    assert.equal(bash.code, 0, bash.stderr);
    for (const command of [
      "up",
      "down",
      "run",
      "exec",
      "impair",
      "probe",
      "fault",
      "inspect",
      "ls",
      "cleanup",
      "doctor",
      "validate",
      "graph",
      "export",
      "completion",
    ]) {
      assert.match(bash.stdout, new RegExp(`\\b${command}\\)`), `bash completion has a case for ${command}`);
    }
    assert.match(bash.stdout, /--detach/);
    assert.match(bash.stdout, /--format\) COMPREPLY=\( \$\(compgen -W "mermaid dot svg"/);
    const check = spawnSync("bash", ["-n"], { input: bash.stdout, timeout: 30_000 });
    assert.equal(check.status, 0, check.stderr.toString());
    // The script completes: the words a user would get after "dummynet up --de<TAB>" and "dummynet vali<TAB>".
    const complete = (words: string[]) =>
      spawnSync(
        "bash",
        [
          "-c",
          `${bash.stdout}\nCOMP_WORDS=(${words.map((w) => `'${w}'`).join(" ")}); COMP_CWORD=${words.length - 1}; _dummynet_completion; echo "\${COMPREPLY[@]}"`,
        ],
        { timeout: 30_000 },
      )
        .stdout.toString()
        .trim();
    assert.equal(complete(["dummynet", "up", "--de"]), "--detach");
    assert.equal(complete(["dummynet", "vali"]), "validate");
    assert.equal(complete(["dummynet", "completion", "f"]), "fish");

    const zsh = await runCli(["completion", "zsh"]);
    assert.match(zsh.stdout, /^#compdef dummynet/);
    assert.match(zsh.stdout, /'inspect:/);
    const fish = await runCli(["completion", "fish"]);
    assert.match(fish.stdout, /complete -c dummynet -n '__fish_seen_subcommand_from up' -s d -l detach/);
    const wrong = await runCli(["completion", "tcsh"]);
    assert.equal(wrong.code, 2);
  });

  test("every command's --help has examples", async () => {
    for (const command of [
      "up",
      "down",
      "run",
      "exec",
      "impair",
      "probe",
      "inspect",
      "ls",
      "cleanup",
      "doctor",
      "validate",
      "graph",
      "export",
      "completion",
    ]) {
      const help = await runCli([command, "--help"]);
      assert.equal(help.code, 0, help.stderr);
      assert.match(
        help.stdout,
        new RegExp(`Examples:\\n  dummynet ${command}|Examples:\\n  .*dummynet ${command}`),
        `${command} --help`,
      );
    }
  });
});
