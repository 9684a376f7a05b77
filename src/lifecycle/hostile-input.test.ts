/**
 * Hostile input (issue 6, point 5), property-based with fast-check: generated
 * names, addresses, ids, limits, sysctls, netem options, command arguments and
 * topology documents are thrown at the API and at the file loader.
 *
 * Every input is either accepted and works (the object is really there:
 * `ip -j`, the cgroup directory, the sysctl read back), or rejected with a
 * DummyNetError that names the argument and value (for the loader: file,
 * line and column); never a TypeError or another unclear crash. Nothing is
 * left on the system either way, no generated string ever runs a shell
 * command (the payloads would create a sentinel file), and no name reaches a
 * directory outside /sys/fs/cgroup or /run/netns.
 */
/* eslint-disable @typescript-eslint/no-base-to-string -- hostile values of any type are stringified on purpose */
import { after, describe, test } from "node:test";
import { parseIpJson } from "../system/ip-json.js";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { BlockList, isIP } from "node:net";
import { availableParallelism, tmpdir, totalmem } from "node:os";
import { join, resolve } from "node:path";
import fc from "fast-check";
import { stringify as toYaml } from "yaml";
import { CGroup } from "../cgroups/cgroup.js";
import { validateCpuLimit, validateMemoryLimit } from "../cgroups/limits.js";
import { DummyNetError, InvalidArgumentError, describeValue } from "../errors.js";
import { CGroupScoped, InterfaceScoped, NamespaceScoped, type Scoped } from "../names/scoped.js";
import { DummyNet } from "../network/dummy-net.js";
import { IpBatchRunner } from "../system/ip-batch-runner.js";
import { netemArguments } from "../tc/netem-options.js";
import { validateNetemOptions } from "../tc/netem-validate.js";
import { buildNetwork } from "../topology/build.js";
import { TopologyError, formatIssue } from "../topology/errors.js";
import { parseTopology } from "../topology/load.js";
import type { Topology } from "../topology/model.js";
import {
  checkAddressWithPrefix,
  checkIpAddress,
  checkSysctlName,
  checkSysctlValue,
  checkVlanId,
} from "../validation/arguments.js";
import { checkPid } from "../system/proc.js";
import { assertNothingLeft, leftovers, ownerPrefix } from "../testing/leftovers.js";

const SENTINEL = join(tmpdir(), `dn-sentinel-${process.pid}`);
const ESCAPE = `dn-escape-${process.pid}`;
/** Where an escaping name would land: none of these may ever exist. */
const ESCAPE_TARGETS = [
  join(tmpdir(), ESCAPE),
  `/${ESCAPE}`,
  `/run/${ESCAPE}`,
  `/run/netns/${ESCAPE}`,
  `/sys/${ESCAPE}`,
  `/sys/fs/${ESCAPE}`,
  `/sys/fs/cgroup/${ESCAPE}`,
  ...safeReaddir("/sys/fs/cgroup").map((entry) => `/sys/fs/cgroup/${entry}/${ESCAPE}`),
];

/** Payloads that create the sentinel if any layer hands them to a shell. */
const INJECTIONS = [
  `$(touch ${SENTINEL})`,
  `;touch ${SENTINEL}`,
  `\`touch ${SENTINEL}\``,
  `|touch ${SENTINEL}`,
  `&touch ${SENTINEL}`,
  `&&touch ${SENTINEL}`,
  `\ntouch ${SENTINEL}`,
  `';touch ${SENTINEL};'`,
  `";touch ${SENTINEL};"`,
  `$(touch\${IFS}${SENTINEL})`,
  `>${SENTINEL}`,
];
/** Names that would escape their directory if pasted into a path. */
const PATHS = [
  "..",
  ".",
  "/",
  "../",
  "./x",
  `../../../../tmp/${ESCAPE}`,
  `../${ESCAPE}`,
  `../../${ESCAPE}`,
  `/tmp/${ESCAPE}`,
  `cpu/../../${ESCAPE}`,
  `..\\${ESCAPE}`,
];
const ODD = [
  "",
  " ",
  "a b",
  "-",
  "--help",
  "-rf",
  "*",
  "?",
  "~",
  "lo",
  "1",
  "d-2-x",
  "é",
  "名前",
  "😀",
  "\u202e",
  "\0",
  "a\0b",
  "\t",
  "a\nb",
  "x".repeat(9),
  "x".repeat(300),
  "x".repeat(10_000),
];
const SHELL_CHARACTERS = " ;|&$()`<>*?'\"\n\t\\{}[]!#~=%/.-_aZ09".split("");

const hostileText = fc.oneof(
  fc.constantFrom(...INJECTIONS, ...PATHS, ...ODD),
  fc
    .tuple(
      fc.stringMatching(/^[a-z0-9]{0,4}$/),
      fc.constantFrom(...INJECTIONS, ...PATHS),
      fc.stringMatching(/^[a-z0-9]{0,3}$/),
    )
    .map((parts) => parts.join("")),
  fc.string({ unit: "binary", maxLength: 12 }),
  fc.string({ unit: fc.constantFrom(...SHELL_CHARACTERS), minLength: 1, maxLength: 10 }),
  fc.string({ minLength: 200, maxLength: 3000 }),
);
/** Names, about half of them valid. */
const nameArb = (maxValid = 8) =>
  fc.oneof(
    { weight: 3, arbitrary: fc.stringMatching(new RegExp(`^[A-Za-z0-9_.-]{1,${maxValid}}$`)) },
    { weight: 3, arbitrary: hostileText },
  );
/** Anything a caller might pass where a number is expected. */
const numberish = fc.oneof(
  fc.constantFrom(
    NaN,
    Infinity,
    -Infinity,
    -0,
    0,
    -1,
    1,
    0.5,
    2,
    4094,
    4095,
    4096,
    2 ** 22 - 1,
    2 ** 22,
    2 ** 31,
    2 ** 53,
    Number.MAX_VALUE,
    Number.MIN_VALUE,
    1e-9,
  ),
  fc.integer({ min: -100, max: 5000 }),
  fc.integer(),
  fc.double(),
  fc.bigInt({ min: -10n, max: 10n }),
  fc.constantFrom("1", "0.5", "1e3", "0x10", "", "NaN", ...INJECTIONS.slice(0, 3)),
  fc.constantFrom(null, undefined, true, false, {}, [], [1], { valueOf: () => 1 }),
);

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** Nothing ran a shell and nothing escaped: checked after every generated input. */
function assertNoShellNoEscape(): void {
  assert.equal(existsSync(SENTINEL), false, `a generated string ran a shell command (${SENTINEL} exists)`);
  for (const target of ESCAPE_TARGETS) assert.equal(existsSync(target), false, `a generated name escaped to ${target}`);
}

