/**
 * The error of `RunInfo.match()`, on its own so that run-info.ts needs no
 * import of the errors that carry a RunInfo (no cycle).
 */
import { DummyNetError } from "../errors.js";

/**
 * `RunInfo.match()` found no line matching the pattern.
 *
 * @example
 * ```ts
 * try {
 *   info.match({ stdout: "*0% packet loss*" });
 * } catch (error) {
 *   if (error instanceof MatchError) console.error(error.pattern, error.streamName, error.output);
 *   else throw error;
 * }
 * ```
 */
export class MatchError extends DummyNetError {
  constructor(
    /** The pattern looked for (a `fnmatch`-style glob). */
    readonly pattern: string,
    /** The stream searched. */
    readonly streamName: "stdout" | "stderr",
    /** That stream's output, if it was captured. */
    readonly output: string | undefined,
    options?: ErrorOptions,
  ) {
    super(`Could not match '${pattern}' in ${streamName} output:\n${output ?? "(no output)"}`, options);
  }
}
