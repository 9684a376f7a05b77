/**
 * Each blocker of rootless mode is told apart from the facts and named with
 * its fix (unit tests over the facts), and the ones this machine can produce
 * for real are produced: user namespaces disabled by sysctl (inside a user
 * namespace whose own limit is 0), a missing unshare; and the happy path.
 */
import assert from "node:assert/strict";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { programPath } from "../test-support/program-path.js";
import { classifyRootless, type RootlessFacts, readUserNamespaceSysctls } from "./blockers.js";
import { cgroupDelegation } from "./doctor.js";
import { FixtureRun, spawnFixtureAs, unprivilegedUser } from "./unprivileged.test-helpers.js";

const open: RootlessFacts["sysctls"] = { maxUserNamespaces: 15000 };
const failed = (stderr: string, sysctls = open, exitCode = 1): RootlessFacts => ({
  sysctls,
  missingPrograms: [],
  failure: { exitCode, stderr },
});

describe("classifyRootless", () => {
  test("a holder that started is no problem, whatever the sysctls say", () => {
    assert.equal(
      classifyRootless({
        sysctls: { apparmorRestrictUnprivilegedUserns: 1, maxUserNamespaces: 100 },
        missingPrograms: [],
      }),
      undefined,
    );
  });

  const cases: Array<{ name: string; facts: RootlessFacts; blocker: string; reason: RegExp; fix: RegExp }> = [
    {
      name: "user.max_user_namespaces = 0",
      facts: failed("unshare: unshare failed: No space left on device", { maxUserNamespaces: 0 }),
      blocker: "user-namespaces-disabled",
      reason: /user\.max_user_namespaces = 0.*No space left on device/,
      fix: /sysctl -w user\.max_user_namespaces=15000.*\/etc\/sysctl\.d/,
    },
    {
      name: "kernel.unprivileged_userns_clone = 0 (older Debian kernels)",
      facts: failed("unshare: unshare failed: Operation not permitted", {
        maxUserNamespaces: 15000,
        unprivilegedUsernsClone: 0,
      }),
      blocker: "unprivileged-userns-clone-disabled",
      reason: /kernel\.unprivileged_userns_clone = 0/,
      fix: /sysctl -w kernel\.unprivileged_userns_clone=1/,
    },
    {
      name: "the per-user limit reached",
      facts: failed("unshare: unshare failed: No space left on device", { maxUserNamespaces: 12 }),
      blocker: "user-namespaces-exhausted",
      reason: /limit.*= 12/,
      fix: /end other rootless networks/,
    },
    {
      name: "Ubuntu's AppArmor restriction",
      facts: failed("unshare: write failed /proc/self/uid_map: Operation not permitted", {
        maxUserNamespaces: 15000,
        apparmorRestrictUnprivilegedUserns: 1,
      }),
      blocker: "apparmor-restriction",
      reason: /apparmor_restrict_unprivileged_userns = 1.*uid_map/,
      fix: /userns,.*apparmor_parser -r.*apparmor_restrict_unprivileged_userns=0/,
    },
    {
      name: "a seccomp filter or a container (EPERM from unshare, no sysctl to blame)",
      facts: failed("unshare: unshare failed: Operation not permitted"),
      blocker: "refused-by-kernel",
      reason: /refused.*seccomp.*container/,
      fix: /seccomp=unconfined.*RestrictNamespaces=no/,
    },
    {
      name: "a security module refusing the uid map without AppArmor's sysctl",
      facts: failed("unshare: write failed /proc/self/uid_map: Operation not permitted"),
      blocker: "refused-by-kernel",
      reason: /uid_map/,
      fix: /root or with passwordless sudo/,
    },
    {
      name: "the private /run cannot be mounted",
      facts: failed("mount: /run: permission denied."),
      blocker: "mount-refused",
      reason: /private \/run.*permission denied/,
      fix: /mount in its user namespaces/,
    },
    {
      name: "mount missing inside the holder's shell",
      facts: failed("sh: 3: mount: not found", open, 127),
      blocker: "missing-program",
      reason: /needs mount/,
      fix: /apt-get install mount/,
    },
    {
      name: "unshare and nsenter missing",
      facts: { sysctls: open, missingPrograms: ["unshare", "nsenter"] },
      blocker: "missing-program",
      reason: /needs unshare, nsenter, which are not installed/,
      fix: /apt-get install util-linux/,
    },
    {
      name: "anything else",
      facts: failed("something odd", open, 3),
      blocker: "unknown",
      reason: /did not start \("something odd"\)/,
      fix: /unshare --user --map-root-user/,
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const problem = classifyRootless(c.facts);
      assert.ok(problem, "a problem is found");
      assert.equal(problem.blocker, c.blocker);
      assert.match(problem.reason, c.reason);
      assert.match(problem.fix, c.fix);
      // Every refusal other than a missing program leaves root and sudo as the way out.
      if (c.blocker !== "missing-program") assert.match(problem.fix, /root or with passwordless sudo/);
    });
  }

  test("the sysctls are read where the kernel has them and left undefined where not", () => {
    const proc = mkdtempSync(join(tmpdir(), "dummynet-procsys-"));
    try {
      mkdirSync(join(proc, "user"));
      mkdirSync(join(proc, "kernel"));
      writeFileSync(join(proc, "user/max_user_namespaces"), "0\n");
      writeFileSync(join(proc, "kernel/apparmor_restrict_unprivileged_userns"), "1\n");
      assert.deepEqual(readUserNamespaceSysctls(proc), {
        maxUserNamespaces: 0,
        unprivilegedUsernsClone: undefined,
        apparmorRestrictUnprivilegedUserns: 1,
      });
    } finally {
      rmSync(proc, { recursive: true, force: true });
    }
    assert.ok((readUserNamespaceSysctls().maxUserNamespaces ?? 0) > 0, "this machine allows user namespaces");
  });
});

