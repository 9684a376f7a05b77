/**
 * Loads a topology file (YAML or JSON): parse with positions, validate
 * against the published JSON Schema, normalize, then check what a schema
 * cannot (unknown hosts, duplicate names, address clashes, ...). Nothing here
 * touches the system, so a file that fails changes nothing.
 * The normalization of validated data into a Topology is in normalize.ts.
 */
import { readFile } from "node:fs/promises";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import type { Ajv as AjvClass, ErrorObject, ValidateFunction } from "ajv";
import { AJV_OPTIONS } from "./schema-options.js";
import { requireGenerated } from "../system/code-cache.js";
import { fileURLToPath } from "node:url";
import type { Document, LineCounter, Node as YamlNode } from "yaml";
import { yaml } from "./yaml.js";
import { checkTopology } from "./check.js";
import { normalize, type RawTopology, type TopologyDocument } from "./normalize.js";
import { formatPath, TopologyError, type TopologyProblem as TopologyIssue } from "./errors.js";
import type { NodePath, Topology } from "./model.js";

/** Where the published schema lives (the same relative path from src/ and dist/). */
export const SCHEMA_URL = new URL("../../schema/topology.schema.json", import.meta.url);

let compiledSchema: ValidateFunction | undefined;

/**
 * The schema validator: the one precompiled by the build
 * (scripts/build-schema-validator.mjs) when present, with its code cache,
 * else compiled once per process (compiling costs far more than validating).
 */
function schemaValidator(): ValidateFunction {
  if (!compiledSchema) {
    const generated = requireGenerated(new URL("./schema-validator.generated.cjs", import.meta.url)) as
      ({ default?: ValidateFunction } & ValidateFunction) | undefined;
    if (generated) compiledSchema = generated.default ?? generated;
    else {
      const schema = JSON.parse(readFileSync(SCHEMA_URL, "utf8")) as object;
      // Loaded only here: Ajv costs more to load than the precompiled validator (and every CLI start pays for its imports).
      const { Ajv } = createRequire(import.meta.url)("ajv") as { Ajv: typeof AjvClass };
      compiledSchema = new Ajv(AJV_OPTIONS).compile(schema);
    }
  }
  return compiledSchema;
}

/** A topology given as text: YAML (the default) or JSON; `name` labels it in messages and names the network by default. */
interface TopologyText {
  /** The YAML or JSON text. */
  text: string;
  /** How to parse it. @default "yaml" (or the `format` option) */
  format?: TopologyFormat;
  /** The label messages use for it, and the network's name when the text has none. */
  name?: string;
}

/** The formats `loadTopology` parses. */
export type TopologyFormat = "yaml" | "json";

/** What `loadTopology` accepts: a file path (or file: URL), a text, or the document as a plain object. */
export type TopologySource = string | URL | TopologyText | TopologyDocument;

/**
 * Options of `loadTopology()`.
 * @inline
 */
export interface LoadTopologyOptions {
  /** How to parse a file: by default from its extension (.json is JSON, anything else YAML). @default from the file's extension */
  format?: TopologyFormat;
}

/** Topologies that came out of the loader: building one does not check it again. */
const loadedTopologies = new WeakSet<Topology>();

/** True for a topology `loadTopology` returned (as opposed to a document still to be checked). */
export function isLoadedTopology(value: unknown): value is Topology {
  return typeof value === "object" && value !== null && loadedTopologies.has(value as Topology);
}

/**
 * Parses and checks a topology (the JSON Schema, then what a schema cannot
 * see: unknown hosts, duplicate names, address clashes, impossible values).
 * Changes nothing on the system. Rejects with TopologyError listing every
 * problem with its file, line, column and path.
 *
 * @throws TopologyError listing every problem, each with file, line and column.
 * @example
 * ```ts
 * const topology = await loadTopology("examples/star.yaml");
 * const fromText = await loadTopology({ text: "hosts: { a: {}, b: {} }\nlinks: [{ ends: [a:eth0, b:eth0] }]" });
 * ```
 */