/** A rejection must be a DummyNetError (or an AggregateError of them) whose message mentions one of `mentions`. */
function assertClearRejection(error: unknown, mentions: readonly string[] = []): void {
  if (error instanceof AggregateError && !(error instanceof DummyNetError)) {
    assert.ok(error.errors.length > 0, `an empty AggregateError: ${error.message}`);
    for (const inner of error.errors) assertClearRejection(inner, mentions);
    return;
  }
  if (!(error instanceof DummyNetError)) {
    throw new assert.AssertionError({
      message: `an unclear error instead of a DummyNetError: ${errorText(error)}`,
    });
  }
  assert.ok(error.message.length > 0);
  if (mentions.length > 0) {
    assert.ok(
      mentions.some((text) => error.message.includes(text)),
      `the message does not name the argument or value (${mentions.slice(0, 3).join(" | ").slice(0, 200)}): ${error.message.slice(0, 400)}`,
    );
  }
}

/** An InvalidArgumentError naming `argument` and carrying `value`. */
function assertInvalidArgument(error: unknown, argument: string | RegExp, value: unknown): void {
  if (!(error instanceof InvalidArgumentError)) {
    throw new assert.AssertionError({
      message: `expected an InvalidArgumentError for ${describeValue(value).slice(0, 100)}, got: ${errorText(error)}`,
    });
  }
  if (typeof argument === "string") assert.equal(error.argument, argument);
  else assert.match(error.argument, argument);
  assert.ok(
    Object.is(error.value, value) || error.message.includes(describeValue(value)),
    "the error carries another value",
  );
  assert.ok(
    error.message.startsWith(`Invalid ${error.argument}: ${describeValue(error.value)}`),
    error.message.slice(0, 300),
  );
}

/** Calls `f`; returns its result or the error it threw (sync or async). */
async function outcome<T>(f: () => T | Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
  try {
    return { ok: true, value: await f() };
  } catch (error) {
    return { ok: false, error };
  }
}

// eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- the caller names the shape of the JSON; it is not checked
function ipJson<T>(args: string[]): T {
  const text = execFileSync("ip", ["-j", ...args], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
    timeout: 30_000,
  });
  // Generated names may hold control characters, which ip prints raw: read it as the library does.
  return (text.trim() ? parseIpJson(text) : []) as T;
}

function namespaceExists(scoped: string): boolean {
  return ipJson<{ name: string }[]>(["netns", "list"]).some((ns) => ns.name === scoped);
}

function linkIn(
  namespace: string | undefined,
  scoped: string,
): { ifname: string; linkinfo?: { info_kind?: string } } | undefined {
  const links = ipJson<{ ifname: string; linkinfo?: { info_kind?: string } }[]>([
    ...(namespace ? ["-n", namespace] : []),
    "-d",
    "link",
    "show",
  ]);
  return links.find((link) => link.ifname === scoped);
}

/** The oracle for names: the rule of the API, stated independently of its code. */
function validName(name: unknown, kind: "interface" | "namespace" | "cgroup"): boolean {
  if (typeof name !== "string" || !/^[A-Za-z0-9_.-]+$/.test(name) || name === "." || name === "..") return false;
  if (kind === "interface") return name.length <= (name === "lo" ? 15 : 8);
  // "1" names the root namespace, which is never made.
  if (kind === "namespace" && name === "1") return false;
  return name.length <= 248;
}

// Fresh owner uids above the pid range, distinct per run and per test process.
let nextUid = 5_000_000 + (process.pid % 30_000) * 200;
const freshUid = () => nextUid++;
const usedUids: number[] = [];
function newNet(): DummyNet {
  const net = new DummyNet({ uid: freshUid() });
  usedUids.push(net.uid);
  return net;
}

/** Generated inputs tried, per property, for the report. */
const tried = new Map<string, { runs: number; accepted: number; rejected: number }>();
function count(property: string, accepted: boolean): void {
  const entry = tried.get(property) ?? { runs: 0, accepted: 0, rejected: 0 };
  entry.runs++;
  if (accepted) entry.accepted++;
  else entry.rejected++;
  tried.set(property, entry);
}
function report(t: { diagnostic(message: string): void }, ...properties: string[]): void {
  for (const property of properties) {
    const entry = tried.get(property) ?? { runs: 0, accepted: 0, rejected: 0 };
    t.diagnostic(
      `hostile input: ${property}: ${entry.runs} generated inputs (${entry.accepted} accepted, ${entry.rejected} rejected)`,
    );
  }
}

after(() => {
  // Every kernel property run already asserted assertNothingLeft for its uid.
  assertNoShellNoEscape();
  rmSync(SENTINEL, { force: true });
});