describe("blockers for real, as uid 65534", { timeout: 180_000 }, () => {
  const probe = async (env: NodeJS.ProcessEnv, wrap: string[] = []) => {
    const user = unprivilegedUser(65534);
    try {
      const run = new FixtureRun(spawnFixtureAs(user, "owner", ["probe"], env, wrap));
      await run.end(60_000);
      return await run.waitFor("probe", 1);
    } finally {
      user.remove();
    }
  };

  test("the happy path: a holder starts", async () => {
    assert.deepEqual({ ...(await probe({})), at: 0 }, { event: "probe", at: 0, started: true });
  });

  test("doctor's report: available, the holder's start time, each network feature tried inside, cgroups not delegated here", async () => {
    const user = unprivilegedUser(65534);
    try {
      const run = new FixtureRun(spawnFixtureAs(user, "owner", ["doctor"]));
      await run.end(60_000);
      const report = await run.waitFor("doctor", 1);
      assert.equal(report["available"], true, JSON.stringify(report));
      assert.ok((report["holderStartMs"] as number) > 0);
      const features = new Map(
        (report["features"] as Array<{ name: string; works: boolean; why?: string }>).map((f) => [f.name, f]),
      );
      for (const name of [
        "network namespaces",
        "veth",
        "addresses and routes",
        "bridge",
        "tc tbf",
        "iptables",
        "iptables-legacy",
        "namespace sysctls",
      ]) {
        assert.equal(features.get(name)?.works, true, `${name}: ${JSON.stringify(features.get(name))}`);
      }
      // vlan and netem depend on the kernel (this host's has neither): either they work or the kernel's words say why.
      for (const name of ["vlan", "tc netem"]) {
        const feature = features.get(name);
        assert.ok(
          feature?.works || /Unknown device type|qdisc kind is unknown/.test(feature?.why ?? ""),
          JSON.stringify(feature),
        );
      }
      const cgroups = report["cgroups"] as { delegated: boolean; fix?: string };
      assert.equal(cgroups.delegated, false, "uid 65534 has no delegated cgroup on this machine");
      assert.match(cgroups.fix ?? "", /Delegate=yes/);
    } finally {
      user.remove();
    }
  });

  test("user namespaces disabled by sysctl (the limit of an enclosing user namespace set to 0): named, with the fix", async () => {
    const disable = [
      "unshare",
      "--user",
      "--map-root-user",
      "--",
      "sh",
      "-c",
      'echo 0 > /proc/sys/user/max_user_namespaces && exec "$@"',
      "sh",
    ];
    const result = await probe({}, disable);
    assert.equal(result["error"], "RootlessUnavailableError", JSON.stringify(result));
    assert.equal(result["blocker"], "user-namespaces-disabled");
    assert.match(
      String(result["message"]),
      /user\.max_user_namespaces = 0 .*No space left on device.*\nFix: enable them: `sudo sysctl -w user\.max_user_namespaces=15000`/s,
    );
  });

  test("unshare missing: named, with the package", async () => {
    const path = programPath(["unshare"]);
    try {
      chmodSync(path.path, 0o755);
      const result = await probe({ PATH: path.path });
      assert.equal(result["blocker"], "missing-program", JSON.stringify(result));
      assert.match(String(result["message"]), /needs unshare, which is not installed.*apt-get install util-linux/s);
    } finally {
      path.remove();
    }
  });
});

describe("cgroupDelegation", () => {
  test("a v2 cgroup this user cannot write is not delegated, and the fix says how to get delegation", () => {
    const proc = mkdtempSync(join(tmpdir(), "dummynet-procself-"));
    try {
      writeFileSync(join(proc, "cgroup"), "4:memory:/x\n0::/user.slice/none-such\n");
      writeFileSync(join(proc, "mountinfo"), "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n");
      const result = cgroupDelegation(proc);
      assert.equal(result.delegated, false);
      assert.match(result.fix, /Delegate=yes/);
      writeFileSync(join(proc, "mountinfo"), "1 0 0:1 / / rw - ext4 /dev/vda rw\n");
      assert.match((cgroupDelegation(proc) as { reason: string }).reason, /no cgroup v2 hierarchy/);
      writeFileSync(join(proc, "mountinfo"), `41 31 0:38 / ${proc} rw,relatime - cgroup2 cgroup2 rw\n`);
      writeFileSync(join(proc, "cgroup"), "0::/\n");
      writeFileSync(join(proc, "cgroup.procs"), "");
      assert.deepEqual(
        cgroupDelegation(proc),
        { delegated: true, path: `${proc}/` },
        "a writable cgroup directory (root here) is delegated",
      );
    } finally {
      rmSync(proc, { recursive: true, force: true });
    }
  });
});