export async function loadTopology(source: TopologySource, options: LoadTopologyOptions = {}): Promise<Topology> {
  if (typeof source === "string" || source instanceof URL) {
    const file = source instanceof URL ? fileURLToPath(source) : source;
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const reason =
        code === "ENOENT" ? "no such file" : code === "EISDIR" ? "it is a directory" : (error as Error).message;
      throw new TopologyError(
        [{ file, line: 0, column: 0, path: "", message: `cannot read the topology file: ${reason}` }],
        { cause: error },
      );
    }
    return parseTopology(text, file, { format: options.format ?? (/\.json$/i.test(file) ? "json" : "yaml") });
  }
  if (
    typeof source === "object" &&
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- JavaScript callers can pass anything
    source !== null &&
    typeof (source as TopologyText).text === "string" &&
    !("hosts" in source)
  ) {
    const given = source;
    const format = given.format ?? options.format ?? "yaml";
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- JavaScript callers can pass anything
    if (format !== "yaml" && format !== "json") {
      throw new TopologyError([
        {
          file: given.name ?? TEXT_LABEL,
          line: 0,
          column: 0,
          path: "",
          message: `format ${JSON.stringify(format)} is not known; expected "yaml" or "json"`,
        },
      ]);
    }
    return parseTopology(given.text, given.name ?? TEXT_LABEL, {
      format,
      ...(given.name === undefined ? { defaultName: "network" } : {}),
    });
  }
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- JavaScript callers can pass anything
  if (typeof source === "object" && source !== null && !Array.isArray(source)) {
    if (isLoadedTopology(source)) return source;
    return checkDocument(structuredCloneJson(source), new ObjectLocator(OBJECT_LABEL), OBJECT_LABEL, "network");
  }
  throw new TopologyError([
    {
      file: OBJECT_LABEL,
      line: 0,
      column: 0,
      path: "",
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- JavaScript callers can pass anything
      message: `cannot load ${source === null ? "null" : Array.isArray(source) ? "a list" : typeof source}; expected a file path, { text, format?, name? } or the document as an object`,
    },
  ]);
}

const TEXT_LABEL = "(text)";
const OBJECT_LABEL = "(object)";

/** A deep copy through JSON, so that later changes to the caller's object cannot change the checked topology. */
function structuredCloneJson(value: object): unknown {
  try {
    return JSON.parse(JSON.stringify(value)) as unknown;
  } catch (error) {
    throw new TopologyError(
      [
        {
          file: OBJECT_LABEL,
          line: 0,
          column: 0,
          path: "",
          message: `is not plain data (${(error as Error).message}); expected what a YAML or JSON file could hold`,
        },
      ],
      { cause: error },
    );
  }
}

/** Reads and loads a topology file; rejects with TopologyError listing every problem. */
export function loadTopologyFile(file: string): Promise<Topology> {
  return loadTopology(file);
}

/** Loads a topology from its text; `file` names it in messages and gives the default name. */
export function parseTopology(
  text: string,
  file: string,
  options: { format?: TopologyFormat; defaultName?: string } = {},
): Topology {
  if (options.format === "json") {
    const data = parseJson(text, file);
    // JSON.parse keeps the last of two same keys, which the YAML parser reports: such a text takes its path.
    if (!hasDuplicateKey(text)) return checkDocument(data, new LazyLocator(text, file), file, options.defaultName);
  }
  const { locator, data } = parseYaml(text, file);
  return checkDocument(data, locator, file, options.defaultName);
}

/** The YAML parser's reading of `text` (YAML or JSON), with a locator of its positions; throws its syntax errors. */
function parseYaml(text: string, file: string): { locator: Locator; data: unknown } {
  const { LineCounter, parseDocument } = yaml();
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const locator = new Locator(doc, lineCounter, file);
  if (doc.errors.length > 0) {
    throw new TopologyError(
      doc.errors.map((error) => {
        const { line, col } = lineCounter.linePos(error.pos[0]);
        const what = error.message.split("\n")[0].replace(/ at line \d+, column \d+:?$/, "");
        return { file, line, column: col, path: "", message: yamlHint(error.code, what) };
      }),
    );
  }
  return { locator, data: doc.toJS({ maxAliasCount: 100 }) };
}

/**
 * Whether the (valid) JSON `text` has an object with the same key twice. A scan instead of the YAML parser, whose
 * document of a large file costs far more than JSON.parse (docs/performance.md).
 */
