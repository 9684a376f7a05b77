/**
 * The published JSON Schema documents itself: every property (or the
 * definition it refers to) and every definition has a description, every
 * pattern has a patternErrorMessage for editors, and its $id is this
 * package's own published path, which the package exports.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { SCHEMA_URL, loadTopology } from "./load.js";
import { TopologyError } from "./errors.js";

type Node = Record<string, unknown>;
const schema = JSON.parse(readFileSync(SCHEMA_URL, "utf8")) as Node;
const manifest = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
  name: string;
  exports: Record<string, unknown>;
};
const definitions = schema["definitions"] as Record<string, Node>;

function described(node: Node): boolean {
  if (typeof node["description"] === "string" && node["description"].length > 0) return true;
  const ref = node["$ref"];
  return typeof ref === "string" && described(definitions[ref.replace("#/definitions/", "")] ?? {});
}

/** Every subschema with its JSON pointer, depth first. */
function* subschemas(node: unknown, pointer: string): Generator<[string, Node]> {
  if (node === null || typeof node !== "object") return;
  if (Array.isArray(node)) {
    for (const [index, item] of node.entries()) yield* subschemas(item, `${pointer}/${index}`);
    return;
  }
  yield [pointer, node as Node];
  for (const [key, value] of Object.entries(node))
    if (key !== "enum" && key !== "default" && key !== "required") yield* subschemas(value, `${pointer}/${key}`);
}

test("every property and every definition of the schema has a description", () => {
  const undescribed: string[] = [];
  let properties = 0;
  for (const [pointer, node] of subschemas(schema, "#")) {
    if (pointer.endsWith("/properties")) {
      for (const [name, property] of Object.entries(node)) {
        properties++;
        if (!described(property as Node)) undescribed.push(`${pointer}/${name}`);
      }
    }
  }
  for (const [name, definition] of Object.entries(definitions))
    if (!described(definition)) undescribed.push(`#/definitions/${name}`);
  assert.deepEqual(undescribed, []);
  assert.ok(properties > 50, `walked only ${properties} properties`);
  console.log(`# ${properties} properties and ${Object.keys(definitions).length} definitions, all described`);
});

test("every pattern has a readable patternErrorMessage (what editors show instead of the regular expression)", () => {
  const bare = [...subschemas(schema, "#")]
    .filter(([, node]) => typeof node["pattern"] === "string" && typeof node["patternErrorMessage"] !== "string")
    .map(([pointer]) => pointer);
  assert.deepEqual(bare, []);
});

test("the $id is this package's own published path, and the package exports that path", () => {
  assert.equal(schema["$id"], `https://unpkg.com/${manifest.name}/schema/topology.schema.json`);
  assert.equal(manifest.exports["./schema/topology.schema.json"], "./schema/topology.schema.json");
});

test("the loader's own message for a pattern quotes the description, not the regular expression", async () => {
  const error = await loadTopology({
    text: "hosts: { a: {} }\nprograms:\n  - { host: 'a b', command: [true] }\n",
  }).then(
    () => assert.fail("a host name with a space loaded"),
    (caught: unknown) => caught,
  );
  assert.ok(error instanceof TopologyError, String(error));
  assert.match(
    error.message,
    /programs\[0\]\.host: "a b" is not valid; expected letters, digits, _ \. - \(no spaces\)/,
  );
  assert.doesNotMatch(error.message, /\[A-Za-z/);
});
