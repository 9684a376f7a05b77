/**
 * Test helper: runs a child process to its end within a time bound. On
 * timeout its whole process group is killed and the promise rejects with
 * what was running and everything it printed.
 */
import { spawn } from "node:child_process";

export interface ChildOutcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** stdout and stderr, for messages. */
  output: string;
}

export function runChild(
  argv: readonly string[],
  options: { timeout: number; cwd?: string; env?: NodeJS.ProcessEnv },
): Promise<ChildOutcome> {
  const [program, ...args] = argv as [string, ...string[]];
  const child = spawn(program, args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (text: string) => (stdout += text));
  child.stderr.setEncoding("utf8").on("data", (text: string) => (stderr += text));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        // Ended meanwhile.
      }
      reject(
        new Error(
          `\`${argv.join(" ")}\` did not finish within ${options.timeout} ms and was killed; its output:\n${stdout}\n${stderr}`,
        ),
      );
    }, options.timeout);
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, output: `${stdout}\n${stderr}` });
    });
  });
}

/** `node --import tsx --test` on `files`, bounded. */
export function runNodeTest(
  files: readonly string[],
  options: { timeout: number; cwd?: string; env?: NodeJS.ProcessEnv; args?: readonly string[] },
): Promise<ChildOutcome> {
  // Without NODE_TEST_CONTEXT: the child is a test run of its own, not a file of ours.
  const { NODE_TEST_CONTEXT: _, ...env } = options.env ?? process.env;
  return runChild(
    [process.execPath, "--import", "tsx", "--test", "--test-reporter=spec", ...(options.args ?? []), ...files],
    { ...options, env },
  );
}