describe("hostile input: validation without the kernel", { timeout: 900_000 }, () => {
  test("scoped names: accepted exactly when the name rule allows, else InvalidArgumentError naming it", (t) => {
    const classes: [
      typeof InterfaceScoped | typeof NamespaceScoped | typeof CGroupScoped,
      "interface" | "namespace" | "cgroup",
    ][] = [
      [InterfaceScoped, "interface"],
      [NamespaceScoped, "namespace"],
      [CGroupScoped, "cgroup"],
    ];
    fc.assert(
      fc.property(fc.oneof(nameArb(60), fc.anything()), fc.integer({ min: 1, max: 11_316_495 }), (name, uid) => {
        for (const [Class, kind] of classes) {
          let made: Scoped | undefined;
          try {
            made = new Class(name as string, uid);
          } catch (error) {
            assertInvalidArgument(error, `${kind} name`, name);
          }
          assert.equal(
            made !== undefined,
            validName(name, kind) || (kind === "namespace" && name === "1"),
            `${kind} ${describeValue(name).slice(0, 80)}`,
          );
          count("scoped names", made !== undefined);
          if (made && !made.isUnscoped) {
            // The scoped name is one path component and reads back to the same owner and name.
            assert.equal(resolve("/run/netns", made.scoped), `/run/netns/${made.scoped}`);
            assert.deepEqual([Class.fromScoped(made.scoped).uid, Class.fromScoped(made.scoped).name], [uid, name]);
          }
        }
      }),
      { numRuns: 300 },
    );
    report(t, "scoped names");
  });

  test("addresses and CIDRs: valid v4/v6 with in-range prefixes accepted, anything else refused by name", (t) => {
    const prefixed = (address: fc.Arbitrary<string>) =>
      fc
        .tuple(
          address,
          fc.option(
            fc.oneof(
              fc.integer({ min: 0, max: 140 }).map(String),
              fc.constantFrom("", "-1", "08", "1.5", "0x10", "24;x", " 24", "24\n", "１２"),
            ),
          ),
        )
        .map(([a, p]) => (p === null ? a : `${a}/${p}`));
    const addressArb = fc.oneof(
      prefixed(fc.ipV4()),
      prefixed(fc.ipV6()),
      prefixed(fc.ipV4Extended()),
      prefixed(
        fc.constantFrom(
          "0.0.0.0",
          "255.255.255.255",
          "::",
          "::1",
          "::ffff:1.2.3.4",
          "fe80::1%eth0",
          "1.2.3",
          "1.2.3.4.5",
          "256.1.1.1",
          "01.2.3.4",
          "1::2::3",
          "[::1]",
        ),
      ),
      hostileText,
      numberish,
    );
    fc.assert(
      fc.property(addressArb, (value) => {
        const text = typeof value === "string" ? value : undefined;
        const slash = text?.indexOf("/") ?? -1;
        const address = text === undefined ? "" : slash < 0 ? text : text.slice(0, slash);
        const family = isIP(address);
        const prefix = text === undefined || slash < 0 ? undefined : text.slice(slash + 1);
        const expected =
          family !== 0 &&
          (prefix === undefined || (/^[0-9]{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128)));
        const result = (() => {
          try {
            return checkAddressWithPrefix("ip", value);
          } catch (error) {
            assertInvalidArgument(error, "ip", value);
            return undefined;
          }
        })();
        assert.equal(result !== undefined, expected, describeValue(value));
        count("addresses", expected);
        let gateway = true;
        try {
          checkIpAddress("gateway", value);
        } catch (error) {
          assertInvalidArgument(error, "gateway", value);
          gateway = false;
        }
        assert.equal(gateway, family !== 0 && prefix === undefined);
      }),
      { numRuns: 300 },
    );
    report(t, "addresses");
  });

  test("VLAN ids, pids, CPU and memory limits: only whole numbers in range pass; every other value is named in the error", (t) => {
    const checks: [string, (value: unknown) => unknown, (value: unknown) => boolean][] = [
      [
        "vlanId",
        (v) => checkVlanId("vlanId", v),
        (v) => typeof v === "number" && Number.isInteger(v) && v >= 1 && v <= 4094,
      ],
      ["pid", (v) => checkPid("pid", v), (v) => typeof v === "number" && Number.isInteger(v) && v >= 1 && v < 2 ** 22], // pid_max is at most 2^22, pids are below it
      [
        "cpuLimit",
        (v) => validateCpuLimit(v),
        (v) => typeof v === "number" && Number.isFinite(v) && v >= 0.01 && v <= availableParallelism(),
      ],
      [
        "memoryLimit",
        (v) => validateMemoryLimit(v),
        (v) => typeof v === "number" && Number.isSafeInteger(v) && v > 0 && v < totalmem(),
      ],
    ];
    fc.assert(
      fc.property(numberish, (value) => {
        for (const [argument, check, oracle] of checks) {
          let accepted = true;
          try {
            check(value);
          } catch (error) {
            assertInvalidArgument(error, argument, value);
            accepted = false;
          }
          assert.equal(accepted, oracle(value), `${argument} ${describeValue(value)}`);
          count("numbers (vlan, pid, cpu, memory)", accepted);
        }
      }),
      { numRuns: 300 },
    );
    report(t, "numbers (vlan, pid, cpu, memory)");
  });

  test("sysctl names and values: only net.* settings pass, and never a path out of /proc/sys/net", (t) => {
    const sysctlName = fc.oneof(
      fc.constantFrom(
        "net.ipv4.ip_forward",
        "net/ipv4/ip_forward",
        "net.ipv6.conf.all.forwarding",
        "kernel.hostname",
        "vm.swappiness",
        "net",
        "net.",
        "net..ipv4",
        "net.ipv4/../../kernel/hostname",
        "net/../kernel/hostname",
        "net.ipv4.conf.all.rp_filter;touch",
        "net.core.somaxconn ",
      ),
      fc.tuple(fc.constantFrom("net.", "net/", "kernel.", ""), nameArb(20)).map(([a, b]) => a + b),
      hostileText,
      numberish,
    );
    fc.assert(
      fc.property(
        sysctlName,
        fc.oneof(numberish, hostileText, fc.stringMatching(/^[A-Za-z0-9_.:-]{1,70}$/)),
        (name, value) => {
          let key: string | undefined;
          try {
            key = checkSysctlName("sysctl name", name);
          } catch (error) {
            assertInvalidArgument(error, "sysctl name", name);
          }
          if (key !== undefined) {
            assert.ok(resolve("/proc/sys", key.replaceAll(".", "/")).startsWith("/proc/sys/net/"), key);
            assert.match(key, /^net\.[A-Za-z0-9_.-]+$/);
          }
          count("sysctl names", key !== undefined);
          let text: string | undefined;
          try {
            text = checkSysctlValue("sysctl value", value);
          } catch (error) {
            assertInvalidArgument(error, "sysctl value", value);
          }
          if (text !== undefined) assert.match(text, /^[A-Za-z0-9_.:+-]{1,64}$/);
          count("sysctl values", text !== undefined);
        },
      ),
      { numRuns: 300 },
    );
    report(t, "sysctl names", "sysctl values");
  });

  test("netem options: accepted ones give plain tc arguments; the rest are refused naming the option", (t) => {
    const keys = [
      "delay",
      "jitter",
      "delayCorrelation",
      "distribution",
      "loss",
      "lossCorrelation",
      "ecn",
      "duplicate",
      "corrupt",
      "reorder",
      "gap",
      "rate",
      "packetOverhead",
      "cellSize",
      "cellOverhead",
      "limit",
      "slot",
      "seed",
      "reset",
    ];
    const value = fc.oneof(
      { weight: 4, arbitrary: numberish },
      { weight: 1, arbitrary: fc.constantFrom("normal", "pareto", "uniform", "bogus") },
      {
        weight: 1,
        arbitrary: fc.record(
          { random: numberish, correlation: fc.option(numberish, { nil: undefined }) },
          { requiredKeys: ["random"] },
        ),
      },
      {
        weight: 1,
        arbitrary: fc.record({ state: fc.record({ p13: numberish, p31: numberish }, { requiredKeys: [] }) }),
      },
      { weight: 1, arbitrary: fc.record({ gemodel: fc.record({ p: numberish, k: numberish }, { requiredKeys: [] }) }) },
      { weight: 1, arbitrary: fc.record({ min: numberish, max: numberish, packets: numberish }, { requiredKeys: [] }) },
      { weight: 1, arbitrary: hostileText },
    );
    const netem = fc.dictionary(
      fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...keys) }, { weight: 1, arbitrary: hostileText }),
      value,
      { maxKeys: 5 },
    );
    const tcOptions = fc.oneof(
      {
        weight: 6,
        arbitrary: fc
          .tuple(netem, fc.option(fc.oneof(fc.boolean(), netem, hostileText), { nil: undefined }))
          .map(([o, ingress]) => (ingress === undefined ? o : { ...o, ingress })),
      },
      { weight: 1, arbitrary: fc.anything() },
    );
    fc.assert(
      fc.property(tcOptions, (options) => {
        let checked: ReturnType<typeof validateNetemOptions> | undefined;
        try {
          checked = validateNetemOptions(options);
        } catch (error) {
          assertInvalidArgument(error, /^tc option /, (error as InvalidArgumentError).value);
          // The option path starts with a key of the input (keys may themselves contain dots), or names the whole object.
          const path = (error as InvalidArgumentError).argument.slice("tc option ".length);
          const keys = typeof options === "object" && options !== null ? Object.keys(options) : [];
          assert.ok(
            path === "object" || keys.some((key) => path === key || path.startsWith(`${key}.`)),
            `the error names ${path}, which the input does not have`,
          );
        }
        count("netem options", checked !== undefined);
        if (checked === undefined) return;
        const { ingress: _ingress, ...egress } = checked;
        try {
          for (const word of netemArguments(egress))
            assert.match(word, /^[A-Za-z0-9.%-]+$/, "a tc argument that is not a plain word");
        } catch (error) {
          // Rules tying several values together are checked here.
          if (error instanceof assert.AssertionError) throw error;
          assertInvalidArgument(error, /^tc option /, (error as InvalidArgumentError).value);
        }
      }),
      { numRuns: 300 },
    );
    report(t, "netem options");
  });

  test("topology documents: loaded, or refused with file:line:column for every problem", (t) => {
    fc.assert(
      fc.property(topologyText(), (text) => {
        let topology: Topology | undefined;
        try {
          topology = parseTopology(text, "gen.yaml");
        } catch (error) {
          assertTopologyError(error);
        }
        count("topology documents (loader)", topology !== undefined);
      }),
      { numRuns: 300 },
    );
    report(t, "topology documents (loader)");
  });
});

