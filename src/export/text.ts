/**
 * The exported document as text that survives containerlab's reading: it
 * renders the file as a Go template (so the text holds no `{{`; the commands
 * never put one in, see shlex.ts), substitutes environment variables (so every
 * `$` is written `$$`, which it turns back into one), then parses YAML 1.1
 * strictly (so every string is double-quoted: `yes`, `on`, `1:20` or `0o17`
 * stay strings, and the characters YAML 1.1 takes for line breaks or refuses
 * are escaped).
 */
import { yaml } from "../topology/yaml.js";

/** A key that YAML 1.1 and 1.2 read as the same string when written plain. */
const PLAIN_KEY = /^[a-z][a-z0-9-]*$/;
const YAML11_WORDS = /^(y|n|yes|no|on|off|true|false|null)$/;
/** Characters YAML 1.1 reads as line breaks (U+0085, U+2028, U+2029) or refuses in a scalar (C1 controls, U+FEFF, U+FFFE, U+FFFF). */

const UNSAFE = /[\u0080-\u009f\u2028\u2029\ufeff\ufffe\uffff]/g;

/** `value` as YAML text: strings double-quoted, keys plain where safe, no folding. */
function yamlText(value: unknown, comment?: string): string {
  const { Document, visit } = yaml();
  const doc = new Document(value);
  visit(doc, {
    Scalar(key, node) {
      if (typeof node.value !== "string") return;
      node.type =
        key === "key" && PLAIN_KEY.test(node.value) && !YAML11_WORDS.test(node.value) ? "PLAIN" : "QUOTE_DOUBLE";
    },
  });
  if (comment) doc.commentBefore = comment;
  return doc
    .toString({ lineWidth: 0 })
    .replace(UNSAFE, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** Text as containerlab reads it: `$` written `$$`, and never a `{{`. */
export function containerlabText(value: unknown, comment?: string): string {
  const text = yamlText(value, comment).replaceAll("$", "$$$$");
  if (text.includes("{{")) throw new Error("dummynet export: internal error: the containerlab text holds {{");
  return text;
}

/** The Kubernetes resource as YAML, its one long string (the containerlab file) as a literal block. */
export function resourceText(value: unknown, blockPath: readonly string[]): string {
  const { Document, isScalar } = yaml();
  const doc = new Document(value);
  const block = doc.getIn(blockPath, true);
  if (isScalar(block)) block.type = "BLOCK_LITERAL";
  return doc.toString({ lineWidth: 0 });
}
