/**
 * The API reference builds from the source with TypeDoc (`npm run docs`,
 * typedoc.json: treatWarningsAsErrors, validation.notDocumented), so every
 * export of every entry point is documented and every link resolves. Built
 * into a temporary directory once, with a JSON model that the later tests read:
 * every public function, class and method has a summary, an `@example` and a
 * `@throws` naming the errors it throws (or is listed in NEVER_THROWS with
 * why); a property whose text speaks of a default carries `@default`; and every
 * `@example` compiles against the package's own declarations (emitted like
 * `npm run build` does, imported by the package's name through its `exports`).
 */
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { runChild } from "./testing/child.test-helpers.js";

const REPO = fileURLToPath(new URL("../", import.meta.url));
const out = mkdtempSync(join(tmpdir(), "dummynet-docs-"));
after(() => {
  rmSync(out, { recursive: true, force: true });
});

/** TypeDoc's ReflectionKind values used here. */
const KIND = {
  Variable: 32,
  Function: 64,
  Class: 128,
  Interface: 256,
  Constructor: 512,
  Property: 1024,
  Method: 2048,
  Accessor: 262144,
  Reference: 4194304,
} as const;

interface CommentPart {
  kind: string;
  text: string;
}
interface Comment {
  summary: CommentPart[];
  blockTags?: { tag: string; content: CommentPart[] }[];
}
interface Reflection {
  name: string;
  kind: number;
  comment?: Comment;
  signatures?: Reflection[];
  children?: Reflection[];
  type?: { type: string; declaration?: Reflection };
  extendedTypes?: { name: string }[];
  inheritedFrom?: unknown;
  flags?: { isExternal?: boolean };
}

/**
 * Public functions and methods that throw nothing a caller handles (pure
 * formatting, comparison or reads of fields), so they carry no `@throws`.
 */
const NEVER_THROWS: Record<string, string> = {
  "index.CGroup.toString": "returns the scoped name",
  "index.RunInfo.describe": "formats fields",
  "index.RunInfo.describeState": "formats fields",
  "index.RunInfo.toString": "formats fields",
  "index.Scoped.compare": "compares two strings",
  "index.Scoped.equals": "compares fields",
  "index.Scoped.toJSON": "returns the scoped name",
  "index.Scoped.toString": "returns the scoped name",
  "index.HostShell.helperPids": "reads a list",
  "index.NamespaceShell.helperPids": "reads a list",
  "index.NamespaceShell.inNamespace": "builds an argv",
  "index.HostShell.constructor": "stores its options; the privilege is checked by the first command",
  "index.RunInfo.constructor": "stores its fields",
  "index.ProcessMonitor.killAllSync": "best effort by design: used on exit, it ignores processes already gone",
  "index.ProcessMonitor.[asyncDispose]": "stop() without validating state: what died is not reported there",
  "index.detectCapabilities": "reports what is missing or failed in its result; it does not throw for it",
  "index.describeProbeReport": "formats a report",
  "index.formatCapabilities": "formats a report",
  "index.missingFeatures": "reads a report",
  "index.createLogger": "builds an object",
  "index.toMermaid": "formats a topology that loadTopology validated",
  "index.toDot": "formats a topology that loadTopology validated",
  "testing.ownerPrefix": "formats a number",
};

const docs = buildDocs();

async function buildDocs(): Promise<{ project: { children: Reflection[] }; output: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, npm_config_update_notifier: "false" };
  delete env["NODE_OPTIONS"];
  delete env["NODE_TEST_CONTEXT"];
  const json = join(out, "api.json");
  const result = await runChild(["npm", "run", "docs", "--", "--out", join(out, "html"), "--json", json], {
    cwd: REPO,
    env,
    timeout: 180_000,
  });
  assert.equal(result.code, 0, result.output);
  return { project: JSON.parse(readFileSync(json, "utf8")) as { children: Reflection[] }, output: result.output };
}

const text = (parts: readonly CommentPart[] | undefined) => (parts ?? []).map((part) => part.text).join("");
const tagsOf = (comment: Comment | undefined, tag: string) =>
  (comment?.blockTags ?? []).filter((block) => block.tag === tag);

/** Every public callable, named `module.Class.method` or `module.function`, with its comment(s) and the class's. */
function publicCallables(project: { children: Reflection[] }) {
  const found: {
    name: string;
    comments: (Comment | undefined)[];
    kind: "function" | "class" | "method" | "constructor";
    isError: boolean;
  }[] = [];
  for (const module of project.children) {
    for (const child of module.children ?? []) {
      const name = `${module.name}.${child.name}`;
      if (child.kind === KIND.Function) {
        for (const signature of child.signatures ?? [])
          found.push({ name, comments: [signature.comment], kind: "function", isError: false });
      } else if (child.kind === KIND.Variable && module.name === "testing/vitest") {
        // vitest's `test` is a variable holding a function; the other variables are constants.
        found.push({ name, comments: [child.comment], kind: "function", isError: false });
      } else if (child.kind === KIND.Class) {
        const isError = /Error$/.test(child.name);
        found.push({ name, comments: [child.comment], kind: "class", isError });
        for (const member of child.children ?? []) {
          if (member.inheritedFrom || member.flags?.isExternal) continue;
          if (member.kind === KIND.Constructor) {
            for (const signature of member.signatures ?? [])
              found.push({
                name: `${name}.constructor`,
                comments: [signature.comment, child.comment],
                kind: "constructor",
                isError,
              });
          } else if (member.kind === KIND.Method) {
            for (const signature of member.signatures ?? [])
              found.push({ name: `${name}.${member.name}`, comments: [signature.comment], kind: "method", isError });
          }
        }
      }
    }
  }
  return found;
}

