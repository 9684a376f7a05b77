/**
 * Test support: a PATH on which some programs are missing (the way a fresh
 * machine lacks iptables and ping) or replaced by a tiny script, built as a
 * directory of links to every program on today's PATH except those, like
 * /work/shared/bin/without. Children started with it see that machine.
 */
import { spawn } from "node:child_process";
import {
  accessSync,
  constants,
  mkdtempSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
  existsSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";

export interface ProgramPath {
  /** The PATH value to give a child. */
  readonly path: string;
  /** Removes the directory of links. */
  remove(): void;
}

/**
 * A PATH without `hidden` (and their variants: hiding "iptables" hides
 * iptables-save, iptables-nft, ...), with `scripts` (name to shell script
 * text) in place of the programs of those names.
 */
export function programPath(hidden: readonly string[], scripts: Readonly<Record<string, string>> = {}): ProgramPath {
  const dir = mkdtempSync(join(tmpdir(), "dummynet-path-"));
  const hides = (name: string) => hidden.some((h) => name === h || name.startsWith(`${h}-`)) || name in scripts;
  for (const [name, text] of Object.entries(scripts))
    writeFileSync(join(dir, name), `#!/bin/sh\n${text}\n`, { mode: 0o755 });
  for (const entry of (process.env["PATH"] ?? "").split(delimiter)) {
    if (entry === "" || !existsSync(entry)) continue;
    let names: string[];
    try {
      names = readdirSync(entry);
    } catch {
      continue;
    }
    for (const name of names) {
      const target = join(entry, name);
      if (hides(name) || existsSync(join(dir, name))) continue;
      try {
        accessSync(target, constants.X_OK);
        symlinkSync(target, join(dir, name));
      } catch {
        // Not executable, or a name already taken by an earlier PATH entry.
      }
    }
  }
  return {
    path: dir,
    remove: () => {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface BoundedResult {
  pid: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `argv` to its end with `env` added, killed (SIGKILL) after
 * `timeoutMs`: a hang then fails with the command and what it printed.
 */
export function runBounded(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  timeoutMs: number,
  cwd?: string,
): Promise<BoundedResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), {
      cwd,
      env: { ...process.env, CI: "true", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (text: string) => (stdout += text));
    child.stderr.setEncoding("utf8").on("data", (text: string) => (stderr += text));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(
        new Error(
          `\`${argv.join(" ")}\` did not finish within ${timeoutMs} ms (killed)\nstdout:\n${stdout}\nstderr:\n${stderr}`,
        ),
      );
    }, timeoutMs);
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ pid: child.pid!, code, signal, stdout, stderr });
    });
  });
}
