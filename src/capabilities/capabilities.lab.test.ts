// requires: netem, vlan, cgroup2
/**
 * On a kernel with netem, 802.1Q and cgroup v2 (the lab guest, or a host that
 * has them) the report says so, and the features really work: a netem qdisc
 * is listed by tc, a VLAN link exists with its id, a cgroup v2 group takes a
 * memory limit.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { type Capabilities, detectCapabilities, formatCapabilities } from "./index.js";
import { CGroupScoped, InterfaceScoped, NamespaceScoped } from "../names/scoped.js";
import { assertNothingLeft } from "../testing/leftovers.js";

const uid = process.pid;
const namespace = new NamespaceScoped("caplab", uid).scoped;
const link = (name: string): string => new InterfaceScoped(name, uid).scoped;
const cgroupDir = `/sys/fs/cgroup/${new CGroupScoped("caplab", uid).scoped}`;

function run(argv: string[]): string {
  return execFileSync(argv[0], argv.slice(1), { encoding: "utf8", timeout: 30_000 });
}

describe("capabilities on a kernel with netem, VLAN and cgroup v2", { timeout: 1_200_000 }, () => {
  let report: Capabilities;

  before(async () => {
    report = await detectCapabilities();
    run(["ip", "netns", "add", namespace]);
  });

  after(() => {
    spawnSync("ip", ["netns", "delete", namespace], { stdio: "ignore", timeout: 30_000 });
    if (existsSync(cgroupDir)) rmdirSync(cgroupDir);
    assertNothingLeft(uid);
  });

  test("the report says netem, vlan and cgroup2 are available, by probing", () => {
    for (const feature of ["netem", "vlan", "netns", "veth"] as const) {
      assert.equal(report[feature].available, true, `${feature}: ${report[feature].evidence}`);
      assert.equal(report[feature].probed, true, feature);
    }
    assert.equal(report.cgroup2.available, true, report.cgroup2.evidence);
    assert.equal(report.cgroup.version, 2);
    assert.ok(report.cgroup.v2Controllers.includes("memory") && report.cgroup.v2Controllers.includes("cpu"));
    assert.match(formatCapabilities(report), /^ok\s+netem/m);
  });

  test("a netem qdisc on a veth link is listed by tc with its delay", () => {
    run(["ip", "-n", namespace, "link", "add", link("na"), "type", "veth", "peer", "name", link("nb")]);
    run(["tc", "-n", namespace, "qdisc", "add", "dev", link("na"), "root", "netem", "delay", "20ms"]);
    const qdiscs = JSON.parse(run(["tc", "-n", namespace, "-j", "qdisc", "show", "dev", link("na")])) as {
      kind: string;
      options?: { delay?: { delay?: number } };
    }[];
    const netem = qdiscs.find((q) => q.kind === "netem");
    assert.ok(netem, `tc lists ${qdiscs.map((q) => q.kind).join(",")}`);
    assert.equal(netem.options?.delay?.delay, 0.02);
  });

  test("a VLAN link on the veth carries its id", () => {
    run(["ip", "-n", namespace, "link", "add", "link", link("na"), "name", link("v200"), "type", "vlan", "id", "200"]);
    const links = JSON.parse(run(["ip", "-n", namespace, "-d", "-j", "link", "show", link("v200")])) as {
      linkinfo?: { info_kind?: string; info_data?: { id?: number } };
    }[];
    assert.equal(links[0]?.linkinfo?.info_kind, "vlan");
    assert.equal(links[0]?.linkinfo?.info_data?.id, 200);
  });

  test("a cgroup v2 group takes a memory limit", () => {
    mkdirSync(cgroupDir);
    writeFileSync(`${cgroupDir}/memory.max`, "67108864");
    assert.equal(readFileSync(`${cgroupDir}/memory.max`, "utf8").trim(), "67108864");
    assert.match(readFileSync(`${cgroupDir}/cgroup.controllers`, "utf8"), /\bmemory\b/);
  });
});
