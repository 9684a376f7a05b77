// Part of `npm run build`: copies the plain JavaScript programs the library
// starts as child processes (tsc compiles only TypeScript) into dist/, beside
// the modules that start them: src/probe/agent.mjs -> dist/probe/agent.mjs.
import { copyFileSync, mkdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
for (const file of ["probe/agent.mjs"]) {
  const target = join(root, "dist", file);
  mkdirSync(dirname(target), { recursive: true });
  copyFileSync(join(root, "src", file), target);
}