test("npm run docs builds the API reference with no warning; every export of every entry point is documented", async () => {
  const { project, output } = await docs;
  assert.doesNotMatch(output, /\[warning\]|\[error\]/, output);
  assert.ok(existsSync(join(out, "html/index.html")), output);

  const modules = project.children.map((module) => module.name).sort();
  assert.deepEqual(modules, ["index", "testing", "testing/vitest"]);
  // A re-export of another entry point's export (TypeDoc's Reference kind) is documented where it points.
  const exports = project.children.flatMap((module) =>
    (module.children ?? [])
      .filter((child) => child.kind !== KIND.Reference)
      .map((child) => ({ module: module.name, child })),
  );
  const documented = (reflection: Reflection): boolean =>
    (reflection.comment?.summary.length ?? 0) > 0 ||
    (reflection.signatures ?? []).some((signature) => (signature.comment?.summary.length ?? 0) > 0);
  assert.deepEqual(
    exports.filter(({ child }) => !documented(child)).map(({ module, child }) => `${module}.${child.name}`),
    [],
  );
  for (const name of [
    "DummyNet",
    "Lab",
    "ProcessMonitor",
    "CGroup",
    "HostShell",
    "loadTopology",
    "buildTopology",
    "describeProbeReport",
  ]) {
    assert.ok(
      exports.some(({ module, child }) => module === "index" && child.name === name),
      `index exports ${name}`,
    );
  }
  console.log(
    `# ${exports.length} exports documented (${modules.map((module) => `${module}: ${exports.filter((e) => e.module === module).length}`).join(", ")})`,
  );
});

test("every public function, class and method has a summary, an @example and a @throws naming the error classes", async () => {
  const { project } = await docs;
  const callables = publicCallables(project);
  const problems: string[] = [];
  for (const { name, comments, kind, isError } of callables) {
    const has = (tag: string) => comments.some((comment) => tagsOf(comment, tag).length > 0);
    if (!comments.some((comment) => text(comment?.summary).trim().length > 0)) problems.push(`${name}: no summary`);
    // A constructor's example is its class's (which shows `new X(...)`, or for an error where it is thrown).
    if (kind !== "constructor" && !has("@example")) problems.push(`${name}: no @example`);
    // A class documents its throws on its constructor and methods; an error's constructor only builds it.
    if (kind === "class" || (kind === "constructor" && isError) || name in NEVER_THROWS) continue;
    const throws = comments.flatMap((comment) => tagsOf(comment, "@throws"));
    if (kind === "constructor" ? tagsOf(comments[0], "@throws").length === 0 : throws.length === 0)
      problems.push(`${name}: no @throws (or add it to NEVER_THROWS with why)`);
    for (const block of throws) {
      if (!/\b(?:[A-Z]\w*)?Error\b/.test(text(block.content)))
        problems.push(`${name}: @throws "${text(block.content)}" names no error class`);
    }
  }
  assert.equal(problems.length, 0, `${problems.length} problem(s):\n${problems.join("\n")}`);
  const stale = Object.keys(NEVER_THROWS).filter((name) => !callables.some((callable) => callable.name === name));
  assert.deepEqual(stale, [], "NEVER_THROWS names something that is not public");
  console.log(`# ${callables.length} public functions, classes, constructors and methods checked`);
});

