// The kernel lab's build: the checkout mirrored with its TypeScript compiled on the host, and the processes the
// lab's tests start bundled, so that the emulated guest neither transforms TypeScript nor loads hundreds of modules.
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { createRequire } from "node:module";
import { basename, dirname, join } from "node:path";
import { writeSchemaValidator } from "../build-schema-validator.mjs";

/** Top-level folders whose TypeScript the lab's tests run (examples/testing holds the README's test examples). */
const COMPILED_TREES = ["src", "examples"];

/**
 * A mirror of the checkout in which src/ and examples/ are compiled to
 * JavaScript (esbuild, inline source maps, the .ts files and every other file
 * copied beside) and every other top-level entry is a symbolic link to the
 * checkout's, so that package.json, node_modules and paths relative to src/
 * work as they do there.
 */
export async function buildForLab(repoRoot, buildDir) {
  // esbuild comes with tsx; resolve it the way tsx does.
  const requireFromTsx = createRequire(createRequire(import.meta.url).resolve("tsx/package.json"));
  const esbuild = requireFromTsx("esbuild");
  const tsconfig = JSON.parse(readFileSync(join(repoRoot, "tsconfig.json"), "utf8"));
  mkdirSync(buildDir, { recursive: true });
  for (const entry of readdirSync(repoRoot)) {
    if (COMPILED_TREES.includes(entry) || entry === "test-results" || entry === ".git" || entry === "node_modules")
      continue;
    symlinkSync(join(repoRoot, entry), join(buildDir, entry));
  }
  // node_modules: the checkout's packages, but tsx is a stand-in (tests start
  // processes with `node --import tsx x.ts`; tsx costs seconds per process in
  // the guest). Every .ts file has its compiled .js beside it, so the
  // stand-in only points x.ts at x.js.
  mkdirSync(join(buildDir, "node_modules"));
  for (const entry of readdirSync(join(repoRoot, "node_modules"))) {
    if (entry !== "tsx") symlinkSync(join(repoRoot, "node_modules", entry), join(buildDir, "node_modules", entry));
  }
  const standIn = join(buildDir, "node_modules", "tsx");
  mkdirSync(standIn);
  writeFileSync(
    join(standIn, "package.json"),
    JSON.stringify({ name: "tsx", private: true, type: "module", exports: { ".": "./register.mjs" } }),
  );
  writeFileSync(
    join(standIn, "register.mjs"),
    'import { register } from "node:module";\nregister("./compiled-instead.mjs", import.meta.url);\n',
  );
  writeFileSync(
    join(standIn, "compiled-instead.mjs"),
    [
      "// The kernel lab's stand-in for tsx: src/ and examples/ were compiled on the host, x.js lies beside x.ts.",
      'import { existsSync } from "node:fs";',
      'import { fileURLToPath } from "node:url";',
      "export async function resolve(specifier, context, nextResolve) {",
      "  const resolved = await nextResolve(specifier, context);",
      '  if (!resolved.url.startsWith("file:") || !/\\.[cm]?ts$/.test(resolved.url) || resolved.url.endsWith(".d.ts")) return resolved;',
      '  const compiled = resolved.url.replace(/ts$/, "js");',
      "  if (!existsSync(fileURLToPath(compiled))) throw new Error(`${resolved.url}: no compiled ${compiled} in the lab build`);",
      '  return { url: compiled, format: "module", shortCircuit: true };',
      "}",
      "",
    ].join("\n"),
  );
  const jobs = [];
  const copyTree = (from, to) => {
    mkdirSync(to, { recursive: true });
    for (const entry of readdirSync(from, { withFileTypes: true })) {
      const source = join(from, entry.name);
      const target = join(to, entry.name);
      if (entry.isDirectory()) {
        copyTree(source, target);
        continue;
      }
      copyFileSync(source, target);
      chmodSync(target, statSync(source).mode & 0o7777);
      if (entry.name.endsWith(".ts") && !entry.name.endsWith(".d.ts")) {
        jobs.push(
          esbuild
            .transform(readFileSync(source, "utf8"), {
              loader: "ts",
              format: "esm",
              platform: "node",
              target: "node20",
              sourcemap: "inline",
              sourcefile: source,
              tsconfigRaw: { compilerOptions: tsconfig.compilerOptions ?? {} },
            })
            .then((out) => writeFileSync(target.replace(/\.ts$/, ".js"), out.code)),
        );
      }
    }
  };
  for (const tree of COMPILED_TREES)
    if (existsSync(join(repoRoot, tree))) copyTree(join(repoRoot, tree), join(buildDir, tree));
  await Promise.all(jobs);
  await precompileSchemaValidator(repoRoot, buildDir);
  await bundleEntryPoints(esbuild, buildDir);
}