function errorText(error: unknown): string {
  return error instanceof Error ? (error.stack ?? error.message) : String(error);
}

function assertTopologyError(error: unknown): void {
  if (!(error instanceof TopologyError)) {
    throw new assert.AssertionError({
      message: `the loader threw something other than a TopologyError: ${errorText(error)}`,
    });
  }
  assert.ok(error.problems.length > 0);
  for (const issue of error.problems) {
    assert.equal(issue.file, "gen.yaml");
    assert.ok(issue.line >= 1 && issue.column >= 1, `an issue without a position: ${JSON.stringify(issue)}`);
    assert.ok(issue.message.length > 0);
  }
  for (const issue of error.problems) {
    assert.match(formatIssue(issue), /^gen\.yaml:\d+:\d+: /);
    // Values are quoted as JSON: a line break in a value must never split an issue over lines.
    assert.ok(
      !formatIssue(issue).includes("\n"),
      `an issue printed over several lines: ${JSON.stringify(formatIssue(issue))}`,
    );
  }
}

// ------------------------------------------------------------------ topology documents

/** Mostly `valid`, with `hostile` mixed in at weight 1 of 1 + `validWeight`. */
function mostly<T, U>(validWeight: number, valid: fc.Arbitrary<T>, hostile: fc.Arbitrary<U>): fc.Arbitrary<T | U> {
  return fc.oneof({ weight: validWeight, arbitrary: valid }, { weight: 1, arbitrary: hostile });
}

interface GeneratedDoc {
  doc: Record<string, unknown>;
  yaml: boolean;
}

/**
 * Topology documents: well-formed with hostile values here and there (the
 * higher `validWeight`, the fewer), sometimes plain garbage.
 */
