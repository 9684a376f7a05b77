/**
 * What every command uses: its output (print, warn), its input (a topology
 * file, refused with every problem listed), its log, and how it ends (Exit
 * with a status, UsageError for exit status 2).
 */
import { formatIssue, TopologyError } from "../topology/errors.js";
import type { Topology } from "../topology/model.js";
import { EXIT, red } from "./output.js";

/** Wrong use of the command (exit status 2). */
/** The program's own options (before the command), which every command gets beside its own. */
export interface GlobalOptions {
  /** `--rootless`: build in a user namespace of this user (else DUMMYNET_ROOTLESS, else as the machine allows). */
  rootless?: true;
}

/** The program's options alone, to hand to the library beside a command's own. */
export const globalsOf = (options: GlobalOptions): GlobalOptions => (options.rootless ? { rootless: true } : {});

export class UsageError extends Error {
  override name = "UsageError";
}

/** Ends the command with `code`, after stdout has drained. */
export class Exit extends Error {
  constructor(
    readonly code: number,
    options?: ErrorOptions,
  ) {
    super(`exit ${code}`, options);
  }
}

export const print = (text: string) => process.stdout.write(text.endsWith("\n") ? text : `${text}\n`);
export const printJson = (value: unknown) => print(JSON.stringify(value, null, 2));
export const warn = (text: string) => process.stderr.write(`${text}\n`);
/**
 * The library's log for a command: warnings by default (a queue limit under the bandwidth-delay
 * product, a process that ignored SIGTERM: what a user at a terminal must see), DUMMYNET_LOG to change it.
 */
export const logger = async () =>
  (await import("../log.js")).createLogger(
    (process.env["DUMMYNET_LOG"] as "debug" | "info" | "warn" | "error" | undefined) ?? "warn",
  );

export async function load(file: string): Promise<Topology> {
  const { loadTopology } = await import("../topology/load.js");
  try {
    return await loadTopology(file);
  } catch (error) {
    if (error instanceof TopologyError) {
      warn(`${red("error", process.stderr)}: ${file} is not a valid topology (nothing was changed):`);
      for (const issue of error.problems) warn(`  ${formatIssue(issue)}`);
      throw new Exit(EXIT.usage);
    }
    throw error;
  }
}

/** Looks every 20 ms until `predicate` holds; false if it still does not after `timeoutMs`. */
export async function waitUntil(predicate: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  // Another process's exit gives us no event to wait on; look again every 20 ms.
  while (!predicate()) {
    if (Date.now() > deadline) return false;
    await new Promise((done) => setTimeout(done, 20));
  }
  return true;
}