function hasDuplicateKey(text: string): boolean {
  const open: { keys: Set<string> | undefined; key: boolean }[] = [];
  for (let i = 0; i < text.length; i++) {
    const char = text[i];
    if (char === '"') {
      let end = i + 1;
      while (text[end] !== '"') end += text[end] === "\\" ? 2 : 1;
      const top = open.at(-1);
      if (top?.keys && top.key) {
        const token = text.slice(i, end + 1);
        const key = token.includes("\\") ? (JSON.parse(token) as string) : token.slice(1, -1);
        if (top.keys.has(key)) return true;
        top.keys.add(key);
        top.key = false;
      }
      i = end;
    } else if (char === "{") open.push({ keys: new Set(), key: true });
    else if (char === "[") open.push({ keys: undefined, key: false });
    else if (char === "}" || char === "]") open.pop();
    else if (char === ",") {
      const top = open.at(-1);
      if (top?.keys) top.key = true;
    }
  }
  return false;
}

/** A JSON text's positions, found by the YAML parser only when a problem must be placed. */
class LazyLocator implements IssueLocator {
  #located: Locator | undefined;

  constructor(
    private readonly text: string,
    readonly file: string,
  ) {}

  issue(path: NodePath, message: string, atKey?: boolean): TopologyIssue {
    this.#located ??= parseYaml(this.text, this.file).locator;
    return this.#located.issue(path, message, atKey);
  }
}

/** JSON files are JSON: YAML-only syntax in them is an error. */
function parseJson(text: string, file: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    const message = (error as Error).message;
    const at = /at position (\d+)/.exec(message);
    let line = 1;
    let column = 1;
    if (at) {
      const before = text.slice(0, Number(at[1]));
      line = before.split("\n").length;
      column = before.length - before.lastIndexOf("\n");
    }
    throw new TopologyError([
      {
        file,
        line,
        column,
        path: "",
        message: `JSON syntax error: ${message.replace(/ in JSON at position \d+.*$/, "")}`,
      },
    ]);
  }
}

interface IssueLocator {
  issue(path: NodePath, message: string, atKey?: boolean): TopologyIssue;
}

/** Problems of a plain object: no lines and columns, the path says where. */
class ObjectLocator implements IssueLocator {
  constructor(readonly file: string) {}

  issue(path: NodePath, message: string): TopologyIssue {
    return { file: this.file, line: 0, column: 0, path: formatPath(path), message };
  }
}

/** Validates parsed data against the schema, normalizes it and runs the semantic checks. */
function checkDocument(data: unknown, locator: IssueLocator, file: string, defaultName?: string): Topology {
  const validate = schemaValidator();
  if (!validate(data)) {
    throw new TopologyError(sortIssues(describeSchemaErrors(validate.errors ?? [], locator)));
  }
  const topology = normalize(data as RawTopology, file, defaultName);
  const problems = checkTopology(topology);
  if (problems.length > 0) {
    throw new TopologyError(sortIssues(dedupe(problems.map((p) => locator.issue(p.path, p.message, p.atKey)))));
  }
  loadedTopologies.add(topology);
  return topology;
}

function yamlHint(code: string, message: string): string {
  if (code === "DUPLICATE_KEY") return `${message}: each name may appear once; rename or merge the duplicate`;
  return `YAML syntax error: ${message}`;
}