function topologyDoc(validWeight: number): fc.Arbitrary<GeneratedDoc> {
  const hostName = mostly(
    validWeight,
    fc.stringMatching(/^[a-z][a-z0-9]{0,5}$/),
    fc.oneof(fc.constantFrom("..", ".", "1", "lo", "d-2-x", "x".repeat(64), "-", "_"), hostileText),
  );
  const ifaceName = mostly(
    validWeight,
    fc.stringMatching(/^[a-z][a-z0-9]{0,6}$/),
    fc.oneof(fc.constantFrom("..", ".", "lo", "1", "x".repeat(8), "x".repeat(9), "e.1"), hostileText),
  );
  const cidr = (subnet: number, host: number) =>
    mostly(
      validWeight,
      fc.constantFrom(`10.88.${subnet}.${host}/24`, `fd88:${subnet}::${host}/64`),
      fc.oneof(
        fc.constantFrom(
          "10.88.0.0/24",
          "10.88.0.255/24",
          "0.0.0.0/0",
          "0.0.0.0/8",
          "10.1.2.3/33",
          "::1/128",
          "::/0",
          "224.0.0.1/24",
          "1.2.3.4",
          "fe80::1/64",
        ),
        hostileText,
      ),
    );
  const sysctls = fc.dictionary(
    mostly(
      validWeight,
      fc.constantFrom("net.ipv4.ip_forward", "net.ipv4.conf.all.arp_ignore", "net.ipv6.conf.all.disable_ipv6"),
      fc.oneof(
        fc.constantFrom("kernel.hostname", "net.nope.x", "net.ipv4/../../kernel/hostname", "net.ipv4.ping_group_range"),
        hostileText,
      ),
    ),
    mostly(
      validWeight,
      fc.constantFrom(0, 1, true, false, "1"),
      fc.oneof(
        fc.constantFrom(2, -1, "x y", 1e21),
        numberish.filter((v) => v !== undefined && typeof v !== "bigint"),
      ),
    ),
    { maxKeys: 2 },
  );
  const optional = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined, freq: 2 });
  return fc
    .record({
      hosts: fc.uniqueArray(hostName, { minLength: 1, maxLength: 3 }),
      links: fc.array(fc.tuple(fc.nat(), fc.nat(), ifaceName, ifaceName, fc.boolean()), { maxLength: 3 }),
      host: fc.record(
        {
          forwarding: mostly(validWeight, fc.boolean(), numberish),
          // A valid gateway depends on the links drawn; the loader's gateway checks are the topology tests' job.
          gateway: mostly(validWeight, fc.constant(undefined), fc.oneof(fc.constant("10.88.0.2"), hostileText)),
          cpu: mostly(validWeight, fc.constantFrom(0.1, 0.5, 1), numberish),
          memory: mostly(
            validWeight,
            fc.constantFrom("64MiB", "128M", 100_000_000),
            fc.oneof(numberish, fc.constantFrom("1G", "1.5T", "-1M", "12XB", "1e3", "")),
          ),
          sysctls,
        },
        { requiredKeys: [] },
      ),
      impair: optional(
        mostly(
          validWeight,
          fc.record({ delay: fc.integer({ min: 0, max: 100 }) }),
          fc.dictionary(fc.constantFrom("delay", "loss", "rate", "jitter", "bogus"), numberish, { maxKeys: 2 }),
        ),
      ),
      bridge: optional(fc.tuple(ifaceName, fc.boolean())),
      vlan: optional(mostly(validWeight, fc.integer({ min: 1, max: 4094 }), numberish)),
      program: optional(fc.oneof(hostileText, fc.array(hostileText, { minLength: 1, maxLength: 3 }))),
      yaml: fc.boolean(),
    })
    .chain((g) => {
      const hosts: Record<string, unknown> = {};
      g.hosts.forEach((name, i) => (hosts[name] = i === 0 ? g.host : {}));
      const links = g.links.map(([a, b, ifA, ifB, addressed], i) => {
        const hostA = g.hosts[a % g.hosts.length];
        const hostB = g.hosts[b % g.hosts.length];
        return { hostA, hostB, ifA: `${ifA}${i}`.slice(0, 8), ifB: `${ifB}${i}`.slice(0, 8), addressed, subnet: i };
      });
      return fc.tuple(...links.map((l) => fc.tuple(cidr(l.subnet, 1), cidr(l.subnet, 2)))).map((addresses) => {
        const doc: Record<string, unknown> = { name: "generated", hosts };
        doc["links"] = links.map((l, i) => ({
          ends: [
            l.addressed ? { at: `${l.hostA}:${l.ifA}`, address: addresses[i][0] } : `${l.hostA}:${l.ifA}`,
            l.addressed ? { at: `${l.hostB}:${l.ifB}`, address: addresses[i][1] } : `${l.hostB}:${l.ifB}`,
          ],
          ...(g.impair ? { impair: g.impair } : {}),
        }));
        if (g.bridge && links.length > 0)
          doc["bridges"] = [{ name: g.bridge[0], host: links[0].hostB, interfaces: g.bridge[1] ? [links[0].ifB] : [] }];
        if (g.vlan !== undefined && links.length > 0)
          doc["vlans"] = [{ on: `${links[0].hostA}:${links[0].ifA}`, id: g.vlan }];
        if (g.program !== undefined) doc["programs"] = [{ host: g.hosts[0], command: g.program }];
        return { doc, yaml: g.yaml };
      });
    });
}

function serialize({ doc, yaml }: GeneratedDoc): string {
  // undefined and bigint have no JSON/YAML form: what a file could hold is what survives a round trip.
  const plain = JSON.parse(
    JSON.stringify(doc, (_key, value: unknown) => (typeof value === "bigint" ? Number(value) : value)),
  ) as unknown;
  return yaml ? toYaml(plain) : JSON.stringify(plain, null, 2);
}

function topologyText(): fc.Arbitrary<string> {
  const example = readFileSync(new URL("../../examples/star.yaml", import.meta.url), "utf8");
  return fc.oneof(
    { weight: 6, arbitrary: topologyDoc(3).map(serialize) },
    // A valid file with a payload pasted in somewhere.
    {
      weight: 2,
      arbitrary: fc
        .tuple(fc.nat({ max: example.length }), hostileText)
        .map(([at, payload]) => example.slice(0, at) + payload + example.slice(at)),
    },
    { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 200 }) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        "",
        "---",
        "hosts:",
        "hosts: {}",
        "hosts: []",
        "[]",
        "null",
        "hosts: {a: {}}\nhosts: {b: {}}",
        "hosts: &a [*a]",
        "a: &x\n  b: *x\nhosts:\n  h: *x",
        "\t\thosts:",
        "hosts: { h1: { memory: 1e400 } }",
        '{"hosts": {"h": {"__proto__": {"cpu": 1}}}}',
      ),
    },
  );
}

// ------------------------------------------------------------------ on the real kernel

