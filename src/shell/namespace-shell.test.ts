import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readlinkSync, statSync } from "node:fs";
import { InvalidArgumentError } from "../errors.js";
import { NamespaceScoped } from "../names/scoped.js";
import { assertNothingLeft } from "../testing/leftovers.js";
import { HostShell } from "./host-shell.js";
import { NamespaceShell } from "./namespace-shell.js";

after(() => {
  assertNothingLeft(process.pid);
});

describe("NamespaceShell in a real network namespace", { timeout: 120_000 }, () => {
  test("commands run inside the namespace; system() reaches it too", async () => {
    const host = new HostShell();
    const name = new NamespaceScoped("x", process.pid).scoped;
    await host.system(["ip", "netns", "add", name]);
    try {
      const shell = new NamespaceShell(name, host);
      assert.equal(shell.namespace, name);
      assert.equal(shell.processMonitor, host.processMonitor);
      assert.equal(shell.log, host.log);
      assert.equal(shell.sudo, host.sudo);

      // Only lo exists in a fresh namespace (the host has more, e.g. eth0).
      const inside = JSON.parse((await shell.run(["ip", "-j", "link", "show"])).stdout) as { ifname: string }[];
      assert.deepEqual(
        inside.map((link) => link.ifname),
        ["lo"],
      );
      const viaSystem = JSON.parse((await shell.system(["ip", "-j", "link", "show"])).stdout) as { ifname: string }[];
      assert.deepEqual(
        viaSystem.map((link) => link.ifname),
        ["lo"],
      );
      const viaNsenter = await shell.system(["cat", "/proc/net/dev"]);
      assert.deepEqual(
        viaNsenter.stdout
          .split("\n")
          .slice(2)
          .filter(Boolean)
          .map((line) => line.trim().split(":")[0]),
        ["lo"],
      );

      // A shell line is one argument of /bin/sh -c; an array is never interpreted.
      assert.equal((await shell.run("ip -o link | wc -l")).stdout.trim(), "1");
      assert.equal((await shell.run(["echo", "$(id -u)", "; ls"])).stdout, "$(id -u) ; ls\n");

      // An async process runs in the namespace (same network namespace inode as /run/netns/<name>).
      const sleeper = await shell.runAsync(["sh", "-c", "echo ready; exec sleep 30"], { daemon: true });
      // `ip netns exec` switches namespace before exec'ing the command: wait until the command itself speaks.
      await new Promise<void>(
        (resolve) =>
          (sleeper.stdoutCallback = () => {
            resolve();
          }),
      );
      assert.equal(readlinkSync(`/proc/${sleeper.pid}/ns/net`), `net:[${statSync(`/run/netns/${name}`).ino}]`);
      await host.processMonitor.stopProcessAsync(sleeper);

      const polled = await shell.pollUntil("ip -o link", { matchStdout: "1: lo:*", timeout: 5000 });
      assert.equal(polled.exitCode, 0);
    } finally {
      await host.processMonitor.stop({ validateState: false });
      await host.system(["ip", "netns", "delete", name]);
    }
  });

  test("a namespace name is checked before it is used", () => {
    const host = new HostShell();
    assert.throws(() => new NamespaceShell("bad name; reboot", host), InvalidArgumentError);
    assert.throws(() => new NamespaceShell("", host), InvalidArgumentError);
    assert.deepEqual(new NamespaceShell("d-2-a", host).inNamespace("echo $x"), [
      "ip",
      "netns",
      "exec",
      "d-2-a",
      "/bin/sh",
      "-c",
      "echo $x",
    ]);
  });
});
