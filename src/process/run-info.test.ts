import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { MatchError } from "./errors.js";
import { RunInfo, explainExitCode, formatCommand } from "./run-info.js";

describe("RunInfo", { timeout: 60_000 }, () => {
  test("match() finds a whole line by glob and throws MatchError naming pattern and stream", () => {
    const info = new RunInfo({
      cmd: "ping -c 5 10.0.0.2",
      stdout: "PING\n5 packets transmitted, 5 received\n",
      stderr: "warn: x\n",
    });
    info.match({ stdout: "5 packets transmitted*" });
    info.match({ stdout: "5 packets transmitted*", stderr: "warn: ?" });
    assert.throws(
      () => {
        info.match({ stdout: "packets*" });
      },
      (error: unknown) => {
        assert.ok(error instanceof MatchError);
        assert.equal(error.pattern, "packets*");
        assert.equal(error.streamName, "stdout");
        assert.match(error.message, /Could not match 'packets\*' in stdout output/u);
        return true;
      },
    );
    assert.throws(() => {
      info.match({ stderr: "error*" });
    }, MatchError);
    assert.throws(() => {
      new RunInfo({ cmd: "true" }).match({ stdout: "*x*" });
    }, MatchError);
  });

  test("cpuTotal adds user and system time", () => {
    const info = new RunInfo({ cmd: "x", cpuUser: 1.25, cpuSystem: 0.5 });
    assert.equal(info.cpuTotal, 1.75);
  });

  test("a callback receives what arrives after it was set; stdout keeps everything", () => {
    const info = new RunInfo({ cmd: "x" });
    info.appendOutput("stdout", "early\n");
    const seen: string[] = [];
    info.stdoutCallback = (data) => seen.push(data);
    info.appendOutput("stdout", "late\n");
    assert.deepEqual(seen, ["late\n"]);
    assert.equal(info.stdout, "early\nlate\n");
  });

  test("describe() explains exit codes and signals in words and shows output tails", () => {
    const failed = new RunInfo({ cmd: ["ls", "/no such"], pid: 42, exitCode: 2, stderr: "ls: cannot access\n" });
    assert.match(failed.describe(), /`ls '\/no such'` \(pid 42\) exited with status 2 \(misuse/u);
    assert.match(failed.describe(), /stderr:\n {2}ls: cannot access/u);
    const killed = new RunInfo({ cmd: "sleep 10", pid: 7, signal: "SIGKILL", timeout: 1500 });
    killed.timedOut = true;
    assert.match(killed.describe(), /was killed by SIGKILL after its timeout of 1500 ms/u);
    assert.match(
      new RunInfo({ cmd: "x", signal: "SIGSEGV" }).describe(),
      /killed by SIGSEGV \(a segmentation fault\)/u,
    );
    assert.match(new RunInfo({ cmd: "x", pid: 1 }).describe(), /is still running/u);
    assert.equal(explainExitCode(127), " (command not found)");
    assert.match(explainExitCode(137), /SIGKILL/u);
    const long = new RunInfo({
      cmd: "x",
      exitCode: 1,
      stdout: Array.from({ length: 100 }, (_, i) => `line ${i}`).join("\n"),
    });
    assert.match(long.describe(), /last lines of 100/u);
    assert.match(long.describe(), /line 99/u);
    assert.doesNotMatch(long.describe(), /line 50\n/u);
    assert.match(String(long), /^RunInfo `x`/u);
  });

  test("formatCommand quotes array elements that a shell would split", () => {
    assert.equal(formatCommand(["echo", "a b", "it's", "$(x)"]), `echo 'a b' 'it'\\''s' '$(x)'`);
    assert.equal(formatCommand("echo $HOME"), "echo $HOME");
  });
});
