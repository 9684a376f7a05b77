/**
 * Errors of topology files: every problem names the file, line and column,
 * what is wrong and what is expected.
 */
import { DummyNetError } from "../errors.js";
import type { NodePath } from "./model.js";

/** One problem of a topology: where it is and what is wrong. */
export interface TopologyProblem {
  /** The file (or the `name` given with a text, "(object)" for a plain object). */
  file: string;
  /** 1-based; 0 when the problem is not tied to a place in a text (a plain object, an unreadable file). */
  line: number;
  /** 1-based; 0 when `line` is 0. */
  column: number;
  /** Where in the document, e.g. "links[0].ends[1].address"; "" for the whole document. */
  path: string;
  /** What is wrong and what is expected. */
  message: string;
}

/**
 * A topology that cannot be used; nothing was changed on the system. `problems` lists every problem found.
 *
 * @example
 * ```ts
 * try {
 *   await loadTopology("examples/star.yaml");
 * } catch (error) {
 *   if (!(error instanceof TopologyError)) throw error;
 *   for (const p of error.problems) console.error(`${p.file}:${p.line}:${p.column} ${p.path}: ${p.message}`);
 * }
 * ```
 */
export class TopologyError extends DummyNetError {
  constructor(
    /** Every problem found, in document order. */
    readonly problems: readonly TopologyProblem[],
    options?: ErrorOptions,
  ) {
    super(problems.map(formatIssue).join("\n"), options);
  }
}

export function formatIssue(issue: TopologyProblem): string {
  const place = issue.line > 0 ? `${issue.file}:${issue.line}:${issue.column}` : issue.file;
  return `${place}: ${issue.path ? `${issue.path}: ` : ""}${issue.message}`;
}

export function formatPath(path: NodePath): string {
  let text = "";
  for (const key of path) {
    if (typeof key === "number") text += `[${key}]`;
    else if (/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(key)) text += text ? `.${key}` : key;
    else text += `[${JSON.stringify(key)}]`;
  }
  return text;
}
