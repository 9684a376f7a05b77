/**
 * The capability report must agree with what the kernel does when asked
 * directly: each feature is tried here by hand, in a namespace of this test's
 * own, and the report's answer is compared with the outcome.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, realpathSync } from "node:fs";
import {
  KERNEL_FEATURES,
  type Capabilities,
  detectCapabilities,
  formatCapabilities,
  missingFeatures,
} from "./index.js";
import { InterfaceScoped, NamespaceScoped } from "../names/scoped.js";
import { assertNothingLeft } from "../testing/leftovers.js";

const uid = process.pid;
const namespace = new NamespaceScoped("capcheck", uid).scoped;
const link = (name: string): string => new InterfaceScoped(name, uid).scoped;

/** Runs a command; true when it exits 0. */
function succeeds(argv: string[]): boolean {
  return spawnSync(argv[0], argv.slice(1), { stdio: "ignore", timeout: 30_000 }).status === 0;
}

// eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- the caller names the shape of the JSON; it is not checked
function json<T>(argv: string[]): T {
  return JSON.parse(execFileSync(argv[0], argv.slice(1), { encoding: "utf8", timeout: 30_000 })) as T;
}

interface QdiscJson {
  kind: string;
  dev: string;
}
interface LinkJson {
  ifname: string;
  linkinfo?: { info_kind?: string; info_data?: { id?: number } };
}

function linkKind(name: string): string | undefined {
  const links = json<LinkJson[]>(["ip", "-n", namespace, "-d", "-j", "link", "show"]);
  return links.find((l) => l.ifname === name)?.linkinfo?.info_kind;
}