/** An esbuild plugin that resolves `dummynet`, `dummynet/testing` and `dummynet/vitest` to the build's source. */
function packageFromSource(buildDir) {
  const entries = {
    dummynet: "src/index.ts",
    "dummynet/testing": "src/testing/index.ts",
    "dummynet/vitest": "src/testing/vitest.ts",
  };
  return {
    name: "dummynet-from-source",
    setup(build) {
      build.onResolve({ filter: /^dummynet(\/[a-z]+)?$/ }, (args) =>
        entries[args.path] ? { path: join(buildDir, entries[args.path]) } : undefined,
      );
    },
  };
}

/**
 * The processes the lab's tests start (each test file, the `dummynet`
 * command, the README's test examples) as one bundled file each, in place of
 * their compiled module: in the emulated guest, loading a module graph of a
 * few hundred files over 9p costs 15-25 s per process, one file 2-5 s.
 * Bundled code sees its entry's import.meta.url, so the files that modules
 * find beside themselves (the probe agent, the schema validator) are copied
 * beside each entry; paths that climb (../../schema) keep their depth.
 */
async function bundleEntryPoints(esbuild, buildDir) {
  const entries = [];
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (
        entry.name.endsWith(".lab.test.ts") ||
        (dir.endsWith(join("examples", "testing")) && entry.name.endsWith(".ts"))
      )
        entries.push(path);
    }
  };
  walk(join(buildDir, "src"));
  if (existsSync(join(buildDir, "examples"))) walk(join(buildDir, "examples"));
  entries.push(join(buildDir, "src/cli/main.ts"));
  const besides = [
    join(buildDir, "src/probe/agent.mjs"),
    join(buildDir, "src/topology/schema-validator.generated.cjs"),
  ];
  await Promise.all(
    entries.map(async (entry) => {
      await esbuild.build({
        entryPoints: [entry],
        outfile: entry.replace(/\.ts$/, ".js"),
        allowOverwrite: true,
        bundle: true,
        platform: "node",
        format: "esm",
        target: "node20",
        sourcemap: "inline",
        logLevel: "error",
        // vitest is an optional peer; the lab's tests do not run it.
        external: ["vitest", "tsx", "tsx/*"],
        // The README's examples import the package: give them its source, as every other lab test has
        // (dist/ need not exist: a fresh clone builds it only for the demo and for packing).
        plugins: [packageFromSource(buildDir)],
        // Bundled CommonJS packages (commander, ajv) call require for Node's own modules.
        banner: {
          js: 'import { createRequire as __labRequire } from "node:module"; const require = __labRequire(import.meta.url);',
        },
      });
      for (const file of besides) {
        const target = join(dirname(entry), basename(file));
        if (existsSync(file) && !existsSync(target)) copyFileSync(file, target);
      }
    }),
  );
}

/**
 * The topology schema's standalone validator, beside the compiled
 * topology/load.js, as `npm run build` puts one in dist/: without it every CLI
 * process compiles the schema with ajv, which costs seconds in an emulated guest.
 */
function precompileSchemaValidator(repoRoot, buildDir) {
  return writeSchemaValidator({
    root: repoRoot,
    optionsModule: join(buildDir, "src/topology/schema-options.js"),
    out: join(buildDir, "src/topology/schema-validator.generated.cjs"),
  });
}
