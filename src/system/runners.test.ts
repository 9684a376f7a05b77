// The system-command runners against real commands: a worker that exits on a
// bad argument fails only that command (the ones queued behind it still run),
// and a command that does not read its input does not crash the process; and
// what /proc is read with (clock tick, page size).
import { test } from "node:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { InvalidArgumentError, SystemCommandError } from "../errors.js";
import { parseIpJsonArray } from "./ip-json.js";
import { InterfaceScoped } from "../names/scoped.js";
import { IpBatchRunner } from "./ip-batch-runner.js";
import { reportsError } from "./command-runner.js";
import { SpawnRunner } from "./spawn-runner.js";
import { bytesPerPage, ticksPerSecond } from "./proc.js";
import { assertNothingLeft } from "../testing/leftovers.js";

test(
  "IpBatchRunner: a command that makes ip exit fails alone; the commands queued behind it run",
  { timeout: 120_000 },
  async () => {
    const runner = new IpBatchRunner();
    const link = new InterfaceScoped("rq0", process.pid).scoped;
    const peer = new InterfaceScoped("rq1", process.pid).scoped;
    try {
      const [bad, good] = await Promise.allSettled([
        runner.run(["ip", "link", "set", "dev", "lo", "netns", "no-such-namespace-x"]),
        runner.run(["ip", "link", "add", link, "type", "veth", "peer", "name", peer]),
      ]);
      assert.equal(bad.status, "rejected");
      assert.ok(bad.reason instanceof SystemCommandError);
      assert.match(String(bad.reason), /no-such-namespace-x/);
      assert.equal(good.status, "fulfilled", String((good as PromiseRejectedResult).reason));
      await runner.run(["ip", "link", "delete", link]);
    } finally {
      await runner.close();
    }
    assertNothingLeft(process.pid);
  },
);