function dedupe(issues: TopologyIssue[]): TopologyIssue[] {
  const seen = new Set<string>();
  return issues.filter((issue) => {
    const key = `${issue.line}:${issue.column}:${issue.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function sortIssues(issues: TopologyIssue[]): TopologyIssue[] {
  return issues.sort((a, b) => a.line - b.line || a.column - b.column);
}

/** Finds the line and column of a node (or of a map key) from its path. */
class Locator implements IssueLocator {
  constructor(
    private readonly doc: Document,
    private readonly lineCounter: LineCounter,
    readonly file: string,
  ) {}

  issue(path: NodePath, message: string, atKey = false): TopologyIssue {
    const { line, column } = this.position(path, atKey);
    return { file: this.file, line, column, path: formatPath(path), message };
  }

  /** Position of the value at `path` (or of its key when `atKey`); falls back to the nearest ancestor. */
  position(path: NodePath, atKey = false): { line: number; column: number } {
    const { isMap, isScalar, isSeq } = yaml();
    let node: unknown = this.doc.contents;
    let found: unknown = node;
    for (let i = 0; i < path.length; i++) {
      const key = path[i];
      if (isMap(node)) {
        const pair = node.items.find((item) => (isScalar(item.key) ? item.key.value : item.key) === key);
        if (!pair) break;
        node = atKey && i === path.length - 1 ? pair.key : (pair.value ?? pair.key);
      } else if (isSeq(node) && typeof key === "number") {
        node = node.items[key];
      } else break;
      if (node) found = node;
      else break;
    }
    const range = (found as YamlNode | undefined)?.range;
    if (!range) return { line: 1, column: 1 };
    const { line, col } = this.lineCounter.linePos(range[0]);
    return { line, column: col };
  }
}

function describeSchemaErrors(errors: ErrorObject[], locator: IssueLocator): TopologyIssue[] {
  const issues: TopologyIssue[] = [];
  const seen = new Set<string>();
  for (const error of errors) {
    // if/then/else report the branch's own errors; their summary adds nothing.
    if (error.keyword === "if") continue;
    const path = pointerToPath(error.instancePath);
    let atKey = false;
    let message: string;
    const value = error.data;
    const schema = (error.parentSchema ?? {}) as { description?: string; properties?: Record<string, unknown> };
    const params = error.params as Record<string, unknown>;
    switch (error.keyword) {
      case "required":
        message = `missing ${JSON.stringify(String(params["missingProperty"]))}; it is required here`;
        break;
      case "additionalProperties": {
        path.push(String(params["additionalProperty"]));
        atKey = true;
        const allowed = Object.keys(schema.properties ?? {}).filter((key) => key !== "$schema");
        message = `unknown property ${JSON.stringify(String(params["additionalProperty"]))}; expected one of: ${allowed.join(", ")}`;
        break;
      }
      case "propertyNames":
        continue; // described by the pattern error that follows, with the key's name
      case "type":
        message = `is ${kindOf(value)}; expected ${String(params["type"]).replace(",", " or ")}`;
        break;
      case "minimum":
      case "maximum":
      case "exclusiveMinimum":
      case "exclusiveMaximum":
        message = `is ${String(value)}; expected a value ${String(params["comparison"])} ${String(params["limit"])}${schema.description ? ` (${schema.description.replace(/\.$/, "")})` : ""}`;
        break;
      case "pattern":
      case "maxLength":
      case "minLength": {
        if (params["propertyName"] !== undefined || error.propertyName !== undefined) {
          const name = String(error.propertyName ?? params["propertyName"]);
          path.push(name);
          atKey = true;
          message = `the name ${JSON.stringify(name)} is not allowed; ${namePatternHelp(error.schemaPath)}`;
          break;
        }
        const text = String(value);
        if (error.keyword === "maxLength") {
          // Quoted as JSON: a value with a line break must not print as a second, fake file:line:col line.
          message = `${JSON.stringify(text)} is ${text.length} characters long; at most ${String(params["limit"])} allowed${schema.description ? ` (${schema.description})` : ""}`;
        } else if (error.keyword === "minLength") {
          message = `is empty; expected at least ${String(params["limit"])} character(s)`;
        } else {
          message = `${JSON.stringify(text)} is not valid; expected ${schema.description ?? `text matching ${String(params["pattern"])}`}`;
        }
        break;
      }
      case "enum":
        message = `is ${JSON.stringify(value)}; expected one of: ${(params["allowedValues"] as unknown[]).join(", ")}`;
        break;
      case "const":
        message = `is ${JSON.stringify(value)}; expected ${JSON.stringify(params["allowedValue"])}`;
        break;
      case "minItems":
      case "maxItems":
        message = `has ${(value as unknown[]).length} item(s); expected ${error.keyword === "minItems" ? "at least" : "at most"} ${String(params["limit"])}`;
        break;
      case "minProperties":
        message = `is empty; expected at least ${String(params["limit"])} entry`;
        break;
      default:
        message = error.message ?? "is invalid";
    }
    const issue = locator.issue(path, message, atKey);
    const key = `${issue.path}|${issue.message}`;
    if (!seen.has(key)) issues.push(issue);
    seen.add(key);
  }
  return issues;
}

function namePatternHelp(schemaPath: string): string {
  if (schemaPath.includes("sysctls"))
    return "expected a namespaced setting starting with net. (other settings would change the whole machine)";
  return "expected letters, digits, _ . - (at most 64)";
}

function kindOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a mapping";
  return `${typeof value} ${JSON.stringify(value)}`;
}

function pointerToPath(pointer: string): (string | number)[] {
  if (!pointer) return [];
  return pointer
    .slice(1)
    .split("/")
    .map((part) => part.replace(/~1/g, "/").replace(/~0/g, "~"))
    .map((part) => (/^(0|[1-9][0-9]*)$/.test(part) ? Number(part) : part));
}
