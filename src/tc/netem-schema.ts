/**
 * The JSON Schema of the netem model, from its tables (netem-table.ts): the
 * `netem` and `impairment` definitions of schema/topology.schema.json.
 * scripts/generate-schema.mjs writes them into that file, which stays a static
 * file of the package; a test fails when the file is out of date.
 */
import {
  LOSS_MODELS,
  NETEM_KEYS,
  NETEM_OPTIONS,
  SLOT_FIELDS,
  SLOT_SHAPES,
  rangeInWords,
  type Field,
  type NetemKey,
} from "./netem-table.js";

type Schema = Record<string, unknown>;

const sentence = (text: string) => `${text[0].toUpperCase()}${text.slice(1)}${text.endsWith(".") ? "" : "."}`;

/** "What it is: its unit and range; default x." */
function describe(field: Field | { description: string; default?: string }, range?: string): string {
  return sentence(
    `${field.description}${range ? `: ${range}` : ""}${field.default ? `; default ${field.default}` : ""}`,
  );
}

function fieldSchema(field: Field): Schema {
  switch (field.type) {
    case "boolean":
      return { type: "boolean", description: describe(field) };
    case "enum":
      return { type: "string", enum: [...field.values], description: describe(field) };
    case "number":
      // A file declares what a link has, so the 0 that removes a value in a call is no value there.
      return {
        type: field.integer ? "integer" : "number",
        [field.exclusiveMin ? "exclusiveMinimum" : "minimum"]: field.min,
        maximum: field.max,
        description: describe(field, rangeInWords(field, false)),
      };
  }
}

function objectSchema(fields: Record<string, Field>, required: readonly string[], description: string): Schema {
  return {
    type: "object",
    additionalProperties: false,
    ...(required.length > 0 ? { required: [...required] } : {}),
    properties: Object.fromEntries(Object.entries(fields).map(([name, field]) => [name, fieldSchema(field)])),
    description,
  };
}

function lossSchema(): Schema {
  const { random, ...models } = LOSS_MODELS;
  return {
    if: { type: "number" },
    then: fieldSchema(random.fields.random),
    else: {
      type: "object",
      additionalProperties: false,
      minProperties: 1,
      maxProperties: 2,
      properties: {
        ...Object.fromEntries(Object.entries(random.fields).map(([name, field]) => [name, fieldSchema(field)])),
        ...Object.fromEntries(
          Object.entries(models).map(([name, model]) => [
            name,
            objectSchema(
              model.fields,
              [model.required],
              sentence(`${model.description}, probabilities in percent from 0 to 100`),
            ),
          ]),
        ),
      },
    },
  };
}

function optionSchema(key: NetemKey): Schema {
  const spec = NETEM_OPTIONS[key];
  const examples = { examples: [...spec.examples] };
  if (spec.type === "loss") return { description: describe(spec), ...lossSchema(), ...examples };
  if (spec.type === "slot") {
    const slot = objectSchema(SLOT_FIELDS, [], sentence(`${spec.description}: ${SLOT_SHAPES}, times in ms`));
    return { ...slot, ...examples };
  }
  return { ...fieldSchema(spec), ...examples };
}

const IMPAIRMENT_INGRESS: Schema = {
  description:
    "Impair received packets too (through an IFB device): `true` applies the same options to incoming traffic, an object its own options.",
  if: { type: "boolean" },
  then: {},
  else: { $ref: "#/definitions/netem" },
};

/** The `netem`, `impairment` and `faultImpairment` definitions of the topology schema. */
function netemSchemaDefinitions(): { netem: Schema; impairment: Schema; faultImpairment: Schema } {
  // `reset` only makes sense when changing a link; a file declares one from nothing.
  const properties = Object.fromEntries(
    NETEM_KEYS.filter((key) => !("callOnly" in NETEM_OPTIONS[key])).map((key) => [key, optionSchema(key)]),
  );
  return {
    netem: {
      title: "Netem options",
      description: "Netem impairments: times in ms, ratios in percent, rate in Mbit/s.",
      type: "object",
      additionalProperties: false,
      properties,
    },
    impairment: {
      title: "Impairment (netem)",
      description:
        "Traffic-control impairments (netem) of the packets one interface sends; with `ingress`, of those it receives too. Times in milliseconds, ratios in percent, rate in Mbit/s.",
      type: "object",
      additionalProperties: false,
      properties: { ...properties, ingress: IMPAIRMENT_INGRESS },
    },
    // A `faults:` step's impairment names its interface beside the options: { host, iface, ...netem }.
    faultImpairment: {
      title: "Impairment of a fault step",
      description:
        "An impairment for a while: the interface (`host`, `iface`) and the netem options; with `for`, what was there before comes back.",
      type: "object",
      additionalProperties: false,
      required: ["host", "iface"],
      properties: {
        host: { $ref: "#/definitions/name", description: "The host of the interface." },
        iface: { $ref: "#/definitions/interfaceName", description: "The interface, as the file names it." },
        ...properties,
        ingress: IMPAIRMENT_INGRESS,
      },
    },
  };
}

/**
 * The topology schema's text with its netem definitions generated: `text` is
 * the file as it is; the other definitions are kept as they are, in their
 * order.
 */
export function withNetemDefinitions(text: string): string {
  const schema = JSON.parse(text) as { definitions: Record<string, Schema> };
  const generated = netemSchemaDefinitions();
  const definitions: Record<string, Schema> = {};
  for (const [name, definition] of Object.entries(schema.definitions)) {
    definitions[name] = name in generated ? generated[name as keyof typeof generated] : definition;
  }
  for (const [name, definition] of Object.entries(generated)) definitions[name] ??= definition;
  return `${JSON.stringify({ ...schema, definitions }, null, 2)}\n`;
}
