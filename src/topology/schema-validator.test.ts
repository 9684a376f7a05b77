// The build precompiles the schema (scripts/build-schema-validator.mjs); the
// precompiled validator must judge documents exactly as the runtime-compiled one.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { Ajv, type ValidateFunction } from "ajv";
import standalone from "ajv/dist/standalone/index.js";
import { AJV_OPTIONS } from "./schema-options.js";

test("the precompiled schema validator agrees with the runtime-compiled one", { timeout: 60_000 }, () => {
  const schema = JSON.parse(
    readFileSync(new URL("../../schema/topology.schema.json", import.meta.url), "utf8"),
  ) as object;
  const runtime = new Ajv(AJV_OPTIONS).compile(schema);
  const ajv = new Ajv({ ...AJV_OPTIONS, code: { source: true } });
  const module = standalone as unknown as { default?: unknown };
  const generate = (module.default ?? standalone) as unknown as (ajv: Ajv, validate: ValidateFunction) => string;
  // Inside the checkout, so that the generated code resolves ajv's runtime helpers as dist/ does.
  const cache = new URL("../../node_modules/.cache/", import.meta.url).pathname;
  mkdirSync(cache, { recursive: true });
  const directory = mkdtempSync(join(cache, "dummynet-schema-"));
  try {
    const file = join(directory, "validator.cjs");
    writeFileSync(file, generate(ajv, ajv.compile(schema)));
    const loaded = createRequire(import.meta.url)(file) as { default?: ValidateFunction } & ValidateFunction;
    const precompiled = loaded.default ?? loaded;
    const documents: unknown[] = [
      { name: "ok", hosts: { a: {}, b: {} }, links: [{ ends: [{ at: "a:a0", address: "10.0.0.1/24" }, "b:b0"] }] },
      { hosts: { a: { cpu: "lots" } }, links: [{ ends: ["a:x"] }], extra: 1 },
      { hosts: [], links: "none", programs: [{ host: 3 }] },
      "not an object",
    ];
    for (const document of documents) {
      const a = runtime(document);
      const b = precompiled(document);
      assert.equal(b, a, JSON.stringify(document));
      assert.deepEqual(
        (precompiled.errors ?? []).map((e) => [e.instancePath, e.keyword, e.message]),
        (runtime.errors ?? []).map((e) => [e.instancePath, e.keyword, e.message]),
      );
    }
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
});