test(
  "IpBatchRunner: while a link moves between namespaces, another namespace's worker gets no command",
  { timeout: 120_000 },
  async () => {
    // A move waits for a grace period, and changes elsewhere meanwhile make it slower (docs/performance.md): the
    // other worker's command is written once the move has ended, which the bytes that worker has read show.
    const runner = new IpBatchRunner();
    const [moveTo, other] = ["rqm", "rqo"].map((name) => new InterfaceScoped(name, process.pid).scoped);
    const [link, peer] = ["rqm0", "rqm1"].map((name) => new InterfaceScoped(name, process.pid).scoped);
    try {
      await Promise.all([moveTo, other].map((ns) => runner.run(["ip", "netns", "add", ns])));
      await runner.run(["ip", "link", "add", link, "type", "veth", "peer", "name", peer]);
      await runner.run(["ip", "link", "set", "dev", "lo", "up"], { namespace: other });
      const worker = runner.helperPids(other).at(0);
      assert.ok(worker !== undefined, "the other namespace has a worker");
      const bytesRead = () => Number(/^rchar: (\d+)$/m.exec(readFileSync(`/proc/${worker}/io`, "utf8"))?.[1]);
      const before = bytesRead();
      const move = { done: false };
      const moving = runner.run(["ip", "link", "set", "dev", link, "netns", moveTo]).then(() => (move.done = true));
      const later = runner.run(["ip", "link", "set", "dev", "lo", "down"], { namespace: other });
      let watched = 0;
      for (; !move.done; watched++) {
        assert.equal(bytesRead(), before, "the other worker read its command while the link was moving");
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
      await Promise.all([moving, later]);
      assert.ok(watched > 0, "the move ended before it could be watched");
      assert.ok(bytesRead() > before, "the other worker got its command after the move");
    } finally {
      await runner.run(["ip", "link", "delete", peer], { allowFailure: true });
      await Promise.all([moveTo, other].map((ns) => runner.run(["ip", "netns", "del", ns], { allowFailure: true })));
      await runner.close();
    }
    assertNothingLeft(process.pid);
  },
);

test(
  "IpBatchRunner: reads go through the namespace's worker, each answered by its own listing, between changes",
  { timeout: 120_000 },
  async () => {
    const spawned: string[] = [];
    const fallback = new SpawnRunner();
    const runner = new IpBatchRunner({
      fallback: {
        run: (argv, options) => {
          spawned.push(argv.join(" "));
          return fallback.run(argv, options);
        },
      },
    });
    const namespace = new InterfaceScoped("rqns", process.pid).scoped;
    const addresses = (stdout: string) =>
      parseIpJsonArray<{ ifname: string; addr_info?: { local: string }[] }>(stdout)
        .filter((link) => link.ifname === "lo")
        .flatMap((link) => (link.addr_info ?? []).map((info) => info.local))
        .filter((address) => address.startsWith("10."));
    await runner.run(["ip", "netns", "add", namespace]);
    try {
      const at = { namespace };
      // One turn: changes and reads interleaved go out in one write and run in order.
      const results = await Promise.allSettled([
        runner.run(["ip", "addr", "add", "10.77.0.1/32", "dev", "lo"], at),
        runner.run(["ip", "-j", "addr", "show"], at),
        runner.run(["ip", "-j", "route", "show", "dev", "no-such-device"], at),
        runner.run(["ip", "addr", "add", "10.77.0.2/32", "dev", "lo"], at),
        runner.run(["ip", "-j", "-d", "addr", "show", "dev", "lo"], at),
        runner.run(["ip", "-j", "route", "show", "table", "all"], at),
      ]);
      const value = (i: number) => {
        const result = results[i];
        assert.equal(result.status, "fulfilled", String((result as PromiseRejectedResult).reason));
        return result.value.stdout;
      };
      assert.deepEqual(addresses(value(1)), ["10.77.0.1"]);
      assert.equal(results[2].status, "rejected");
      assert.match(String(results[2].reason), /no-such-device/);
      assert.deepEqual(addresses(value(4)), ["10.77.0.1", "10.77.0.2"]);
      const routes = parseIpJsonArray<{ dst: string; table?: string }>(value(5));
      assert.ok(
        routes.some((route) => route.dst === "10.77.0.2" && route.table === "local"),
        value(5),
      );
      assert.deepEqual(spawned, [], "no read needed a process of its own");
      assert.equal(runner.helperPids().length, 2, "the host's worker and the namespace's");
    } finally {
      await runner.run(["ip", "netns", "del", namespace]);
      await runner.close();
    }
    assertNothingLeft(process.pid);
  },
);

test(
  "IpBatchRunner: a read refused for an error ip printed beside its listing does not hand that listing to the next read",
  { timeout: 60_000 },
  async () => {
    // A stand-in for `ip -batch`: each listing prints one array (named by its line), the one of "warn" with an
    // error notice on stderr as well; a marker line fails as ip fails it.
    const fakeIp = [
      "n=0",
      "while IFS= read -r line; do",
      "  n=$((n+1))",
      '  case "$line" in',
      '    dummynet-ack-*) printf \'Object "%s" is unknown, try "ip help".\\nCommand failed -:%d\\n\' "$line" "$n" >&2 ;;',
      '    *warn*) echo "[{\\"ifname\\":\\"line$n\\"}]"; echo "Error: a notice ip printed" >&2 ;;',
      '    *) echo "[{\\"ifname\\":\\"line$n\\"}]" ;;',
      "  esac",
      "done",
    ].join("\n");
    const wrap = () => ["/bin/sh", "-c", fakeIp];
    const runner = new IpBatchRunner({
      privilege: { mode: "root", direct: true, wrap, wrapUserCommand: wrap, ready: () => Promise.resolve() },
    });
    try {
      const [first, warned, next] = await Promise.allSettled([
        runner.run(["ip", "-j", "link", "show"]),
        runner.run(["ip", "-j", "link", "show", "warn"]),
        runner.run(["ip", "-j", "link", "show"]),
      ]);
      assert.equal(first.status, "fulfilled");
      assert.match(first.value.stdout, /"line1"/);
      assert.equal(warned.status, "rejected");
      assert.match(String(warned.reason), /a notice ip printed/);
      assert.equal(next.status, "fulfilled");
      assert.match(next.value.stdout, /"line5"/, "the next read gets its own listing, not the refused one's");
    } finally {
      await runner.close();
    }
  },
);

test("SpawnRunner: input the command never reads is not an unhandled EPIPE", { timeout: 120_000 }, async () => {
  const result = await new SpawnRunner().run(["true"], { input: "x".repeat(4 << 20) });
  assert.equal(result.exitCode, 0);
});

test(
  "SpawnRunner: a program this user may not execute fails naming the permission, not as missing",
  { timeout: 60_000 },
  async (t) => {
    // A file without an execute bit: spawn says EACCES, even for root.
    const directory = mkdtempSync(join(tmpdir(), "dummynet-eacces-"));
    const program = join(directory, "not-executable");
    writeFileSync(program, "#!/bin/sh\n", { mode: 0o644 });
    t.after(() => {
      rmSync(directory, { recursive: true, force: true });
    });
    await assert.rejects(new SpawnRunner().run([program]), (error: unknown) => {
      assert.ok(error instanceof SystemCommandError, String(error));
      assert.equal(error.constructor.name, "SystemCommandError");
      assert.match(error.message, /permission denied: this user \(uid \d+\) may not execute /);
      assert.ok(error.message.includes(`may not execute ${program}; fix the permission or the PATH`), error.message);
      return true;
    });
  },
);

test(
  "both runners refuse an over-long ip argument before ip can make an unnamed device",
  { timeout: 120_000 },
  async () => {
    // ip would overflow its netlink message, drop the name, exit 0, and the kernel would make "bridgeN".
    const bridges = () =>
      execFileSync("ip", ["-o", "link", "show", "type", "bridge"], { encoding: "utf8", timeout: 30_000 });
    const before = bridges();
    const name = `${new InterfaceScoped("x", process.pid).scoped}${"x".repeat(5000)}`;
    const batch = new IpBatchRunner();
    try {
      await assert.rejects(
        batch.run(["ip", "link", "add", name, "type", "bridge"]),
        (error: unknown) =>
          error instanceof InvalidArgumentError &&
          /is \d{4} characters long; ip arguments are names/.test(error.message),
      );
    } finally {
      await batch.close();
    }
    await assert.rejects(new SpawnRunner().run(["ip", "link", "add", name, "type", "bridge"]), InvalidArgumentError);
    assert.equal(bridges(), before, "no device was made");
    assertNothingLeft(process.pid);
  },
);

test("ip output with a control character in a name is still read", { timeout: 120_000 }, () => {
  const odd = `d-2-a${String.fromCharCode(0x11)}`;
  // What ip -j prints: the character raw inside the JSON string.
  const printed = `[{"ifname":"lo"},{"ifname":"${odd}"}]\n`;
  assert.throws(() => JSON.parse(printed), SyntaxError);
  assert.deepEqual(parseIpJsonArray<{ ifname: string }>(printed), [{ ifname: "lo" }, { ifname: odd }]);
  assert.deepEqual(parseIpJsonArray("\n"), []);
});

test("reportsError: ip's notice about a namespace deleted mid-listing is not a failure; its other errors are", () => {
  assert.equal(reportsError("Error: Peer netns reference is invalid.\n"), false);
  assert.equal(
    reportsError("Error: Peer netns reference is invalid.\nError: Peer netns reference is invalid.\n"),
    false,
  );
  assert.equal(
    reportsError('Error: Peer netns reference is invalid.\nCannot find device "x"\nError: argument is wrong\n'),
    true,
  );
  assert.equal(reportsError("addattr_l ERROR: message exceeded bound of 1024\n"), true);
  assert.equal(reportsError(""), false);
});

test("the clock tick and page size read from the auxiliary vector are what getconf says", () => {
  const getconf = (name: string) =>
    Number(execFileSync("getconf", [name], { encoding: "utf8", timeout: 10_000 }).trim());
  assert.equal(ticksPerSecond(), getconf("CLK_TCK"));
  assert.equal(bytesPerPage(), getconf("PAGESIZE"));
});
