/** `dummynet validate FILE...`: check topology files (or standard input) against the schema and the semantic rules. */
import { readFile } from "node:fs/promises";
import { formatIssue, TopologyError } from "../../topology/errors.js";
import { print, printJson, UsageError, warn } from "../command-io.js";
import { EXIT, green, red } from "../output.js";

/** Reads FILE, or standard input for "-". */
async function readTopologyText(file: string): Promise<{ text: string; format?: "json" }> {
  if (file !== "-") return { text: await readFile(file, "utf8") };
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString("utf8");
  // JSON is YAML too, but JSON's own parser reports JSON mistakes better.
  return /^\s*\{/.test(text) ? { text, format: "json" } : { text };
}

/** Checks each FILE ("-" for standard input); 2 when any is invalid. One file, --json: an object; several: an array. */
export async function validate(files: string[], options: { json?: boolean }): Promise<number> {
  if (files.filter((file) => file === "-").length > 1) throw new UsageError('"-" (standard input) can be given once');
  const { loadTopology } = await import("../../topology/load.js");
  const reports: Record<string, unknown>[] = [];
  let status: number = EXIT.ok;
  const count = (n: number, what: string) => `${n} ${what}${n === 1 ? "" : "s"}`;
  for (const file of files) {
    try {
      const topology =
        file === "-"
          ? await loadTopology({ ...(await readTopologyText(file)), name: "stdin" })
          : await loadTopology(file);
      const numbers = {
        hosts: topology.hosts.length,
        links: topology.links.length,
        bridges: topology.bridges.length,
        vlans: topology.vlans.length,
        programs: topology.programs.length,
      };
      const { describeFaults } = await import("../../topology/fault-steps.js");
      const faults = describeFaults(topology.faults);
      reports.push({ file, valid: true, name: topology.name, ...numbers, ...(faults.length > 0 ? { faults } : {}) });
      if (!options.json) {
        print(
          `${green("valid")}: ${file === "-" ? "stdin" : file}: network ${topology.name}: ${[
            count(numbers.hosts, "host"),
            count(numbers.links, "link"),
            count(numbers.bridges, "bridge"),
            count(numbers.vlans, "VLAN"),
            count(numbers.programs, "program"),
          ].join(", ")}${faults.length > 0 ? `; faults:` : ""}`,
        );
        for (const line of faults) print(`  ${line}`);
      }
    } catch (error) {
      if (!(error instanceof TopologyError)) throw error;
      status = EXIT.usage;
      reports.push({ file, valid: false, problems: error.problems });
      if (!options.json) {
        warn(
          `${red("error", process.stderr)}: ${file === "-" ? "stdin" : file} is not a valid topology (nothing was changed):`,
        );
        for (const issue of error.problems) warn(`  ${formatIssue(issue)}`);
      }
    }
  }
  if (options.json) printJson(reports.length === 1 ? reports[0] : reports);
  return status;
}
