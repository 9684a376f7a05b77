/** `dummynet export FILE --to containerlab|clabernetes`: the topology for containerlab, or for Kubernetes through clabernetes. */
import { writeFileSync } from "node:fs";
import { load, warn } from "../command-io.js";
import { dim, EXIT, red, yellow } from "../output.js";

/** The options of `dummynet export`. */
export interface ExportFlags {
  to: "containerlab" | "clabernetes";
  output?: string;
  image?: string;
  strict?: boolean;
}

/** Writes the export to stdout (or --output); warnings and notices to stderr; 2 when --strict refuses. */
export async function exportCommand(file: string, flags: ExportFlags): Promise<number> {
  const topology = await load(file);
  const { exportTopology } = await import("../../export/export.js");
  const { ExportError } = await import("../../export/report.js");
  let text: string;
  try {
    text = exportTopology(topology, {
      to: flags.to,
      ...(flags.image !== undefined ? { image: flags.image } : {}),
      ...(flags.strict ? { strict: true } : {}),
      onWarning: (item) => {
        const label = item.severity === "warning" ? yellow("warning", process.stderr) : dim("notice", process.stderr);
        warn(`${label}: ${item.path}: ${item.message}`);
      },
    });
  } catch (error) {
    if (!(error instanceof ExportError)) throw error;
    warn(
      `${red("error", process.stderr)}: ${file} does not export to ${flags.to} faithfully (--strict; nothing was written):`,
    );
    for (const item of error.warnings) warn(`  ${item.severity}: ${item.path}: ${item.message}`);
    return EXIT.usage;
  }
  if (flags.output) {
    writeFileSync(flags.output, text);
    warn(dim(`wrote ${flags.output}`, process.stderr));
  } else process.stdout.write(text);
  return EXIT.ok;
}
