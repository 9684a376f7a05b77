/**
 * exportTopology's text: every example exports to both targets, reads back
 * as containerlab reads it (no `{{`, `$$` for `$`, strict YAML 1.1), keeps
 * the rules we took from containerlab's and clabernetes' schemas (rules.ts),
 * and the clabernetes resource holds the very containerlab document. Then
 * the mapping's details: renames, impairments per direction, programs,
 * warnings, strict, bad options.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { parse } from "yaml";
import { InvalidArgumentError } from "../errors.js";
import { loadTopology } from "../topology/load.js";
import type { Topology } from "../topology/model.js";
import { exportTopology, type ExportTopologyOptions } from "./export.js";
import { ExportError, type ExportWarning } from "./report.js";
import { clabernetesProblems, containerlabProblems, readContainerlabText } from "./rules.js";
import { splitWords } from "./shlex.js";

type Node = {
  exec?: string[];
  stages?: unknown;
  healthcheck?: { test: string[] };
  memory?: string;
  cpu?: number;
  image: string;
};
type Clab = { name: string; topology: { nodes: Record<string, Node>; links?: { endpoints: string[]; mtu: number }[] } };

function exported(
  topology: Topology,
  options: ExportTopologyOptions,
): { doc: Clab; text: string; warnings: ExportWarning[] } {
  const warnings: ExportWarning[] = [];
  const text = exportTopology(topology, { ...options, onWarning: (w) => warnings.push(w) });
  if (options.to === "containerlab") return { doc: readContainerlabText(text) as Clab, text, warnings };
  const resource = parse(text) as { spec: { definition: { containerlab: string } } };
  return { doc: readContainerlabText(resource.spec.definition.containerlab) as Clab, text, warnings };
}

const fromText = (text: string) => loadTopology({ text, name: "t.yaml" });
const execOf = (doc: Clab, node: string) => (doc.topology.nodes[node].exec ?? []).map((line) => splitWords(line));

describe("every example exports to containerlab and clabernetes", () => {
  const files = readdirSync("examples").filter((file) => file.endsWith(".yaml"));
  assert.ok(files.length >= 4);
  for (const file of files) {
    test(file, async () => {
      const topology = await loadTopology(`examples/${file}`);
      const clab = exported(topology, { to: "containerlab" });
      assert.deepEqual(containerlabProblems(clab.doc, "containerlab"), []);
      assert.ok(!clab.text.includes("{{"));
      assert.equal(Object.keys(clab.doc.topology.nodes).length, topology.hosts.length);
      assert.equal(clab.doc.topology.links?.length, topology.links.length);
      assert.ok(clab.doc.topology.links.every((link) => link.mtu === 1500));

      const resource = parse(exportTopology(topology, { to: "clabernetes" })) as Record<string, unknown> & {
        spec: { definition: { containerlab: string } };
      };
      assert.deepEqual(clabernetesProblems(resource), []);
      assert.equal(resource["apiVersion"], "clabernetes.containerlab.dev/v1alpha1");
      assert.equal(resource["kind"], "Topology");
      // The string is the containerlab document: the same as the containerlab export, less what clabernetes cannot read.
      const inner = readContainerlabText(resource.spec.definition.containerlab) as Clab;
      const withoutStages = (doc: Clab) => {
        const copy = structuredClone(doc);
        for (const node of Object.values(copy.topology.nodes)) delete node.stages;
        return copy;
      };
      assert.deepEqual(inner, withoutStages(clab.doc));
    });
  }
});

describe("text rules", () => {
  test("$ is written $$ and {{ never appears, yet each exec command splits back into the program's words", async () => {
    const words = [
      "printf",
      "%s {{x}} $HOME ${PATH} '\"`\\ # {{{",
      "--",
      "{{",
      "$$",
      "on",
      "yes",
      "1:20",
      "0o17",
      "\u2028x\u0085",
    ];
    const topology = await fromText(
      `hosts: { a: {} }\nprograms:\n  - { host: a, command: ${JSON.stringify(words)} }\n  - { host: a, command: "echo {{ $HOME }}" }\n`,
    );
    for (const to of ["containerlab", "clabernetes"] as const) {
      const { doc, text } = exported(topology, { to });
      assert.ok(!text.includes("{{"), text);
      assert.ok(!/(^|[^$])\$(\$\$)*[A-Za-z{]/.test(text.replace(/\$\$/g, "")), "no single $ before a name");
      const exec = execOf(doc, "a");
      assert.deepEqual(exec.at(-2), words);
      assert.deepEqual(exec.at(-1), ["sh", "-c", "echo {{ $HOME }}"]);
    }
  });

  test("node names: containerlab's pattern, Kubernetes names for clabernetes; no links, no links key", async () => {
    const topology = await fromText("hosts: { _db: {}, Web.Server_1: {}, web-server-1: {}, on: {} }\n");
    const clab = exported(topology, { to: "containerlab" });
    assert.deepEqual(Object.keys(clab.doc.topology.nodes), ["n_db", "Web.Server_1", "web-server-1", "on"]);
    assert.ok(!("links" in clab.doc.topology));
    const k8s = exported(topology, { to: "clabernetes" });
    assert.deepEqual(Object.keys(k8s.doc.topology.nodes), ["n-db", "web-server", "web-serve-2", "on"]);
    assert.ok(k8s.warnings.every((w) => w.severity === "notice"));
    assert.equal(k8s.warnings.length, 3);
  });
});

describe("the mapping", () => {
  test("eth0 and interfaces too long for clabernetes' <node>-<iface> veth are renamed everywhere they appear", async () => {
    const topology = await fromText(`
hosts:
  router1: { forwarding: true, nat: [{ source: 10.0.0.0/24, out: uplink }], forward: [{ from: eth0, to: uplink }] }
  a: {}
  b: {}
links:
  - ends: [{ at: "router1:eth0", address: 10.0.0.1/24 }, { at: "a:eth0", address: 10.0.0.2/24 }]
  - ends: [{ at: "router1:uplink", address: 10.0.1.1/24 }, "b:eth0"]
vlans:
  - { on: "router1:uplink", id: 7, address: 10.7.0.1/24 }
bridges:
  - { name: eth1, host: b, interfaces: [] }
programs:
  - { name: show, host: a, command: [ip, addr, show, dev, eth0] }
  - { name: other, host: a, command: [echo, eth01] }
`);
    const links = [
      ["router1:eth1", "a:eth1"],
      ["router1:uplink", "b:eth2"], // b's eth1 is its bridge
    ];
    const clab = exported(topology, { to: "containerlab" });
    assert.deepEqual(
      clab.doc.topology.links!.map((l) => l.endpoints),
      links,
    );
    assert.deepEqual(
      clab.warnings.map((w) => `${w.severity} ${w.path}`),
      [
        "notice links[0].ends[0]",
        "notice links[0].ends[1]",
        "notice links[1].ends[1]",
        "warning programs[0]", // it mentions eth0, which a has as eth1; programs[1]'s eth01 is another name
      ],
    );
    // router1-uplink is 14 characters: it fits clabernetes' veth name too.
    assert.deepEqual(
      exported(topology, { to: "clabernetes" }).doc.topology.links!.map((l) => l.endpoints),
      links,
    );
    const router = execOf(clab.doc, "router1").map((w) => w.join(" "));
    assert.ok(router.includes("iptables -w -A FORWARD -i eth1 -o uplink -j ACCEPT"), router.join("\n"));
    assert.ok(router.includes("iptables -w -t nat -A POSTROUTING -s 10.0.0.0/24 -o uplink -j MASQUERADE"));
    assert.ok(router.includes("ip link add link uplink name uplink.7 type vlan id 7"));
    const longer = await fromText(`
hosts: { longhostname: {}, b: {} }
links: [{ ends: ["longhostname:lan0", "b:lan0"] }]
vlans: [{ on: "longhostname:lan0", id: 10 }]
`);
    const renamed = exported(longer, { to: "clabernetes" });
    assert.deepEqual(renamed.doc.topology.links![0].endpoints, ["longhostnam:e1", "b:lan0"]);
    assert.ok(
      execOf(renamed.doc, "longhostnam").some((w) => w.join(" ") === "ip link add link e1 name e1.10 type vlan id 10"),
    );
  });

  test("impairments: netem per direction with tc()'s arguments; an ingress moves to the peer, or is lost with a warning", async () => {
    const topology = await fromText(`
hosts: { a: {}, b: {}, c: {} }
links:
  - ends: [{ at: "a:ab", impair: { delay: 20, rate: 10, ingress: { loss: 5 } } }, "b:ba"]
  - ends: [{ at: "a:ac", impair: { delay: 5, ingress: true } }, { at: "c:ca", impair: { loss: 1, seed: 7 } }]
`);
    const { doc, warnings } = exported(topology, { to: "containerlab" });
    const tc = (node: string) =>
      execOf(doc, node)
        .filter((w) => w[0] === "tc")
        .map((w) => w.join(" "));
    // 10 Mbit/s for 20 ms: the derived queue limit is 1000 (less than 2 x rate x delay in packets would need).
    assert.deepEqual(tc("a"), [
      "tc qdisc replace dev ab root netem limit 1000 delay 20ms rate 10mbit",
      "tc qdisc replace dev ac root netem delay 5ms",
    ]);
    assert.deepEqual(tc("b"), ["tc qdisc replace dev ba root netem loss random 5% 0%"]);
    assert.deepEqual(tc("c"), ["tc qdisc replace dev ca root netem loss random 1% 0% seed 7"]);
    const summary = warnings.map((w) => `${w.severity} ${w.path} ${w.message}`);
    const has = (start: string) => {
      assert.ok(
        summary.some((s) => s.startsWith(start)),
        `${start}\n${summary.join("\n")}`,
      );
    };
    has("notice links[0].ends[0].impair.ingress a:ab's ingress is netem on b:ba's egress");
    has("warning links[1].ends[0].impair.ingress not exported: what a:ac receives would be impaired twice");
    has("warning links[1].ends[1].impair netem's seed needs iproute2 6.6");
    assert.equal(summary.length, 3, summary.join("\n"));
  });

  test("limits, images and programs: cpu, memory, a healthcheck per readiness, jobs wait where containerlab can", async () => {
    const topology = await fromText(`
hosts:
  srv: { cpu: 0.5, memory: 64MiB, image: "ghcr.io/example/app:1" }
  cli: { memory: 1000 }
links: [{ ends: [{ at: "srv:s", address: 10.0.0.1/24 }, { at: "cli:c", address: 10.0.0.2/24 }] }]
programs:
  - { name: web, host: srv, daemon: true, command: [app, --port, "80"], ready: { port: 80, timeout: 3000 } }
  - { name: log, host: srv, daemon: true, command: "app2 > /dev/null", ready: { line: "up *[0-9]" } }
  - { name: get, host: cli, command: [curl, -s, "http://10.0.0.1/"], timeout: 2500 }
  - { name: local, host: cli, command: [/home/me/bin/tool, ./data.json] }
`);
    const { doc, warnings } = exported(topology, { to: "containerlab" });
    const srv = doc.topology.nodes["srv"];
    assert.equal(srv.image, "ghcr.io/example/app:1");
    assert.equal(srv.cpu, 0.5);
    assert.equal(srv.memory, "64MiB");
    assert.equal(doc.topology.nodes["cli"].memory, "1000B");
    assert.equal(doc.topology.nodes["cli"].image, "nicolaka/netshoot:v0.16");
    assert.deepEqual(doc.topology.nodes["cli"].stages, {
      configure: { "wait-for": [{ node: "srv", stage: "healthy" }] },
    });
    const test = srv.healthcheck!.test;
    assert.equal(test[0], "CMD-SHELL");
    assert.match(test[1], /:0050 .* && grep -qxE -- 'up \.\*\[0-9\]' \/tmp\/dummynet-1-log\.log/);
    const cli = execOf(doc, "cli");
    assert.deepEqual(cli.at(-2), ["timeout", "2.5", "curl", "-s", "http://10.0.0.1/"]);
    const paths = warnings.filter((w) => w.path === "programs[3]").map((w) => w.message);
    assert.equal(paths.length, 2, paths.join("\n"));
    assert.match(paths[0], /\/home\/me\/bin\/tool, a path on this machine/);
    assert.match(paths[1], /\.\/data\.json, a path on this machine/);
    // curl is in the default image, app in the host's own image: no warning for either.
    assert.deepEqual(
      warnings.filter((w) => w.path !== "programs[3]"),
      [],
    );
    const k8s = exported(topology, { to: "clabernetes" });
    assert.ok(!("stages" in k8s.doc.topology.nodes["cli"]));
    assert.ok(
      k8s.warnings.some((w) => w.path === "hosts.cli" && /clabernetes runs each node in its own pod/.test(w.message)),
    );
  });

  test("faults, unknown fields and addresses in containerlab's management subnet are warnings; strict refuses", async () => {
    const loaded = await fromText(`
hosts: { a: {}, b: {} }
links: [{ ends: [{ at: "a:x", address: 172.20.20.5/24 }, "b:y"] }]
faults: [{ at: 100, isolate: a }]
`);
    // A field the export does not know (a future one) is a warning too.
    const topology = { ...loaded, uplinks: ["a"] } as Topology;
    const { warnings } = exported(topology, { to: "containerlab" });
    assert.deepEqual(
      warnings.map((w) => `${w.path}: ${w.message.split(";")[0]}`),
      [
        "faults: not exported: 1 step(s)",
        "uplinks: not exported: this export does not know the field uplinks",
        "links[0].ends[0]: 172.20.20.5/24 overlaps containerlab's management network 172.20.20.0/24 (every node's eth0)",
      ],
    );
    assert.throws(
      () => exportTopology(topology, { to: "clabernetes", strict: true }),
      (error: unknown) => error instanceof ExportError && error.warnings.length === 3 && /faults/.test(error.message),
    );
    const clean = await fromText(
      'hosts: { a: {}, b: {} }\nlinks: [{ ends: [{ at: "a:x", address: 10.0.0.1/24 }, "b:y"] }]\n',
    );
    assert.doesNotThrow(() => exportTopology(clean, { to: "clabernetes", strict: true, image: "alpine:3" }));
  });

  test("a bad target or image is refused, naming the argument", async () => {
    const topology = await fromText("hosts: { a: {} }\n");
    assert.throws(() => exportTopology(topology, { to: "docker" as "containerlab" }), InvalidArgumentError);
    assert.throws(() => exportTopology(topology, { to: "containerlab", image: "a b" }), /Invalid image: "a b"/);
  });
});
