/**
 * Errors of topology files: every problem names the file, line and column,
 * what is wrong and what is expected.
 */
import { DummyNetError } from "../errors.js";
import type { NodePath } from "./model.js";

export interface TopologyIssue {
  file: string;
  /** 1-based; 0 when the problem is not tied to a place in the file. */
  line: number;
  column: number;
  /** Where in the document, e.g. "links[0].ends[1].address". */
  where: string;
  /** What is wrong and what is expected. */
  message: string;
}

/** A topology file that cannot be used; nothing was changed on the system. */
export class TopologyError extends DummyNetError {
  constructor(readonly issues: readonly TopologyIssue[]) {
    super(issues.map(formatIssue).join("\n"));
  }
}

export function formatIssue(issue: TopologyIssue): string {
  const place = issue.line > 0 ? `${issue.file}:${issue.line}:${issue.column}` : issue.file;
  return `${place}: ${issue.where ? `${issue.where}: ` : ""}${issue.message}`;
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
