// requires: netem, vlan, cgroup2
/**
 * The kernel these tests run on (the lab guest, or a host that has the
 * features) really has them, checked with the system's own commands and not
 * through dummynet: a netem delay is applied, read back and felt by ping; two
 * VLAN links carry a ping and a third id does not reach them; cgroup v2 is
 * the hierarchy at /sys/fs/cgroup with the cpu and memory controllers on
 * offer to child groups, whose cpu.max and memory.max take values. A lab
 * guest booted with the wrong kernel or without its modules fails here with
 * the kernel's own words.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { release } from "node:os";
import { CGroupScoped, InterfaceScoped, NamespaceScoped } from "../names/scoped.js";
import { assertNothingLeft } from "../testing/leftovers.js";

const uid = process.pid;
const left = new NamespaceScoped("klab_a", uid).scoped;
const right = new NamespaceScoped("klab_b", uid).scoped;
const link = (name: string): string => new InterfaceScoped(name, uid).scoped;
const cgroupDir = `/sys/fs/cgroup/${new CGroupScoped("klab", uid).scoped}`;
/** A command in the slow lab guest takes well under a second; a hang must not outlive this. */
const COMMAND_TIMEOUT_MS = 30_000;

function run(argv: string[]): string {
  const done = spawnSync(argv[0], argv.slice(1), { encoding: "utf8", timeout: COMMAND_TIMEOUT_MS });
  assert.equal(
    done.status,
    0,
    `${argv.join(" ")} on Linux ${release()}: ${done.error?.message ?? `exit ${done.status ?? done.signal}`}\n${done.stderr}${done.stdout}`,
  );
  return done.stdout;
}

function minimumRtt(pingOutput: string): number {
  const match = /= ([\d.]+)\/[\d.]+\//.exec(pingOutput);
  assert.ok(match, `no rtt summary in ${pingOutput}`);
  return Number(match[1]);
}

