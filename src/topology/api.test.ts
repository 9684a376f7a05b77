/**
 * The topology API is the command line's: loadTopology reports, for every
 * example and every bad file the loader tests use, exactly what `dummynet
 * validate --json` reports (problems, positions, messages), from a path or
 * from text; plain objects and JSON load too.
 */
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { readFileSync } from "node:fs";
import { runChild } from "../testing/child.test-helpers.js";
import { DummyNetError, TopologyError, loadTopology, toDot, toMermaid } from "../index.js";
import type { TopologyProblem } from "./errors.js";
import { BAD_TOPOLOGIES } from "./fixtures/bad-topologies.js";
import { describeFaults } from "./fault-steps.js";

const MAIN = fileURLToPath(new URL("../cli/main.ts", import.meta.url));
const EXAMPLES = fileURLToPath(new URL("../../examples/", import.meta.url));

async function validateJson(
  file: string,
): Promise<{ valid: boolean; problems?: TopologyProblem[]; name?: string; hosts?: number; links?: number }> {
  const result = await runChild([process.execPath, "--import", "tsx", MAIN, "validate", "--json", file], {
    timeout: 60_000,
  });
  return JSON.parse(result.stdout) as { valid: boolean; problems?: TopologyProblem[] };
}

async function problemsOf(load: Promise<unknown>): Promise<readonly TopologyProblem[]> {
  try {
    await load;
  } catch (error) {
    assert.ok(error instanceof TopologyError, `expected a TopologyError, got ${String(error)}`);
    assert.ok(error instanceof DummyNetError);
    return error.problems;
  }
  assert.fail("loaded");
}

describe("loadTopology and dummynet validate", () => {
  const dir = mkdtempSync(join(tmpdir(), "dummynet-api-"));

  test("every bad file: the same problems, positions and messages, from a path and from text", async () => {
    await Promise.all(
      Object.entries(BAD_TOPOLOGIES).map(async ([name, text]) => {
        const file = join(dir, `${name}.yaml`);
        writeFileSync(file, text);
        const cli = await validateJson(file);
        assert.equal(cli.valid, false, name);
        const fromPath = await problemsOf(loadTopology(file));
        assert.deepEqual(fromPath, cli.problems, name);
        assert.ok(
          fromPath.every(
            (problem) =>
              problem.file === file && problem.line >= 1 && problem.column >= 1 && typeof problem.path === "string",
          ),
          name,
        );
        assert.deepEqual(await problemsOf(loadTopology({ text, name: file })), cli.problems, `${name} as text`);
      }),
    );
  });

  test("every example: valid for both, with the same counts; graphs from the loaded topology", async () => {
    const files = readdirSync(EXAMPLES).filter((file) => /\.(ya?ml|json)$/.test(file));
    assert.ok(files.length >= 4);
    await Promise.all(
      files.map(async (file) => {
        const path = join(EXAMPLES, file);
        const cli = await validateJson(path);
        const topology = await loadTopology(path);
        assert.deepEqual(
          cli,
          {
            file: path,
            valid: true,
            name: topology.name,
            hosts: topology.hosts.length,
            links: topology.links.length,
            bridges: topology.bridges.length,
            vlans: topology.vlans.length,
            programs: topology.programs.length,
            ...(topology.faults ? { faults: describeFaults(topology.faults) } : {}),
          },
          file,
        );
        assert.deepEqual(
          await loadTopology({ text: readFileSync(path, "utf8"), name: path }),
          topology,
          `${file} as text`,
        );
        for (const host of topology.hosts) {
          assert.ok(toMermaid(topology).includes(`"${host.name}`));
          assert.ok(toDot(topology).includes(`"h:${host.name}"`));
        }
      }),
    );
  });

  test("a plain object loads; its problems have paths but no lines; a JSON text is JSON", async () => {
    const topology = await loadTopology({
      hosts: { a: {}, b: {} },
      links: [{ ends: ["a:eth0", { at: "b:eth0", address: "10.0.0.2/24" }] }],
    });
    assert.equal(topology.name, "network");
    assert.deepEqual(topology.links[0].ends[1].addresses, ["10.0.0.2/24"]);
    assert.deepEqual(await problemsOf(loadTopology({ hosts: { a: {} }, links: [{ ends: ["a:eth0", "c:eth0"] }] })), [
      {
        file: "(object)",
        line: 0,
        column: 0,
        path: "links[0].ends[1]",
        message: 'unknown host "c"; expected a host declared under hosts (a)',
      },
    ]);
    const json = await loadTopology({ text: '{ "name": "j", "hosts": { "a": {} } }', format: "json" });
    assert.equal(json.name, "j");
    const [syntax] = await problemsOf(
      loadTopology({ text: '{\n  "hosts": { a: {} }\n}', format: "json", name: "net.json" }),
    );
    assert.deepEqual([syntax.file, syntax.line, syntax.column], ["net.json", 2, 14]);
    assert.match(syntax.message, /^JSON syntax error: /);
    // JSON is read by JSON.parse; positions and same keys (which JSON.parse would keep quietly) as the YAML parser tells.
    const json2 = (text: string) => problemsOf(loadTopology({ text, format: "json", name: "net.json" }));
    const [unknown] = await json2('{\n  "hosts": { "a": { "cpus": 1 } }\n}');
    assert.deepEqual([unknown.line, unknown.column, unknown.path], [2, 21, "hosts.a.cpus"]);
    for (const text of ['{ "hosts": { "a": {}, "a": {} } }', '{ "hosts": { "a": {}, "\\u0061": {} } }']) {
      const [twice] = await json2(text);
      assert.deepEqual([twice.line, twice.column], [1, 23], text);
      assert.match(twice.message, /each name may appear once/);
    }
    const quoted = '{ "hosts": { "a": {} }, "programs": [{ "host": "a", "command": ["echo", "\\"}, {\\"a\\": 1"] }] }';
    assert.deepEqual((await loadTopology({ text: quoted, format: "json" })).programs[0]?.command, [
      "echo",
      '"}, {"a": 1',
    ]);
    const [missing] = await problemsOf(loadTopology(join(dir, "absent.yaml")));
    assert.match(missing.message, /cannot read the topology file: no such file/);
    await assert.rejects(
      loadTopology(42 as never),
      /cannot load number; expected a file path, \{ text, format\?, name\? \} or the document as an object/,
    );
  });

  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });
});
