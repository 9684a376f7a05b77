/**
 * The netem options as command-line flags (`dummynet impair`), from the
 * model's tables (src/tc/netem-table.ts): one flag per option, named after it
 * (`delayCorrelation` is `--delay-correlation`), with its unit, range, default
 * and an example in the help, and each value checked by the model's own
 * validation while the command line is parsed, before anything changes.
 *
 * Values are written as on tc's command line where they are one number or
 * name; a loss model or a slot is written `name:field=value,...` or
 * `field=value,...` (`--loss state:p13=1,p31=30`, `--slot min=1,max=5`).
 * `none` removes a value, as `null` does in the library.
 */
import { InvalidArgumentError as CommanderArgumentError, Option, type Command } from "commander";
import { InvalidArgumentError } from "../errors.js";
import {
  LOSS_MODELS,
  NETEM_KEYS,
  NETEM_OPTIONS,
  SLOT_FIELDS,
  SLOT_KINDS,
  UNITS,
  rangeInWords,
  type Field,
  type NetemKey,
  type OptionSpec,
} from "../tc/netem-table.js";
import type { NetemOptions } from "../tc/netem-model.js";
import { checkOption } from "../tc/netem-validate.js";

/** The word that removes a value on the command line. */
const REMOVE_WORD = "none";
/** What a flag's parser gives for `none` (commander turns a parsed null into ""); netemFromFlags makes it null. */
const REMOVED = Symbol(REMOVE_WORD);

