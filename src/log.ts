/**
 * The logger the library writes to. `console` fits; so do pino, winston and
 * most others. The default is silent unless DUMMYNET_LOG names a level.
 */
export interface Logger {
  /** Detail: every system command the library runs. */
  debug(message: string, ...rest: unknown[]): void;
  /** Steps worth knowing: objects created and removed. */
  info(message: string, ...rest: unknown[]): void;
  /** Something went wrong but the library carried on (e.g. a cleanup step skipped). */
  warn(message: string, ...rest: unknown[]): void;
  /** Something failed. */
  error(message: string, ...rest: unknown[]): void;
}

const LEVELS = ["debug", "info", "warn", "error"] as const;
type Level = (typeof LEVELS)[number];

/**
 * A logger writing to stderr from `level` up; "silent" writes nothing.
 * `level` defaults to DUMMYNET_LOG (debug, info, warn, error), else "silent".
 *
 * @example
 * ```ts
 * await using net = new DummyNet({ log: createLogger("info") }); // every object created and removed
 * ```
 */
export function createLogger(level: Level | "silent" = envLevel()): Logger {
  const threshold = level === "silent" ? LEVELS.length : LEVELS.indexOf(level);
  const write =
    (at: Level) =>
    (message: string, ...rest: unknown[]) => {
      if (LEVELS.indexOf(at) < threshold) return;
      const extra = rest.length ? " " + rest.map((r) => (r instanceof Error ? r.message : String(r))).join(" ") : "";
      process.stderr.write(`dummynet ${at}: ${message}${extra}\n`);
    };
  return { debug: write("debug"), info: write("info"), warn: write("warn"), error: write("error") };
}

function envLevel(): Level | "silent" {
  const value = process.env["DUMMYNET_LOG"];
  return value && (LEVELS as readonly string[]).includes(value) ? (value as Level) : "silent";
}

/** The logger used when none is given: silent unless `DUMMYNET_LOG` is `debug`, `info`, `warn` or `error`. */
export const defaultLogger: Logger = createLogger();
