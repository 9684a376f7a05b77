// Host tests: what applyNetem does on this machine's kernel, in real namespaces.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { InvalidArgumentError, SystemCommandError } from "../errors.js";
import { createLogger } from "../log.js";
import { InterfaceScoped, NamespaceScoped } from "../names/scoped.js";
import { SpawnRunner } from "../system/spawn-runner.js";
import { assertNothingLeft } from "../testing/leftovers.js";
import { QdiscConflictError, applyNetem } from "./netem-apply.js";
import { type TcShell, showQdiscs } from "./netem-read.js";

const uid = process.pid;
const log = createLogger("silent");
const runner = new SpawnRunner({ log });
const namespace = new NamespaceScoped("tc", uid).scoped;
const veth = new InterfaceScoped("tc0", uid).scoped;
const peer = new InterfaceScoped("tc1", uid).scoped;
const shell: TcShell = { namespace, log, system: (argv, options = {}) => runner.run(argv, { ...options, namespace }) };
const ip = (...args: string[]) => execFileSync("ip", args, { stdio: "pipe", timeout: 30_000 }).toString();

/** Whether this kernel has netem: asked of the kernel itself, on a scratch device. */
function kernelHasNetem(): boolean {
  try {
    execFileSync("tc", ["-n", namespace, "qdisc", "add", "dev", peer, "root", "netem", "delay", "1ms"], {
      stdio: "pipe",
      timeout: 30_000,
    });
    execFileSync("tc", ["-n", namespace, "qdisc", "del", "dev", peer, "root"], { stdio: "pipe", timeout: 30_000 });
    return true;
  } catch {
    return false;
  }
}

const links = () => ip("-n", namespace, "-o", "link", "show");
const rootKind = async () => (await showQdiscs(shell, veth)).filter((q) => q.root).map((q) => `${q.kind} ${q.handle}`);

describe("applyNetem on the host kernel", { timeout: 180_000 }, () => {
  before(() => {
    ip("netns", "add", namespace);
    ip("-n", namespace, "link", "add", veth, "type", "veth", "peer", peer);
    ip("-n", namespace, "link", "set", veth, "up");
    ip("-n", namespace, "link", "set", peer, "up");
  });
  after(() => {
    ip("netns", "del", namespace);
    assertNothingLeft(uid);
  });

  test("a kernel without sch_netem is refused with `modprobe sch_netem`; with it, netem is installed", async () => {
    if (kernelHasNetem()) {
      const handle = await applyNetem(shell, veth, { delay: 5 }, { uid });
      assert.deepEqual(await rootKind(), ["netem d0:"]);
      await handle.restore();
      assert.deepEqual(await rootKind(), ["noqueue 0:"]);
      return;
    }
    await assert.rejects(applyNetem(shell, veth, { delay: 20, loss: 1 }, { uid }), (error: unknown) => {
      assert.ok(error instanceof SystemCommandError);
      assert.match(error.message, /netem/);
      assert.match(error.message, /modprobe sch_netem/);
      return true;
    });
    assert.deepEqual(await rootKind(), ["noqueue 0:"], "a refused call leaves the root qdisc as it was");
  });

  test("ingress shaping that the kernel refuses leaves no IFB device and no ingress qdisc behind", async () => {
    if (kernelHasNetem()) {
      const handle = await applyNetem(shell, veth, { ingress: { delay: 5 } }, { uid });
      assert.match(links(), new RegExp(handle.ifb!));
      await handle.restore();
    } else {
      await assert.rejects(applyNetem(shell, veth, { ingress: { delay: 5 } }, { uid }), /modprobe sch_netem/);
    }
    assert.doesNotMatch(links(), /ifb/);
    assert.deepEqual(
      (await showQdiscs(shell, veth)).map((q) => q.kind),
      ["noqueue"],
    );
  });

  test("invalid options are refused before anything changes", async () => {
    await assert.rejects(
      applyNetem(shell, veth, { delay: 20, jitter: -1, ingress: { delay: 5 } }, { uid }),
      (error: unknown) => {
        assert.ok(error instanceof InvalidArgumentError);
        assert.match(error.message, /tc option jitter: -1/);
        return true;
      },
    );
    await assert.rejects(applyNetem(shell, veth, { reorder: 50 }, { uid }), /tc option reorder: 50 .*needs a delay/);
    await assert.rejects(
      applyNetem(shell, veth, { ingress: true }, { uid }),
      /ingress: true copies the options of outgoing traffic/,
    );
    assert.deepEqual(await rootKind(), ["noqueue 0:"]);
    assert.doesNotMatch(links(), /ifb/);
  });

  test("a root qdisc dummynet could not put back is refused and kept", async () => {
    execFileSync(
      "tc",
      [
        "-n",
        namespace,
        "qdisc",
        "add",
        "dev",
        veth,
        "root",
        "handle",
        "5:",
        "tbf",
        "rate",
        "1mbit",
        "burst",
        "10k",
        "latency",
        "50ms",
      ],
      { timeout: 30_000 },
    );
    try {
      await assert.rejects(applyNetem(shell, veth, { delay: 20 }, { uid }), (error: unknown) => {
        assert.ok(error instanceof QdiscConflictError);
        assert.match(error.message, /root qdisc is tbf 5:.*tc qdisc del dev/);
        return true;
      });
      assert.deepEqual(await rootKind(), ["tbf 5:"]);
    } finally {
      execFileSync("tc", ["-n", namespace, "qdisc", "del", "dev", veth, "root"], { timeout: 30_000 });
    }
  });

  test("seed is refused with what to upgrade when tc or the kernel lacks it", async (t) => {
    const version = execFileSync("tc", ["-V"], { timeout: 30_000 }).toString();
    const [major = 0, minor = 0] = (/iproute2-(\d+)\.(\d+)/.exec(version) ?? []).slice(1).map(Number);
    if (!kernelHasNetem() || major < 6 || (major === 6 && minor < 6)) {
      t.diagnostic(`tc is ${version.trim()}`);
      await assert.rejects(
        applyNetem(shell, veth, { loss: 1, seed: 7 }, { uid }),
        /seed needs tc from iproute2 6.6 or later/,
      );
      assert.deepEqual(await rootKind(), ["noqueue 0:"]);
      return;
    }
    // tc knows seed; the kernel may still refuse it: either way the link ends as it was.
    let handle: Awaited<ReturnType<typeof applyNetem>> | undefined;
    try {
      handle = await applyNetem(shell, veth, { loss: 1, seed: 7 }, { uid });
    } catch (error) {
      assert.match(String(error), /seed needs tc from iproute2 6.6 or later and a kernel/);
    }
    if (handle) {
      const shown = execFileSync("tc", ["-n", namespace, "qdisc", "show", "dev", veth], { timeout: 30_000 }).toString();
      assert.match(shown, /netem .*seed 7/, "the kernel took the seed");
      await handle.restore();
    }
    assert.deepEqual(await rootKind(), ["noqueue 0:"]);
  });
});
