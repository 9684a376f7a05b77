/**
 * The command line in rootless mode, for real, as uid 65534 (CI runs as
 * root; the tests drop to nobody with a home of its own): `up --detach`, then
 * `inspect`, `exec`, `impair`, `ls`, `down` from other processes of the same
 * user; `run` (keeping the caller's cwd); the same topology twice at once;
 * `doctor`. Each test ends with no process of the user, no record file, and
 * nothing on the real host's /run/netns.
 */
import assert from "node:assert/strict";
import { chownSync, existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, test } from "node:test";
import { runBounded } from "../test-support/program-path.js";
import {
  argvAs,
  processesInNamespaces,
  repoRoot,
  unprivilegedUser,
  type UnprivilegedUser,
  within,
} from "../rootless/unprivileged.test-helpers.js";

const NOBODY = 65534;
const MAIN = join(repoRoot, "src/cli/main.ts");
const STAR = join(repoRoot, "examples/star.yaml");
// tsx by path: the command may run in a directory without node_modules.
const TSX = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `dummynet ARGS` as `user` (a clean environment: no sudo, no root), in `cwd`, killed after 120 s. */
function dummynet(user: UnprivilegedUser, args: readonly string[], cwd = repoRoot): Promise<Result> {
  return runBounded(argvAs(user, [process.execPath, "--import", TSX, MAIN, ...args]), {}, 120_000, cwd); // argvAs's `env -i`: the user sees only its environment
}

const show = (r: Result) => `exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;

async function ok(user: UnprivilegedUser, args: readonly string[], cwd?: string): Promise<Result> {
  const result = await dummynet(user, args, cwd);
  assert.equal(result.code, 0, `dummynet ${args.join(" ")}: ${show(result)}`);
  return result;
}

/** Processes of uid 65534 other than this suite's neighbours (zombies aside): the holders and `up`s must all be gone. */
function processesOf(uid: number, home: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const environ = readFileSync(`/proc/${entry}/environ`, "latin1");
      if (!environ.split("\0").includes(`HOME=${home}`)) continue;
      const status = readFileSync(`/proc/${entry}/status`, "utf8");
      if (/^State:\s+Z/m.test(status) || !new RegExp(`^Uid:\\s+${uid}\\b`, "m").test(status)) continue;
      found.push(`${entry}: ${readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0").join(" ")}`);
    } catch {
      // Ended meanwhile, or not ours to read.
    }
  }
  return found;
}

/** Nothing of `user` is left: no process started with its home, no owner record, no log, no holder namespace, nothing on the host's /run/netns. */
async function assertNothingLeftOf(
  user: UnprivilegedUser,
  names: readonly string[],
  holderNamespaces: readonly string[] = [],
): Promise<void> {
  let left: string[] = [];
  const gone = await within(15_000, () => {
    left = [
      ...processesOf(user.uid, user.home),
      ...processesInNamespaces(holderNamespaces, user.uid).map((p) => `${p.pid}: ${p.command}`),
    ];
    return left.length === 0;
  });
  assert.ok(gone !== undefined, `processes left:\n${left.join("\n")}`);
  const state = join(user.home, "dummynet");
  const files = existsSync(state)
    ? readdirSync(state, { recursive: true })
        .map(String)
        .filter((f) => f !== "owners")
    : [];
  assert.deepEqual(files, [], "no owner record and no log left");
  const hostNetns = existsSync("/run/netns") ? readdirSync("/run/netns") : [];
  assert.deepEqual(
    names.filter((name) => hostNetns.includes(name)),
    [],
    "nothing reached the real host's /run/netns",
  );
}

