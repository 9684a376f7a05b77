// The scripts' one command-line parser: node's util.parseArgs, strict, with --help.
import { parseArgs } from "node:util";

/**
 * Parses this script's arguments by `options` (util.parseArgs's). `--help` prints `usage` and exits 0; an unknown
 * option, a missing value or a stray positional prints what is wrong with `usage` and exits 2.
 * @param {string} usage
 * @param {import("node:util").ParseArgsConfig["options"]} [options]
 * @param {{ args?: string[], allowPositionals?: boolean }} [more]
 * @returns {{ values: Record<string, string | boolean | undefined>, positionals: string[] }}
 */
export function parseCommandLine(usage, options = {}, { args = process.argv.slice(2), allowPositionals = false } = {}) {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: { ...options, help: { type: "boolean", short: "h" } },
      allowPositionals,
      strict: true,
    });
  } catch (error) {
    console.error(`${error.message}\n${usage}`);
    process.exit(2);
  }
  if (parsed.values.help) {
    console.log(usage);
    process.exit(0);
  }
  return parsed;
}
