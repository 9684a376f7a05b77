// The topology schema's netem definitions come from the netem model's tables:
// the checked-in file must be what scripts/generate-schema.mjs writes, and the
// schema and the library's validator must judge each option alike.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { Ajv } from "ajv";
import { AJV_OPTIONS } from "../topology/schema-options.js";
import { LOSS_MODELS, NETEM_KEYS, NETEM_OPTIONS, SLOT_FIELDS, SLOT_KINDS, type Field } from "./netem-table.js";
import { withNetemDefinitions } from "./netem-schema.js";
import { validateNetemOptions } from "./netem-validate.js";

const SCHEMA_FILE = new URL("../../schema/topology.schema.json", import.meta.url);

test("schema/topology.schema.json holds the netem definitions the model generates (else run node scripts/generate-schema.mjs)", () => {
  const text = readFileSync(SCHEMA_FILE, "utf8");
  // Compared as data: prettier formats the file after the generator writes it.
  assert.deepEqual(
    JSON.parse(text),
    JSON.parse(withNetemDefinitions(text)),
    "schema/topology.schema.json is out of date with src/tc/netem-table.ts: run node scripts/generate-schema.mjs, then prettier",
  );
});

/** Values just inside and just outside a field's range (and of the wrong type). */
function probes(field: Field): { inside: unknown[]; outside: unknown[] } {
  switch (field.type) {
    case "boolean":
      return { inside: [true, false], outside: ["yes", 1] };
    case "enum":
      return { inside: [...field.values], outside: ["nosuch", 3] };
    case "number": {
      const inside = [field.exclusiveMin ? field.min + 1 : field.min, field.max];
      const outside: unknown[] = [field.exclusiveMin ? field.min : field.min - 1, field.max + 1, "1"];
      if (field.integer) outside.push(field.min + 1.5);
      return { inside, outside };
    }
  }
}

test(
  "the schema and the validator accept the same values of every option and field, and refuse the same",
  { timeout: 60_000 },
  () => {
    const schema = JSON.parse(readFileSync(SCHEMA_FILE, "utf8")) as { definitions: object };
    const validate = new Ajv(AJV_OPTIONS).compile({
      definitions: schema.definitions,
      $ref: "#/definitions/impairment",
    });
    const library = (impairment: object) => {
      try {
        validateNetemOptions(impairment);
        return true;
      } catch {
        return false;
      }
    };
    const cases: { impairment: object; valid: boolean }[] = [];
    const fileOptions = NETEM_KEYS.filter((key) => !("callOnly" in NETEM_OPTIONS[key]));
    for (const key of fileOptions) {
      const spec = NETEM_OPTIONS[key];
      for (const example of spec.examples) cases.push({ impairment: { [key]: example }, valid: true });
      if (spec.type === "loss") {
        for (const [name, model] of Object.entries(LOSS_MODELS)) {
          for (const [field, rule] of Object.entries(model.fields)) {
            const wrap = (value: unknown) => {
              const fields = { [model.required]: 1, [field]: value };
              return { loss: name === "random" ? fields : { [name]: fields } };
            };
            const { inside, outside } = probes(rule);
            for (const value of inside) cases.push({ impairment: wrap(value), valid: true });
            for (const value of outside) cases.push({ impairment: wrap(value), valid: false });
          }
        }
      } else if (spec.type === "slot") {
        for (const [field, rule] of Object.entries(SLOT_FIELDS)) {
          const fixed = (SLOT_KINDS.fixed.fields as readonly string[]).includes(field);
          const base = fixed ? { min: 0 } : { distribution: "normal", delay: 1, jitter: 1 };
          const { inside, outside } = probes(rule);
          for (const value of inside) cases.push({ impairment: { slot: { ...base, [field]: value } }, valid: true });
          for (const value of outside) cases.push({ impairment: { slot: { ...base, [field]: value } }, valid: false });
        }
      } else {
        const { inside, outside } = probes(spec);
        for (const value of inside) cases.push({ impairment: { [key]: value }, valid: true });
        for (const value of outside) cases.push({ impairment: { [key]: value }, valid: false });
      }
    }
    const disagreements = cases
      .map(({ impairment, valid }) => ({
        impairment,
        valid,
        schema: validate(impairment),
        library: library(impairment),
      }))
      .filter((judged) => judged.schema !== judged.valid || judged.library !== judged.valid)
      .map(
        (judged) =>
          `${JSON.stringify(judged.impairment)}: expected ${judged.valid ? "valid" : "invalid"}, schema says ${judged.schema}, validator says ${judged.library}`,
      );
    assert.deepEqual(disagreements, []);
    assert.ok(cases.length > 150, `only ${cases.length} cases`);
    console.log(`# ${cases.length} values judged alike by the schema and the validator`);
  },
);
