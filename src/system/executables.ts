/** Where a program is: the one lookup for "is it installed, and where". */
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";

/** The directories of PATH, in order. */
export function pathDirectories(): string[] {
  return (process.env["PATH"] ?? "").split(delimiter).filter((dir) => dir !== "");
}

/** The first executable `program` in `directories` (by default PATH's), or undefined. */
export function findExecutable(
  program: string,
  directories: readonly string[] = pathDirectories(),
): string | undefined {
  for (const dir of directories) {
    const candidate = join(dir, program);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not here.
    }
  }
  return undefined;
}