/** `delayCorrelation` -> `--delay-correlation` (commander camel-cases it back to the option's name). */
export function flagOf(key: NetemKey): string {
  return `--${key.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`)}`;
}

function placeholder(field: Field): string {
  return field.type === "number" ? UNITS[field.unit].flag : "<name>";
}

/** A value of the library written as the command line takes it: `20`, `state:p13=1,p31=30`, `min=1,max=5`. */
export function formatFlagValue(value: unknown): string {
  if (value === null || typeof value !== "object") return String(value);
  const fields = (object: object) =>
    Object.entries(object)
      .map(([name, field]) => `${name}=${String(field)}`)
      .join(",");
  const entries: [string, unknown][] = Object.entries(value);
  const [name, inner] = entries.at(0) ?? [];
  if (entries.length === 1 && inner !== null && typeof inner === "object") return `${name}:${fields(inner)}`;
  return fields(value);
}

function textValue(text: string): number | string {
  const number = Number(text);
  return text.trim() !== "" && Number.isFinite(number) ? number : text;
}

/**
 * Reads a flag's text as the library's value: a number, a name, or a
 * structured value; text that is none of those is returned as is, for the
 * validation to refuse with its rule.
 */
export function parseFlagValue(key: NetemKey, text: string): unknown {
  if (text === REMOVE_WORD) return null;
  const spec = NETEM_OPTIONS[key];
  if (spec.type === "number") return textValue(text);
  if (spec.type !== "loss" && spec.type !== "slot") return text;
  const number = textValue(text);
  if (typeof number === "number") return number;
  const colon = text.indexOf(":");
  const name = colon >= 0 ? text.slice(0, colon) : undefined;
  const fields: Record<string, unknown> = {};
  for (const part of text.slice(colon + 1).split(",")) {
    const equals = part.indexOf("=");
    if (equals <= 0) return text;
    fields[part.slice(0, equals).trim()] = textValue(part.slice(equals + 1).trim());
  }
  return name === undefined ? fields : { [name]: fields };
}

/** The word that stands for a field's value in a structured option's syntax. */
const VALUE_WORDS: Record<string, string> = { ms: "MS", percent: "PCT", packets: "N", bytes: "N", enum: "NAME" };

/** `min=MS,max=MS,...`: the syntax of an object's fields. */
function fieldsSyntax(fields: Record<string, Field>, names: readonly string[]): string {
  return names
    .map((name) => {
      const field = fields[name];
      return `${name}=${VALUE_WORDS[field.type === "number" ? field.unit : field.type] ?? "VALUE"}`;
    })
    .join(",");
}

/** The value syntax of a structured option, and which fields it needs, for its help. */
function structuredSyntax(spec: OptionSpec): string {
  if (spec.type === "loss") {
    const { random: _random, ...models } = LOSS_MODELS;
    const syntax = Object.entries(models).map(
      ([name, model]) => `${name}:${fieldsSyntax(model.fields, Object.keys(model.fields))}`,
    );
    const needed = Object.values(models).map((model) => model.required);
    return `PCT, ${syntax.join(" or ")} (only ${needed.join(" and ")} needed)`;
  }
  const kinds = Object.values(SLOT_KINDS);
  const needed = kinds.map((kind) => kind.required.join(", "));
  return `${kinds.map((kind) => fieldsSyntax(SLOT_FIELDS, kind.fields)).join(" or ")} (only ${needed.join(", or ")} needed)`;
}

function helpOf(key: NetemKey): string {
  const spec: OptionSpec = NETEM_OPTIONS[key];
  const range =
    spec.type === "number" ? `: ${rangeInWords(spec)}` : spec.type === "enum" ? `: ${spec.values.join(", ")}` : "";
  const syntax = spec.type === "loss" || spec.type === "slot" ? `: ${structuredSyntax(spec)}` : "";
  const examples =
    spec.type === "boolean"
      ? ""
      : ` (e.g. ${spec.examples.map((example) => `${flagOf(key)} ${formatFlagValue(example)}`).join(", ")})`;
  return `${spec.description}${range}${syntax}${spec.default ? `; default ${spec.default}` : ""}${examples}`;
}

/** Checks a flag's text as the option's value; a bad one ends the parse with the rule, before anything changes. */
function flagParser(key: NetemKey): (text: string) => unknown {
  return (text) => {
    try {
      return checkOption(key, parseFlagValue(key, text), "", `give ${REMOVE_WORD} to remove it`) ?? REMOVED;
    } catch (error) {
      if (!(error instanceof InvalidArgumentError)) throw error;
      // Inside a structured value the message names the field: "state.p13=200 must be ...".
      const field = error.argument.slice(`tc option ${key}.`.length);
      const where = error.argument === `tc option ${key}` ? "" : `${field}=${String(error.value)} `;
      const spec = NETEM_OPTIONS[key];
      // The syntax of a structured value, by example, unless what was wrong is a random loss's percent.
      const syntaxHelps = spec.type === "slot" || (spec.type === "loss" && typeof error.value !== "number");
      const examples = where === "" && syntaxHelps ? `; e.g. ${spec.examples.map(formatFlagValue).join(" or ")}` : "";
      throw new CommanderArgumentError(`${where}${error.rule}${examples}`);
    }
  };
}

/** Adds a flag for every netem option, and `--ingress`, to `command`, with their help. */
export function addNetemOptions(command: Command): Command {
  for (const key of NETEM_KEYS) {
    const spec = NETEM_OPTIONS[key];
    if (spec.type === "boolean") {
      command.addOption(new Option(flagOf(key), helpOf(key)));
      if (!("callOnly" in spec)) command.addOption(new Option(`--no-${flagOf(key).slice(2)}`, `remove ${key}`));
      continue;
    }
    const value = spec.type === "loss" ? "<percent|model>" : spec.type === "slot" ? "<slot>" : placeholder(spec);
    command.addOption(new Option(`${flagOf(key)} ${value}`, helpOf(key)).argParser(flagParser(key)));
  }
  command.addOption(new Option("--ingress", "apply the same options to received packets too"));
  return command.addHelpText(
    "after",
    `\nValues: times in ms, ratios in percent, rates in Mbit/s; a value not given is kept, ${REMOVE_WORD} (or 0 for most numbers) removes one, --reset starts from an unimpaired link.`,
  );
}

/** The netem options (and `ingress`) among a command's parsed flags, as `tc()` takes them. */
export function netemFromFlags(flags: Record<string, unknown>): NetemOptions {
  const options: Record<string, unknown> = {};
  for (const key of [...NETEM_KEYS, "ingress"])
    if (flags[key] !== undefined) options[key] = flags[key] === REMOVED ? null : flags[key];
  return options;
}