describe("detectCapabilities on this machine", { timeout: 180_000 }, () => {
  let report: Capabilities;

  before(async () => {
    report = await detectCapabilities();
    assert.ok(succeeds(["ip", "netns", "add", namespace]), "this test needs to create a namespace (run as root)");
  });

  after(() => {
    spawnSync("ip", ["netns", "delete", namespace], { stdio: "ignore", timeout: 30_000 });
    assertNothingLeft(uid);
  });

  test("the probe namespace is gone once detection resolves", () => {
    const names = execFileSync("ip", ["netns", "list"], { encoding: "utf8", timeout: 30_000 });
    assert.doesNotMatch(names, new RegExp(`${new NamespaceScoped("probe", uid).scoped}\\b`));
  });

  test("runs as root and says so", () => {
    assert.equal(report.privileges.root, process.getuid?.() === 0);
    assert.equal(report.privileges.available, true);
  });

  test("netns: available, probed, and a namespace can indeed be made", () => {
    // before() made one; its presence is the independent evidence.
    assert.match(execFileSync("ip", ["netns", "list"], { encoding: "utf8", timeout: 30_000 }), new RegExp(namespace));
    assert.equal(report.netns.available, true);
    assert.equal(report.netns.probed, true);
  });

  test("veth and bridge: the report matches creating them by hand", () => {
    const vethMade = succeeds([
      "ip",
      "-n",
      namespace,
      "link",
      "add",
      link("ta"),
      "type",
      "veth",
      "peer",
      "name",
      link("tb"),
    ]);
    const bridgeMade = succeeds(["ip", "-n", namespace, "link", "add", link("tbr"), "type", "bridge"]);
    assert.equal(report.veth.available, vethMade, report.veth.evidence);
    assert.equal(report.bridge.available, bridgeMade, report.bridge.evidence);
    if (vethMade) assert.equal(linkKind(link("ta")), "veth");
    if (bridgeMade) assert.equal(linkKind(link("tbr")), "bridge");
  });

  test("vlan: the report matches adding an 802.1Q link by hand", () => {
    succeeds(["ip", "-n", namespace, "link", "add", link("vp"), "type", "veth", "peer", "name", link("vq")]);
    const made = spawnSync(
      "ip",
      ["-n", namespace, "link", "add", "link", link("vp"), "name", link("v7"), "type", "vlan", "id", "7"],
      { timeout: 30_000, encoding: "utf8" },
    );
    assert.equal(report.vlan.available, made.status === 0, `report: ${report.vlan.evidence}; by hand: ${made.stderr}`);
    if (made.status === 0) {
      assert.equal(linkKind(link("v7")), "vlan");
    } else {
      assert.match(made.stderr, /Unknown device type/);
      assert.match(report.vlan.howToGet ?? "", /8021q/);
    }
  });

  test("netem: the report matches adding a netem qdisc by hand", () => {
    const made = spawnSync("tc", ["-n", namespace, "qdisc", "add", "dev", "lo", "root", "netem", "delay", "3ms"], {
      encoding: "utf8",
      timeout: 30_000,
    });
    assert.equal(
      report.netem.available,
      made.status === 0,
      `report: ${report.netem.evidence}; by hand: ${made.stderr}`,
    );
    if (made.status === 0) {
      const kinds = json<QdiscJson[]>(["tc", "-n", namespace, "-j", "qdisc", "show", "dev", "lo"]).map((q) => q.kind);
      assert.ok(kinds.includes("netem"), `tc shows ${kinds.join(",")}`);
    } else {
      assert.match(made.stderr, /Specified qdisc kind is unknown/);
      assert.match(report.netem.howToGet ?? "", /sch_netem/);
    }
  });

  test("htb, tbf and ingress: the report matches adding them by hand", () => {
    const htb = succeeds(["tc", "-n", namespace, "qdisc", "replace", "dev", "lo", "root", "handle", "1:", "htb"]);
    assert.equal(report.htb.available, htb);
    const tbf = succeeds([
      "tc",
      "-n",
      namespace,
      "qdisc",
      "replace",
      "dev",
      "lo",
      "root",
      "tbf",
      "rate",
      "2mbit",
      "burst",
      "16kbit",
      "latency",
      "20ms",
    ]);
    assert.equal(report.tbf.available, tbf);
    const ingress = succeeds(["tc", "-n", namespace, "qdisc", "add", "dev", "lo", "ingress"]);
    assert.equal(report.ingress.available, ingress);
    const kinds = json<QdiscJson[]>(["tc", "-n", namespace, "-j", "qdisc", "show", "dev", "lo"]).map((q) => q.kind);
    if (tbf) assert.ok(kinds.includes("tbf"), kinds.join(","));
    if (ingress) assert.ok(kinds.includes("ingress"), kinds.join(","));
  });

  test("ifb: the report matches adding an IFB link by hand", () => {
    const made = succeeds(["ip", "-n", namespace, "link", "add", link("ti"), "type", "ifb"]);
    assert.equal(report.ifb.available, made, report.ifb.evidence);
  });

  test("cgroup version matches the file system type at /sys/fs/cgroup", () => {
    const fsType = execFileSync("stat", ["-f", "-c", "%T", "/sys/fs/cgroup"], {
      encoding: "utf8",
      timeout: 30_000,
    }).trim();
    assert.equal(report.cgroup.version === 2, fsType === "cgroup2fs", `stat says ${fsType}`);
    assert.equal(
      report.cgroup2.available,
      fsType === "cgroup2fs" &&
        report.cgroup.v2Controllers.includes("memory") &&
        report.cgroup.v2Controllers.includes("cpu"),
    );
    if (report.cgroup.version === 1) {
      // Each reported v1 hierarchy really is a cgroup mount holding its controller's files.
      assert.ok(report.cgroup.v1Hierarchies.length > 0);
      for (const hierarchy of report.cgroup.v1Hierarchies) {
        assert.ok(existsSync(`${hierarchy.mountPoint}/cgroup.procs`), hierarchy.mountPoint);
        assert.equal(
          execFileSync("stat", ["-f", "-c", "%T", hierarchy.mountPoint], { encoding: "utf8", timeout: 30_000 }).trim(),
          "cgroupfs",
        );
      }
      const memory = report.cgroup.v1Hierarchies.find((h) => h.controllers.includes("memory"));
      if (memory) assert.ok(existsSync(`${memory.mountPoint}/memory.limit_in_bytes`));
      assert.match(report.cgroup2.howToGet ?? "", /unified/);
    } else if (report.cgroup.version === 2) {
      assert.ok(existsSync("/sys/fs/cgroup/cgroup.controllers"));
    }
  });

  test("iptables flavour matches the binary `iptables` resolves to", () => {
    const which = spawnSync("sh", ["-c", "command -v iptables"], { encoding: "utf8", timeout: 30_000 }).stdout.trim();
    if (which === "") {
      assert.equal(report.iptablesFlavour.flavour, "missing");
      return;
    }
    const target = realpathSync(which);
    const expected = /nft/.test(target) ? "nft" : "legacy";
    assert.equal(report.iptablesFlavour.flavour, expected, `${which} -> ${target}`);
    assert.equal(report.iptables.available, true, report.iptables.evidence);
  });

  test("programs: present exactly when the shell finds them", () => {
    for (const program of ["ip", "tc", "iptables", "ping", "nsenter"] as const) {
      const found =
        spawnSync("sh", ["-c", `command -v ${program}`], { encoding: "utf8", timeout: 30_000 }).status === 0;
      assert.equal(report.programs[program].available, found, program);
      if (!found) assert.match(report.programs[program].howToGet ?? "", /apt-get install/);
    }
  });

  test("missingFeatures lists exactly the unavailable ones", () => {
    const missing = missingFeatures(report, KERNEL_FEATURES);
    assert.deepEqual(
      missing,
      KERNEL_FEATURES.filter((f) => !report[f].available),
    );
    for (const feature of missing) assert.ok(report[feature].howToGet, `${feature} has advice`);
  });

  test("the human report has a line per feature and the advice for each missing one", () => {
    const text = formatCapabilities(report);
    for (const feature of KERNEL_FEATURES) {
      const line = text.split("\n").find((l) => l.split(/\s+/)[1] === feature);
      assert.ok(line, `a line for ${feature}`);
      assert.ok(line.startsWith(report[feature].available ? "ok" : "MISSING"), line);
      if (!report[feature].available) assert.ok(text.includes(report[feature].howToGet!), `advice for ${feature}`);
    }
  });
});

describe("detectCapabilities caching and hint mode", { timeout: 180_000 }, () => {
  test("a second call in the same process returns the cached report", async () => {
    const first = await detectCapabilities();
    const second = await detectCapabilities();
    assert.equal(first, second);
    const fresh = await detectCapabilities({ refresh: true });
    assert.notEqual(fresh, first);
    assert.equal(fresh.netem.available, first.netem.available);
  });

  test("probe: false changes nothing on the system and marks every answer as a hint", async () => {
    const report = await detectCapabilities({ probe: false, refresh: true });
    for (const feature of KERNEL_FEATURES) assert.equal(report[feature].probed, false, feature);
    assertNothingLeft(uid);
  });
});
