/**
 * What an export says about itself: a warning for each thing that does not
 * carry over faithfully (with `strict`, the export is refused instead), a
 * notice for each thing carried over changed (a renamed interface). Never a
 * silent drop.
 */
import { DummyNetError } from "../errors.js";
import { formatPath } from "../topology/errors.js";
import type { NodePath } from "../topology/model.js";

/** Where `exportTopology` writes to: a containerlab topology file, or a clabernetes Topology resource. */
export type ExportTarget = "containerlab" | "clabernetes";

/** The targets, in the order help lists them. */
export const EXPORT_TARGETS = ["containerlab", "clabernetes"] as const satisfies readonly ExportTarget[];

/** One thing the export says about the topology. */
export interface ExportWarning {
  /** `warning`: it does not carry over faithfully (`strict` refuses the export); `notice`: it carries over changed, e.g. renamed. */
  severity: "warning" | "notice";
  /** Where it is in the topology, e.g. `links[0].ends[1]` or `hosts.a`. */
  path: string;
  /** What happens to it and, for a warning, what to do. */
  message: string;
}

/**
 * A strict export refused: the topology has something that does not carry
 * over faithfully; `warnings` lists each (notices included).
 *
 * @example
 * ```ts
 * try {
 *   exportTopology(await loadTopology("examples/star.yaml"), { to: "clabernetes", strict: true });
 * } catch (error) {
 *   if (!(error instanceof ExportError)) throw error;
 *   for (const w of error.warnings) console.error(`${w.severity}: ${w.path}: ${w.message}`);
 * }
 * ```
 */
export class ExportError extends DummyNetError {
  constructor(
    /** Everything the export found, warnings and notices. */
    readonly warnings: readonly ExportWarning[],
    /** The target that was asked for. */
    readonly target: ExportTarget,
  ) {
    const refused = warnings.filter((item) => item.severity === "warning");
    super(
      `Cannot export to ${target} faithfully (strict): ${refused.length} warning(s): ` +
        refused.map((item) => `${item.path}: ${item.message}`).join("; "),
    );
  }
}

/** Collects an export's warnings and notices, in the order they are found. */
export class ExportReport {
  readonly items: ExportWarning[] = [];

  warn(path: NodePath, message: string): void {
    this.items.push({ severity: "warning", path: formatPath(path), message });
  }

  notice(path: NodePath, message: string): void {
    this.items.push({ severity: "notice", path: formatPath(path), message });
  }

  get warnings(): ExportWarning[] {
    return this.items.filter((item) => item.severity === "warning");
  }
}