describe(`the kernel (Linux ${release()}) has netem, 802.1Q VLANs and cgroup v2 with cpu and memory`, () => {
  before(() => {
    // Two namespaces joined by a veth pair, 10.71.0.1 and .2 on the plain link.
    run(["ip", "netns", "add", left]);
    run(["ip", "netns", "add", right]);
    run(["ip", "-n", left, "link", "add", link("ka"), "type", "veth", "peer", "name", link("kb"), "netns", right]);
    run(["ip", "-n", left, "addr", "add", "10.71.0.1/24", "dev", link("ka")]);
    run(["ip", "-n", right, "addr", "add", "10.71.0.2/24", "dev", link("kb")]);
    run(["ip", "-n", left, "link", "set", link("ka"), "up"]);
    run(["ip", "-n", right, "link", "set", link("kb"), "up"]);
  });

  after(() => {
    for (const namespace of [left, right])
      spawnSync("ip", ["netns", "delete", namespace], { stdio: "ignore", timeout: COMMAND_TIMEOUT_MS });
    if (existsSync(cgroupDir)) rmdirSync(cgroupDir);
    assertNothingLeft(uid);
  });

  test("netem: a 30 ms delay is applied, read back by tc and felt by ping", () => {
    run(["tc", "-n", left, "qdisc", "add", "dev", link("ka"), "root", "netem", "delay", "30ms"]);
    const qdiscs = JSON.parse(run(["tc", "-n", left, "-j", "qdisc", "show", "dev", link("ka")])) as {
      kind: string;
      root?: boolean;
      options?: { delay?: { delay?: number } };
    }[];
    const root = qdiscs.find((q) => q.root);
    assert.equal(root?.kind, "netem", `root qdisc: ${JSON.stringify(qdiscs)}`);
    assert.equal(root.options?.delay?.delay, 0.03);
    const ping = run(["ip", "netns", "exec", left, "ping", "-c", "3", "-i", "0.2", "-W", "5", "10.71.0.2"]);
    // netem is never early; a busy guest only makes it later.
    assert.ok(minimumRtt(ping) >= 30, `a 30 ms delay one way, yet ${ping}`);
    run(["tc", "-n", left, "qdisc", "del", "dev", link("ka"), "root"]);
  });

  test("802.1Q: VLAN 300 links on both ends carry a ping, VLAN 301 does not reach them", () => {
    run(["ip", "-n", left, "link", "add", "link", link("ka"), "name", link("k300"), "type", "vlan", "id", "300"]);
    run(["ip", "-n", right, "link", "add", "link", link("kb"), "name", link("k300"), "type", "vlan", "id", "300"]);
    run(["ip", "-n", left, "link", "add", "link", link("ka"), "name", link("k301"), "type", "vlan", "id", "301"]);
    const details = JSON.parse(run(["ip", "-n", left, "-d", "-j", "link", "show", link("k300")])) as {
      linkinfo?: { info_kind?: string; info_data?: { protocol?: string; id?: number } };
    }[];
    assert.equal(details[0]?.linkinfo?.info_kind, "vlan");
    assert.equal(details[0]?.linkinfo?.info_data?.protocol, "802.1Q");
    assert.equal(details[0]?.linkinfo?.info_data?.id, 300);
    run(["ip", "-n", left, "addr", "add", "10.72.0.1/24", "dev", link("k300")]);
    run(["ip", "-n", right, "addr", "add", "10.72.0.2/24", "dev", link("k300")]);
    run(["ip", "-n", left, "addr", "add", "10.73.0.1/24", "dev", link("k301")]);
    for (const [namespace, name] of [
      [left, link("k300")],
      [right, link("k300")],
      [left, link("k301")],
    ] as const) {
      run(["ip", "-n", namespace, "link", "set", name, "up"]);
    }
    const across = run(["ip", "netns", "exec", left, "ping", "-c", "2", "-i", "0.2", "-W", "5", "10.72.0.2"]);
    assert.match(across, /2 packets transmitted, 2 received/);
    // The right end has no VLAN 301: frames tagged 301 are dropped there, and nothing answers.
    const isolated = spawnSync("ip", ["netns", "exec", left, "ping", "-c", "1", "-W", "1", "10.73.0.2"], {
      encoding: "utf8",
      timeout: COMMAND_TIMEOUT_MS,
    });
    assert.equal(isolated.status, 1, `ping over VLAN 301 must get no answer: ${isolated.stdout}${isolated.stderr}`);
  });

  test("cgroup v2: /sys/fs/cgroup is the unified hierarchy, cpu and memory reach a child group, whose limits take values", () => {
    const mounts = readFileSync("/proc/self/mountinfo", "utf8").split("\n");
    const cgroupMount = mounts.find((line) => line.split(" ")[4] === "/sys/fs/cgroup");
    assert.match(cgroupMount ?? "", / - cgroup2 /, `what is mounted at /sys/fs/cgroup: ${cgroupMount}`);
    const offered = readFileSync("/sys/fs/cgroup/cgroup.subtree_control", "utf8").trim().split(" ");
    for (const controller of ["cpu", "memory"])
      assert.ok(offered.includes(controller), `cgroup.subtree_control offers ${offered.join(" ")}`);
    mkdirSync(cgroupDir);
    assert.deepEqual(
      readFileSync(`${cgroupDir}/cgroup.controllers`, "utf8")
        .trim()
        .split(" ")
        .filter((c) => c === "cpu" || c === "memory")
        .sort(),
      ["cpu", "memory"],
    );
    writeFileSync(`${cgroupDir}/cpu.max`, "25000 100000");
    writeFileSync(`${cgroupDir}/memory.max`, String(48 * 1024 * 1024));
    assert.equal(readFileSync(`${cgroupDir}/cpu.max`, "utf8").trim(), "25000 100000");
    assert.equal(readFileSync(`${cgroupDir}/memory.max`, "utf8").trim(), String(48 * 1024 * 1024));
    rmdirSync(cgroupDir);
  });
});