describe("hostile input on the real kernel", { concurrency: false, timeout: 900_000 }, () => {
  test(
    "generated names at netnsAdd, linkVethAdd, bridgeAdd, addCgroup and as command arguments",
    { timeout: 120_000 },
    async (t) => {
      await fc.assert(
        fc.asyncProperty(nameArb(12), hostileText, async (name, argument) => {
          const net = newNet();
          try {
            const host = await outcome(() => net.netnsAdd(name));
            count("names at the API", host.ok);
            if (host.ok)
              assert.ok(
                namespaceExists(new NamespaceScoped(name, net.uid).scoped),
                `namespace ${name} was accepted but is not there`,
              );
            else {
              assert.equal(
                validName(name, "namespace"),
                false,
                `a valid namespace name was refused: ${String(host.error)}`,
              );
              assertInvalidArgument(host.error, "namespace name", name);
            }

            const spare = await net.netnsAdd("spare");
            const veth = await outcome(() => spare.linkVethAdd(name, "peer0"));
            count("names at the API", veth.ok);
            if (veth.ok)
              assert.equal(
                linkIn(spare.namespace.scoped, new InterfaceScoped(name, net.uid).scoped)?.linkinfo?.info_kind,
                "veth",
              );
            else if (validName(name, "interface") && name !== "peer0" && name !== "lo")
              assert.fail(`a valid interface name was refused: ${String(veth.error)}`);
            else assertClearRejection(veth.error, [describeValue(name), JSON.stringify(name), name]);

            const bridge = await outcome(() => net.bridgeAdd(name));
            count("names at the API", bridge.ok);
            if (bridge.ok) assert.equal(linkIn(undefined, bridge.value.scoped)?.linkinfo?.info_kind, "bridge");
            else if (validName(name, "interface") && name !== "lo")
              assert.fail(`a valid bridge name was refused: ${String(bridge.error)}`);
            else assertClearRejection(bridge.error, [describeValue(name), name]);

            const cgroup = await outcome(() => net.addCgroup(name, { cpuLimit: 0.5 }));
            count("names at the API", cgroup.ok);
            if (cgroup.ok) {
              for (const dir of cgroup.value.paths) {
                assert.ok(
                  dir.startsWith("/sys/fs/cgroup/") && dir.endsWith(`/${new CGroupScoped(name, net.uid).scoped}`),
                  dir,
                );
                assert.ok(existsSync(dir), dir);
              }
            } else {
              assert.equal(
                validName(name, "cgroup"),
                false,
                `a valid cgroup name was refused: ${String(cgroup.error)}`,
              );
              assertInvalidArgument(cgroup.error, "cgroup name", name);
            }

            // Command arguments are never parsed by a shell: printf prints each exactly.
            const printed = await outcome(() => spare.run(["printf", "%s|%s", name, argument]));
            count("command arguments", printed.ok);
            if (printed.ok) assert.equal(printed.value.stdout, `${name}|${argument}`);
            else {
              assert.ok(`${name}${argument}`.includes("\0"), `printf failed: ${String(printed.error)}`);
              assertInvalidArgument(printed.error, "cmd", (printed.error as InvalidArgumentError).value);
            }
          } finally {
            await net.cleanup();
            assertNothingLeft(net.uid);
            assertNoShellNoEscape();
          }
        }),
        { numRuns: 20 },
      );
      report(t, "names at the API", "command arguments");
    },
  );

  test("generated addresses, gateways, NAT sources and VLAN ids on a real link", { timeout: 120_000 }, async (t) => {
    const net = newNet();
    try {
      const host = await net.netnsAdd("h");
      const [x0, x1] = await net.linkVethAdd("x0", "x1");
      await Promise.all([net.linkSet(host, x0), net.linkSet(host, x1)]);
      await host.addrAdd("10.0.0.1/24", x0);
      await Promise.all([host.up(x0), host.up(x1)]);
      const ns = host.namespace.scoped;
      const addressArb = fc.oneof(
        fc.tuple(fc.ipV4(), fc.integer({ min: 0, max: 40 })).map(([a, p]) => `${a}/${p}`),
        fc.tuple(fc.ipV6(), fc.integer({ min: 0, max: 140 })).map(([a, p]) => `${a}/${p}`),
        fc.ipV4(),
        fc.constantFrom(
          "10.0.0.7",
          "10.0.0.1",
          "0.0.0.0/0",
          "::/0",
          "::1/128",
          "224.0.0.1/24",
          "1.2.3.4/08",
          "fe80::1%x0/64",
          "::ffff:10.0.0.9/104",
        ),
        hostileText,
        numberish,
      );
      await fc.assert(
        fc.asyncProperty(addressArb, addressArb, addressArb, numberish, async (address, gateway, source, vlanId) => {
          const added = await outcome(() => host.addrAdd(address as string, x0));
          count("addresses at the API", added.ok);
          if (added.ok) {
            const { address: bare, prefix, family } = checkAddressWithPrefix("ip", address);
            const present = ipJson<{ addr_info: { local: string; prefixlen: number; family: string }[] }[]>([
              "-n",
              ns,
              "addr",
              "show",
              "dev",
              x0.scoped,
            ])[0].addr_info;
            const wanted = prefix ?? (family === 4 ? 32 : 128);
            assert.ok(
              present.some((a) => {
                const list = new BlockList();
                list.addAddress(a.local, a.family === "inet" ? "ipv4" : "ipv6");
                return a.prefixlen === wanted && list.check(bare, family === 4 ? "ipv4" : "ipv6");
              }),
              `address ${String(address)} accepted but not on the link: ${JSON.stringify(present)}`,
            );
          } else assertClearRejection(added.error, [describeValue(address), String(address)]);

          const routed = await outcome(() => host.route(gateway as string));
          count("gateways at the API", routed.ok);
          if (routed.ok)
            assert.ok(
              ipJson<{ gateway?: string }[]>(["-n", ns, "route", "show", "default"]).length > 0,
              "route accepted but no default route",
            );
          else assertClearRejection(routed.error, [describeValue(gateway), String(gateway)]);

          const rulesBefore = execFileSync("ip", ["netns", "exec", ns, "iptables", "-t", "nat", "-S", "POSTROUTING"], {
            encoding: "utf8",
            timeout: 30_000,
          }).split("\n").length;
          const natted = await outcome(() => host.nat(source as string, x0));
          count("NAT sources at the API", natted.ok);
          const rulesAfter = execFileSync("ip", ["netns", "exec", ns, "iptables", "-t", "nat", "-S", "POSTROUTING"], {
            encoding: "utf8",
            timeout: 30_000,
          }).split("\n").length;
          if (natted.ok) assert.equal(rulesAfter, rulesBefore + 1, "NAT accepted but no rule added");
          else {
            assertClearRejection(natted.error, [describeValue(source), String(source)]);
            assert.equal(rulesAfter, rulesBefore, "a refused NAT rule changed the table");
          }

          const vlan = await outcome(() => host.linkVlanAdd(x1, vlanId as number));
          count("VLAN ids at the API", vlan.ok);
          if (vlan.ok) assert.equal(linkIn(ns, vlan.value.scoped)?.linkinfo?.info_kind, "vlan");
          else if (vlan.error instanceof InvalidArgumentError) assertInvalidArgument(vlan.error, "vlanId", vlanId);
          else {
            // A valid id the kernel refused (no 8021q module here, or a name too long for the id): said with the command.
            assert.ok(
              Number.isInteger(vlanId) && (vlanId as number) >= 1 && (vlanId as number) <= 4094,
              String(vlan.error),
            );
            assertClearRejection(vlan.error, [`id ${String(vlanId)}`]);
          }
          assertNoShellNoEscape();
        }),
        { numRuns: 40 },
      );
    } finally {
      await net.cleanup();
      assertNothingLeft(net.uid);
    }
    report(t, "addresses at the API", "gateways at the API", "NAT sources at the API", "VLAN ids at the API");
  });

  test(
    "generated sysctl names and values: set inside the namespace or refused; the host's values never change",
    { timeout: 60_000 },
    async (t) => {
      const hostValue = (key: string) =>
        execFileSync("sysctl", ["-n", key], { encoding: "utf8", timeout: 30_000 }).trim();
      const watched = [
        "kernel.hostname",
        "net.ipv4.conf.all.arp_ignore",
        "net.ipv4.conf.default.arp_announce",
        "net.ipv6.conf.all.hop_limit",
      ];
      const before = watched.map(hostValue);
      const net = newNet();
      try {
        const host = await net.netnsAdd("s");
        const nameArbK = fc.oneof(
          {
            weight: 3,
            arbitrary: fc.constantFrom(
              "net.ipv4.conf.all.arp_ignore",
              "net/ipv4/conf/default/arp_announce",
              "net.ipv6.conf.all.hop_limit",
              "net.ipv4.ip_forward",
              "net.ipv4.conf.all.accept_redirects",
            ),
          },
          {
            weight: 2,
            arbitrary: fc.constantFrom(
              "kernel.hostname",
              "vm.swappiness",
              "net.ipv4/../../kernel/hostname",
              "net.nope.x",
              "net.ipv4.conf.all.arp_ignore;touch",
              "net",
              "net.ipv4.conf.all",
            ),
          },
          { weight: 1, arbitrary: hostileText },
        );
        const valueArb = fc.oneof(
          fc.integer({ min: -3, max: 300 }),
          fc.constantFrom("1", "0", "2", "01", "1 2", "64", "-1", "x"),
          numberish,
          hostileText,
        );
        await fc.assert(
          fc.asyncProperty(nameArbK, valueArb, async (name, value) => {
            const set = await outcome(() => host.sysctl(name, value as string | number));
            count("sysctls at the API", set.ok);
            if (set.ok) {
              const key = name.replaceAll("/", ".");
              const readBack = execFileSync("ip", ["netns", "exec", host.namespace.scoped, "sysctl", "-n", key], {
                encoding: "utf8",
                timeout: 30_000,
              }).trim();
              const written = String(value);
              assert.ok(
                readBack === written || Number(readBack) === Number(written),
                `sysctl ${key}=${written} accepted but reads ${readBack}`,
              );
            } else assertClearRejection(set.error, [describeValue(name), describeValue(value), name, String(value)]);
            assert.deepEqual(watched.map(hostValue), before, "a namespace sysctl changed the host");
            assertNoShellNoEscape();
          }),
          { numRuns: 30 },
        );
      } finally {
        await net.cleanup();
        assertNothingLeft(net.uid);
      }
      assert.deepEqual(watched.map(hostValue), before);
      report(t, "sysctls at the API");
    },
  );

  /** A limit: absent, valid, or anything at all. */
  const limitArb = (valid: fc.Arbitrary<number>) =>
    fc.oneof(
      { weight: 2, arbitrary: fc.constant(undefined) },
      { weight: 3, arbitrary: valid },
      { weight: 2, arbitrary: numberish },
    );

  test(
    "generated cgroup names and limits: made under /sys/fs/cgroup with the limit written, or refused; nothing escapes",
    { timeout: 60_000 },
    async (t) => {
      await fc.assert(
        // Raw names that are valid would make an unscoped cgroup: only invalid ones are tried there.
        fc.asyncProperty(
          nameArb(40),
          limitArb(fc.double({ min: 0.01, max: availableParallelism(), noNaN: true })),
          limitArb(fc.integer({ min: 1, max: 512 * 2 ** 20 })),
          hostileText.filter((raw) => !validName(raw, "cgroup")),
          async (name, cpuLimit, memoryLimit, rawName) => {
            const net = newNet();
            try {
              const options = {
                ...(cpuLimit !== undefined ? { cpuLimit } : {}),
                ...(memoryLimit !== undefined ? { memoryLimit } : {}),
              } as { cpuLimit?: number; memoryLimit?: number };
              const made = await outcome(() => net.addCgroup(name, options));
              count("cgroups at the API", made.ok);
              if (made.ok) {
                const cgroup = made.value;
                for (const dir of cgroup.paths)
                  assert.ok(dir.startsWith("/sys/fs/cgroup/") && dir.endsWith(`/${ownerPrefix(net.uid)}${name}`), dir);
                if (cpuLimit !== undefined) {
                  const quota =
                    cgroup.layout.version === 2
                      ? readFileSync(join(cgroup.path, "cpu.max"), "utf8").split(" ")[0]
                      : readFileSync(
                          join(
                            cgroup.paths.find((p) => existsSync(join(p, "cpu.cfs_quota_us")))!,
                            "cpu.cfs_quota_us",
                          ),
                          "utf8",
                        );
                  assert.equal(Number(quota), Math.max(1000, Math.round((cpuLimit as number) * 100_000)));
                }
                if (memoryLimit !== undefined) {
                  const file = cgroup.layout.version === 2 ? "memory.max" : "memory.limit_in_bytes";
                  const dir = cgroup.paths.find((p) => existsSync(join(p, file)))!;
                  const limit = Number(readFileSync(join(dir, file), "utf8"));
                  // The kernel rounds down to whole pages.
                  assert.ok(
                    limit <= (memoryLimit as number) && limit > (memoryLimit as number) - 65536,
                    `memory limit ${String(memoryLimit)} reads ${limit}`,
                  );
                }
              } else {
                const error = made.error;
                assert.ok(error instanceof InvalidArgumentError, String(error));
                const bad = !validName(name, "cgroup")
                  ? ["cgroup name", name]
                  : options.cpuLimit !== undefined && !isValid(() => validateCpuLimit(cpuLimit))
                    ? ["cpuLimit", cpuLimit]
                    : ["memoryLimit", memoryLimit];
                assertInvalidArgument(error, bad[0] as string, bad[1]);
              }
              // The low-level constructor takes a raw directory name: a hostile one never becomes a directory.
              const raw = await outcome(() => CGroup.create({ name: rawName }));
              count("raw cgroup names", raw.ok);
              if (raw.ok) {
                await raw.value.hardClean();
                assert.fail(`CGroup.create accepted the raw name ${describeValue(rawName)}`);
              }
              assertInvalidArgument(raw.error, "cgroup name", rawName);
            } finally {
              await net.cleanup();
              assertNothingLeft(net.uid);
              assertNoShellNoEscape();
            }
          },
        ),
        { numRuns: 30 },
      );
      report(t, "cgroups at the API", "raw cgroup names");
    },
  );

  test(
    "generated netem options on a real link: applied or refused; no qdisc or IFB device left",
    { timeout: 60_000 },
    async (t) => {
      const optionsArb = fc.oneof(
        fc.record({ delay: numberish, loss: numberish, rate: numberish }, { requiredKeys: [] }),
        fc.record(
          {
            delay: fc.integer({ min: 0, max: 100 }),
            ingress: fc.oneof(fc.boolean(), fc.record({ delay: numberish }), hostileText),
          },
          { requiredKeys: ["delay"] },
        ),
        fc.dictionary(hostileText, numberish, { maxKeys: 2 }),
        fc.anything(),
      );
      const net = newNet();
      try {
        const host = await net.netnsAdd("t");
        const [y0, y1] = await net.linkVethAdd("y0", "y1");
        await Promise.all([net.linkSet(host, y0), net.linkSet(host, y1)]);
        await Promise.all([host.up(y0), host.up(y1)]);
        await fc.assert(
          fc.asyncProperty(optionsArb, async (options) => {
            const applied = await outcome(() => host.tc(y0, options as never));
            count("netem options at the API", applied.ok);
            if (applied.ok) {
              // Accepted: netem is on the link, unless the options impair nothing ({}, all null).
              const { ingress: _ingress, ...egress } = validateNetemOptions(options);
              const impairs = netemArguments(egress).length > 0;
              const qdiscs = ipJsonTc(host.namespace.scoped, y0.scoped);
              assert.equal(
                qdiscs.some((q) => q.kind === "netem"),
                impairs,
                `netem accepted; qdiscs: ${JSON.stringify(qdiscs)}`,
              );
            } else if (applied.error instanceof InvalidArgumentError)
              assert.match(applied.error.argument, /^tc option /);
            else assertClearRejection(applied.error, ["tc", "netem"]);
            assertNoShellNoEscape();
          }),
          { numRuns: 25 },
        );
      } finally {
        await net.cleanup();
        assertNothingLeft(net.uid);
      }
      report(t, "netem options at the API");
    },
  );

  test(
    "generated topology documents: loaded and built (every host and interface there), or refused; nothing left",
    { timeout: 180_000 },
    async (t) => {
      await fc.assert(
        fc.asyncProperty(topologyDoc(30), async (generated) => {
          let topology: Topology;
          try {
            topology = parseTopology(serialize(generated), "gen.yaml");
          } catch (error) {
            assertTopologyError(error);
            count("topology documents (built)", false);
            loaderRefusals.push((error as TopologyError).problems[0].message.slice(0, 80));
            return;
          }
          const net = newNet();
          try {
            const built = await outcome(() => buildNetwork(topology, net));
            count("topology documents (built)", built.ok);
            if (built.ok) {
              for (const spec of topology.hosts)
                assert.ok(namespaceExists(new NamespaceScoped(spec.name, net.uid).scoped), `host ${spec.name} missing`);
              for (const link of topology.links) {
                for (const end of link.ends)
                  assert.ok(
                    linkIn(
                      new NamespaceScoped(end.host, net.uid).scoped,
                      new InterfaceScoped(end.iface, net.uid).scoped,
                    ),
                    `${end.host}:${end.iface} missing`,
                  );
              }
            } else {
              // The loader let it through, so the kernel (or a rule the loader does not know) refused it: it must say what.
              assertClearRejection(built.error);
              builderRefusals.push((built.error as Error).message.split("\n")[0].slice(0, 200));
            }
          } finally {
            await net.cleanup();
            assertNothingLeft(net.uid);
            assertNoShellNoEscape();
          }
        }),
        { numRuns: 20 },
      );
      report(t, "topology documents (built)");
      for (const message of new Set(builderRefusals))
        t.diagnostic(`accepted by the loader, refused while building: ${message}`);
      if (process.env["DUMMYNET_VERBOSE_PROPERTIES"])
        for (const message of new Set(loaderRefusals)) t.diagnostic(`refused by the loader: ${message}`);
    },
  );

  test("the ip -batch runner never lets an argument start another command", { timeout: 60_000 }, async (t) => {
    const uid = freshUid();
    usedUids.push(uid);
    const prefix = ownerPrefix(uid);
    const evil = `${prefix}evil`;
    const runner = new IpBatchRunner();
    const suffixArb = fc.oneof(
      fc.constantFrom(
        `a\nlink add ${evil} type bridge`,
        `a link add ${evil} type bridge`,
        `a;link add ${evil} type bridge`,
        `a # x`,
        `"a" "b"`,
        "a\\",
        "a'",
        "",
      ),
      fc.stringMatching(/^[a-z0-9]{1,6}$/),
      hostileText,
    );
    try {
      await fc.assert(
        fc.asyncProperty(suffixArb, async (suffix) => {
          const name = `${prefix}${suffix}`;
          const made = await outcome(() => runner.run(["ip", "link", "add", name, "type", "bridge"]));
          count("ip -batch arguments", made.ok);
          const ours = ipJson<{ ifname: string }[]>(["link", "show"])
            .filter((link) => link.ifname.startsWith(prefix))
            .map((link) => link.ifname);
          try {
            assert.ok(!ours.includes(evil), `an argument ran a second ip command: ${describeValue(suffix)}`);
            if (made.ok) assert.deepEqual(ours, [name]);
            else {
              assertClearRejection(made.error);
              assert.deepEqual(ours, []);
            }
          } finally {
            for (const ifname of ours) execFileSync("ip", ["link", "delete", "dev", ifname], { timeout: 30_000 });
          }
          assertNoShellNoEscape();
        }),
        { numRuns: 30 },
      );
    } finally {
      await runner.close();
    }
    assert.deepEqual(leftovers(uid), []);
    report(t, "ip -batch arguments");
  });
});

const builderRefusals: string[] = [];
const loaderRefusals: string[] = [];

function isValid(check: () => unknown): boolean {
  try {
    check();
    return true;
  } catch {
    return false;
  }
}

function ipJsonTc(namespace: string, dev: string): { kind: string }[] {
  const text = execFileSync("tc", ["-n", namespace, "-j", "qdisc", "show", "dev", dev], {
    encoding: "utf8",
    timeout: 30_000,
  });
  return text.trim() ? parseIpJson(text) : [];
}