test("a property whose documentation speaks of a default carries @default", async () => {
  const { project } = await docs;
  const problems: string[] = [];
  const visit = (reflection: Reflection, path: string) => {
    if (reflection.inheritedFrom || reflection.flags?.isExternal) return;
    if ((reflection.kind === KIND.Property || reflection.kind === KIND.Accessor) && reflection.comment) {
      const summary = text(reflection.comment.summary);
      if (
        /\bby default\b|\bdefaults? (?:to|is)\b|\(default\b/i.test(summary) &&
        tagsOf(reflection.comment, "@default").length === 0
      )
        problems.push(`${path}: "${summary}"`);
    }
    for (const child of reflection.children ?? []) visit(child, `${path}.${child.name}`);
    if (reflection.type?.declaration) visit(reflection.type.declaration, path);
  };
  for (const module of project.children) visit(module, module.name);
  assert.equal(problems.length, 0, `${problems.length} propert(ies) without @default:\n${problems.join("\n")}`);
});

test("every @example compiles against the package's declarations", async () => {
  const { project } = await docs;
  const examples: { name: string; code: string }[] = [];
  const collect = (reflection: Reflection, path: string) => {
    for (const comment of [
      reflection.comment,
      ...(reflection.signatures ?? []).map((signature) => signature.comment),
    ]) {
      for (const block of tagsOf(comment, "@example")) {
        const blocks = [...text(block.content).matchAll(/```(?:ts|typescript)\n([\s\S]*?)```/g)].map(
          (match) => match[1],
        );
        assert.ok(blocks.length > 0, `${path}: an @example without a \`\`\`ts block`);
        for (const code of blocks) examples.push({ name: path, code });
      }
    }
    for (const child of reflection.children ?? []) collect(child, `${path}.${child.name}`);
  };
  for (const module of project.children) collect(module, module.name);

  // The package as a user gets it: package.json and the declarations `npm run build` emits.
  const pkg = join(out, "package");
  mkdirSync(pkg);
  cpSync(join(REPO, "package.json"), join(pkg, "package.json"));
  symlinkSync(join(REPO, "node_modules"), join(pkg, "node_modules"));
  const tsc = join(REPO, "node_modules/typescript/bin/tsc");
  const emit = await runChild(
    [
      process.execPath,
      tsc,
      "-p",
      join(REPO, "tsconfig.build.json"),
      "--emitDeclarationOnly",
      "--outDir",
      join(pkg, "dist"),
    ],
    { cwd: REPO, timeout: 180_000 },
  );
  assert.equal(emit.code, 0, emit.output);

  const names = exampleNames(project);
  const dir = join(pkg, "examples");
  mkdirSync(dir);
  examples.forEach(({ code }, index) => {
    writeFileSync(join(dir, `example-${index}.ts`), exampleModule(code, names));
  });
  writeFileSync(
    join(pkg, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: {
        target: "ES2022",
        lib: ["ES2023", "ESNext.Disposable"],
        module: "NodeNext",
        moduleResolution: "NodeNext",
        strict: true,
        noEmit: true,
        skipLibCheck: true,
        types: ["node"],
      },
      include: ["examples"],
    }),
  );
  const check = await runChild([process.execPath, tsc, "-p", join(pkg, "tsconfig.json")], {
    cwd: pkg,
    timeout: 180_000,
  });
  const failing = new Map<string, string[]>();
  for (const line of check.stdout.split("\n")) {
    const match = /examples\/example-(\d+)\.ts\((\d+),\d+\): (.*)/.exec(line);
    if (match) {
      const example = examples[Number(match[1])];
      const lines = exampleModule(example.code, names).split("\n");
      failing.set(example.name, [
        ...(failing.get(example.name) ?? []),
        `${match[3]} in: ${lines[Number(match[2]) - 1]?.trim()}`,
      ]);
    }
  }
  assert.deepEqual(Object.fromEntries(failing), {}, check.output);
  assert.equal(check.code, 0, check.output);
  console.log(`# ${examples.length} examples compile`);
});

/** The value and type names each entry point exports, for examples that do not import them. */
function exampleNames(project: { children: Reflection[] }): Record<string, string[]> {
  const byModule: Record<string, string[]> = {};
  for (const module of project.children) {
    const specifier =
      module.name === "index" ? "dummynet" : module.name === "testing" ? "dummynet/testing" : "dummynet/vitest";
    if (specifier === "dummynet/vitest") continue; // its `test` would clash with node:test's in examples
    byModule[specifier] = (module.children ?? [])
      .filter((child) => child.kind !== KIND.Reference)
      .map((child) => child.name);
  }
  return byModule;
}

/**
 * An example as a module. One that imports nothing gets every public name and
 * the objects examples talk about by their usual names (`net`, `host`, `lab`,
 * `info`, ...), declared with their types; its code runs in an async function,
 * so it may `return` and redeclare those names.
 */
function exampleModule(code: string, names: Record<string, string[]>): string {
  const imports = code.split("\n").filter((line) => /^import\b/.test(line));
  const body = code.split("\n").filter((line) => !/^import\b/.test(line));
  const prelude =
    imports.length > 0
      ? imports
      : [
          ...Object.entries(names).map(([specifier, list]) => `import { ${list.join(", ")} } from "${specifier}";`),
          `import assert from "node:assert/strict";`,
          `import { test, type TestContext } from "node:test";`,
          `import { writeFileSync } from "node:fs";`,
          ...["net", "host", "sw", "router", "client", "a", "b"].map((name) => `declare const ${name}: DummyNet;`),
          "declare const lab: Lab;",
          "declare const group: CGroup;",
          "declare const info: RunInfo;",
          "declare const server: RunInfo;",
          "declare const monitor: ProcessMonitor;",
          'declare const runner: HostShell["runner"];',
          "declare const t: TestContext;",
          "void [assert, test, writeFileSync, t];",
        ];
  return [...prelude, "export async function example(): Promise<void> {", ...body, "}", ""].join("\n");
}