describe("the command line rootless, as uid 65534", { timeout: 900_000 }, () => {
  test(
    "up --detach --wait, then inspect, exec (a request crosses the bridge), impair, probe, ls, down from other processes; nothing left",
    { timeout: 300_000 },
    async () => {
      const user = unprivilegedUser(NOBODY);
      let hosts: string[] = [];
      let holderNamespaces: string[] = [];
      try {
        const upped = await ok(user, ["up", STAR, "--detach", "--wait", "--json"]);
        const announced = JSON.parse(upped.stdout) as {
          uid: number;
          pid: number;
          stateFile: string;
          hosts: Record<string, string>;
        };
        hosts = Object.values(announced.hosts);
        assert.ok(
          announced.stateFile.startsWith(`${user.home}/dummynet/owners/`),
          `the owner record is in the user's own directory: ${announced.stateFile}`,
        );

        const inspected = JSON.parse((await ok(user, ["inspect", "star", "--json"])).stdout) as {
          hosts: Array<{ name: string; interfaces: Array<{ name: string; addresses: string[] }> }>;
          rootlessHolder?: unknown;
        };
        const h1 = inspected.hosts.find((h) => h.name === "h1");
        assert.ok(
          h1?.interfaces.some((i) => i.name === "h1-sw" && i.addresses.some((a) => a.startsWith("10.0.0.1/"))),
          JSON.stringify(inspected),
        );

        const fetched = await ok(user, [
          "exec",
          "h1",
          "--",
          "node",
          "-e",
          "fetch('http://10.0.0.2:8080/').then((r) => r.text()).then((t) => process.stdout.write(t))",
        ]);
        assert.equal(fetched.stdout, "h2 answered 10.0.0.1\n");

        // The host kernel has no netem: the clear error, and nothing changed; where netem exists this is the lab's impair test.
        const impaired = await dummynet(user, ["impair", "h1:h1-sw", "--delay", "20"]);
        assert.ok(
          impaired.code === 0 || /no "netem" qdisc: load it with `modprobe sch_netem`/.test(impaired.stderr),
          show(impaired),
        );

        const probed = JSON.parse((await ok(user, ["probe", "h1", "h3", "--count", "20", "--json"])).stdout) as {
          received: number;
        };
        assert.ok(probed.received > 0, JSON.stringify(probed));

        const listed = JSON.parse((await ok(user, ["ls", "--json"])).stdout) as {
          owners: Array<{ uid: number; alive: boolean; objects: unknown[]; rootlessHolder?: { pid: number } }>;
          skipped: Array<{ step: string }>;
        };
        const mine = listed.owners.find((o) => o.uid === announced.uid);
        assert.ok(
          mine?.alive && mine.objects.length === 4 && mine.rootlessHolder,
          `ls looks inside the holder: ${JSON.stringify(listed)}`,
        );
        holderNamespaces = [readlinkSync(`/proc/${mine.rootlessHolder.pid}/ns/user`)];
        assert.ok(
          listed.skipped.some((s) => /machine's own namespaces/.test(s.step)),
          "ls says what it could not look at",
        );

        const down = await ok(user, ["down", "star"]);
        assert.match(down.stdout, /removed star/);
        // Other tests of the machine may run as uid 65534 too (their holders are this user's as well): only ours must be gone.
        const after = JSON.parse((await ok(user, ["ls", "--json"])).stdout) as {
          owners: Array<{ uid: number }>;
          where: string;
        };
        assert.equal(after.where, "in this user's rootless holders");
        assert.deepEqual(
          after.owners.filter((o) => o.uid === announced.uid),
          [],
        );
        await assertNothingLeftOf(user, hosts, holderNamespaces);
      } finally {
        user.remove();
      }
    },
  );

  test(
    "run FILE rootless, and run --host H -- COMMAND keeps the caller's working directory",
    { timeout: 200_000 },
    async () => {
      const user = unprivilegedUser(NOBODY);
      try {
        const ran = await ok(user, ["run", STAR]);
        assert.match(ran.stdout, /\[h1-to-h2\] h2 answered 10\.0\.0\.1/);
        assert.match(ran.stdout, /\[h3-to-h2\] h2 answered 10\.0\.0\.3/);
        const work = join(user.home, "work dir");
        mkdirSync(work);
        chownSync(work, NOBODY, NOBODY);
        const pwd = await ok(user, ["run", STAR, "--host", "h1", "--", "sh", "-c", "pwd; ip -br addr"], work);
        assert.match(pwd.stdout, new RegExp(`^${work}\\n`), "the job runs in the caller's cwd, inside host h1");
        assert.match(pwd.stdout, /10\.0\.0\.1\/24/);
        await assertNothingLeftOf(user, []);
      } finally {
        user.remove();
      }
    },
  );

  test(
    "the same user twice with the same topology: two holders, no collision; each taken down by uid",
    { timeout: 300_000 },
    async () => {
      const user = unprivilegedUser(NOBODY);
      try {
        const [first, second] = await Promise.all([
          ok(user, ["up", STAR, "--detach", "--json"]),
          ok(user, ["up", STAR, "--detach", "--json"]),
        ]);
        const a = JSON.parse(first.stdout) as { uid: number; hosts: Record<string, string> };
        const b = JSON.parse(second.stdout) as { uid: number; hosts: Record<string, string> };
        assert.notEqual(a.uid, b.uid);
        const ambiguous = await dummynet(user, ["down", "star"]);
        assert.equal(ambiguous.code, 2, show(ambiguous));
        assert.match(ambiguous.stderr, /2 networks match "star".*give the uid instead/);
        for (const uid of [a.uid, b.uid]) {
          const ping = await ok(user, [
            "exec",
            "h1",
            "--network",
            String(uid),
            "--",
            "node",
            "-e",
            "fetch('http://10.0.0.2:8080/').then((r) => r.text()).then((t) => process.stdout.write(t))",
          ]);
          assert.equal(ping.stdout, "h2 answered 10.0.0.1\n");
        }
        await ok(user, ["down", String(a.uid)]);
        await ok(user, ["down", String(b.uid)]);
        await assertNothingLeftOf(user, [...Object.values(a.hosts), ...Object.values(b.hosts)]);
      } finally {
        user.remove();
      }
    },
  );

  test("doctor names what works rootless and what does not, with the fix", { timeout: 120_000 }, async () => {
    const user = unprivilegedUser(NOBODY);
    try {
      const text = (await ok(user, ["doctor"])).stdout;
      assert.match(text, /Rootless mode .*:\n {2}user namespaces: work/);
      for (const feature of ["network namespaces", "veth", "bridge", "tc tbf"])
        assert.match(text, new RegExp(`\\n  ${feature}: works`));
      // This host's kernel lacks netem and 802.1Q: said, with the fix.
      assert.match(text, /tc netem: (works|does not work: .*\n {4}fix: .*sch_netem)/);
      assert.match(text, /cgroup limits: refused: .*not delegated\n {4}fix: .*Delegate=yes/);
      const json = JSON.parse((await ok(user, ["doctor", "--json"])).stdout) as {
        rootless: { available: boolean; features: unknown[] };
      };
      assert.equal(json.rootless.available, true);
      assert.ok(json.rootless.features.length >= 8);
      await assertNothingLeftOf(user, []);
    } finally {
      user.remove();
    }
  });
});
