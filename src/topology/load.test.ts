import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { parseTopology, loadTopologyFile } from "./load.js";
import { TopologyError } from "./errors.js";
import { toDot, toMermaid } from "./graph.js";
import { formatTable } from "./describe.js";
import { BAD_TOPOLOGIES } from "./fixtures/bad-topologies.js";

const EXAMPLES = new URL("../../examples/", import.meta.url);

function problems(text: string): string[] {
  try {
    parseTopology(text, "net.yaml");
  } catch (error) {
    assert.ok(error instanceof TopologyError, `expected a TopologyError, got ${String(error)}`);
    return error.message.split("\n");
  }
  assert.fail("the file was accepted");
}

describe("topology loader", { timeout: 120_000 }, () => {
  test("every example loads, and its table and graphs name every host", async () => {
    const files = readdirSync(EXAMPLES).filter((f) => /\.(ya?ml|json)$/.test(f));
    assert.ok(files.length >= 4);
    for (const file of files) {
      const topology = await loadTopologyFile(new URL(file, EXAMPLES).pathname);
      for (const host of topology.hosts) {
        assert.match(formatTable(topology), new RegExp(`^${host.name}\\b`, "m"));
        assert.ok(toMermaid(topology).includes(`"${host.name}`), `${file}: ${host.name} in the Mermaid graph`);
        assert.ok(toDot(topology).includes(`"h:${host.name}"`), `${file}: ${host.name} in the DOT graph`);
      }
    }
  });

  test("normalizes ends, addresses, gateways and merges link-wide impairments under each end's own", () => {
    const topology = parseTopology(
      [
        "hosts: { a: , b: { gateway: 10.0.0.1, memory: 64MiB } }",
        "links:",
        "  - ends: [{ at: 'a:a0', address: 10.0.0.1/24, impair: { delay: 5 } }, { at: 'b:b0', address: [10.0.0.2/24, 'fd00::2/64'] }]",
        "    impair: { delay: 20, loss: 1 }",
      ].join("\n"),
      "dir/pair.yaml",
    );
    assert.equal(topology.name, "pair");
    const [a, b] = topology.links[0].ends;
    assert.deepEqual(a.impair, { delay: 5, loss: 1 });
    assert.deepEqual(b.impair, { delay: 20, loss: 1 });
    assert.deepEqual(b.addresses, ["10.0.0.2/24", "fd00::2/64"]);
    assert.equal(topology.hosts[1].memory, 64 * 2 ** 20);
    assert.deepEqual(
      topology.hosts[1].routes.map((r) => [r.to, r.via]),
      [["default", "10.0.0.1"]],
    );
  });

  test("YAML syntax errors and duplicate keys give file:line:column", () => {
    assert.match(problems(BAD_TOPOLOGIES.yamlSyntax)[0], /^net\.yaml:\d+:\d+: YAML syntax error/);
    assert.match(problems(BAD_TOPOLOGIES.duplicateKey)[0], /^net\.yaml:3:3: .*unique/);
  });

  test("schema errors point at the value or the unknown key and say what is expected", () => {
    const lines = problems(BAD_TOPOLOGIES.schema);
    assert.ok(
      lines.includes(
        "net.yaml:2:13: hosts.a.cpu: is -1; expected a value > 0 (CPU limit of the host's programs, in CPUs like `docker --cpus` (0 < cpu <= number of CPUs))",
      ),
      lines.join("\n"),
    );
    assert.ok(
      lines.some((l) =>
        l.startsWith('net.yaml:2:17: hosts.a.colour: unknown property "colour"; expected one of: cpu, memory'),
      ),
      lines.join("\n"),
    );
    assert.ok(
      lines.some((l) => l.startsWith("net.yaml:5:21: links[0].impair.loss: is 200; expected a value <= 100")),
      lines.join("\n"),
    );
  });

  test("unknown hosts, too-long and duplicate interface names", () => {
    const lines = problems(BAD_TOPOLOGIES.unknownHosts);
    assert.ok(
      lines.includes('net.yaml:3:22: links[0].ends[1]: unknown host "c"; expected a host declared under hosts (a, b)'),
      lines.join("\n"),
    );
    assert.ok(
      lines.some((l) =>
        l.startsWith('net.yaml:4:12: links[1].ends[0]: interface name "waytoolong" is 10 characters long; at most 8'),
      ),
      lines.join("\n"),
    );
    assert.ok(!lines.some((l) => l.startsWith("net.yaml:4:28")), "eth0 in host b is fine beside eth0 in host a");
    assert.ok(
      lines.some((l) =>
        l.startsWith('net.yaml:5:12: links[2].ends[0]: interface name "eth0" is already used in host "a"'),
      ),
      lines.join("\n"),
    );
  });

  test("address clashes: same address twice, inconsistent or disjoint subnets, network addresses, unreachable gateways", () => {
    const lines = problems(BAD_TOPOLOGIES.addressClashes);
    const text = lines.join("\n");
    assert.match(text, /net\.yaml:1:24: hosts\.a\.gateway: gateway 10\.9\.0\.1 is not on a subnet of host "a"/);
    assert.match(
      text,
      /net\.yaml:3:\d+: links\[0\]\.ends\[1\]\.address: address 10\.0\.0\.2\/16 overlaps 10\.0\.0\.1\/24 .* different prefix length/,
    );
    assert.match(
      text,
      /net\.yaml:4:\d+: links\[1\]: the ends of this link are in different IPv4 subnets \(10\.1\.0\.0\/24 and 10\.2\.0\.0\/24\)/,
    );
    assert.match(text, /net\.yaml:5:\d+: links\[2\]\.ends\[0\]\.address: address 10\.0\.0\.1 is already used by a:a0/);
    assert.match(
      text,
      /net\.yaml:5:\d+: links\[2\]\.ends\[1\]\.address: address "10\.3\.0\.0\/24" is the network address/,
    );
  });

  test("impossible values: impairment combinations (the tc module's rules), CPUs beyond the machine, sysctls outside net.", () => {
    const text = problems(BAD_TOPOLOGIES.impossibleValues).join("\n");
    assert.match(text, /sysctls\["kernel\.panic"\].*starting with net\./);
    // Schema errors come first; fix them and the semantic ones show.
    const semantic = problems(BAD_TOPOLOGIES.semanticOnly).join("\n");
    assert.match(
      semantic,
      /net\.yaml:2:13: hosts\.a\.cpu: is 100000 CPUs; must be a number of CPUs from 0\.01 .* to \d+ \(the CPUs of this machine\)/,
    );
    assert.match(semantic, /net\.yaml:6:\d+: links\[0\]\.impair\.gap: 5 \(number\) needs reorder/);
  });

  test("a 500-host chain loads quickly (the schema is compiled once)", () => {
    const lines = ["hosts:"];
    for (let i = 0; i < 500; i++) lines.push(`  h${i}: {}`);
    lines.push("links:");
    for (let i = 0; i < 499; i++) {
      lines.push(
        `  - ends: [{ at: "h${i}:r${i}", address: 10.${i >> 8}.${i & 255}.1/30 }, { at: "h${i + 1}:l${i + 1}", address: 10.${i >> 8}.${i & 255}.2/30 }]`,
      );
    }
    const text = lines.join("\n");
    parseTopology(text, "warm.yaml");
    const started = performance.now();
    const topology = parseTopology(text, "chain500.yaml");
    const elapsed = performance.now() - started;
    assert.equal(topology.hosts.length, 500);
    assert.equal(topology.links.length, 499);
    console.log(`# loading a 500-host chain took ${elapsed.toFixed(1)} ms`);
    assert.ok(elapsed < 5000, `took ${elapsed} ms`); // generous: a noisy 2-core machine
  });

  test("a link-wide ingress is refused: it would impair each direction twice", () => {
    const lines = problems(BAD_TOPOLOGIES.linkIngress);
    assert.ok(
      lines.some((l) =>
        /^net\.yaml:4:\d+: links\[0\]\.impair\.ingress: a link-wide impairment already applies to both directions/.test(
          l,
        ),
      ),
      lines.join("\n"),
    );
  });
});
