/**
 * Test support for the `dummynet` command: run it in a child process as a
 * user would (`node --import tsx src/cli/main.ts ...`), in the foreground or
 * in the background.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { readdirSync } from "node:fs";
import assert from "node:assert/strict";
import { assertNothingLeft } from "../testing/leftovers.js";

export const REPO = fileURLToPath(new URL("../../", import.meta.url));
const MAIN = fileURLToPath(new URL("./main.ts", import.meta.url));

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Longest one `dummynet` command of a test may run; a killed one shows as signal SIGKILL in its result. */
export const CLI_TIMEOUT_MS = 300_000;

export function startCli(
  args: readonly string[],
  env: NodeJS.ProcessEnv = {},
  timeoutMs = CLI_TIMEOUT_MS,
): ChildProcess & { output: { stdout: string; stderr: string } } {
  const child = spawn(process.execPath, ["--import", "tsx", MAIN, ...args], {
    cwd: REPO,
    env: { ...process.env, CI: "true", ...env },
    stdio: ["ignore", "pipe", "pipe"],
    // No command a test starts may outlive its bound (the lab's CLI starts take seconds each).
    timeout: timeoutMs,
    killSignal: "SIGKILL",
  }) as ChildProcess & { output: { stdout: string; stderr: string } };
  child.output = { stdout: "", stderr: "" };
  child.stdout!.on("data", (chunk: Buffer) => (child.output.stdout += chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => (child.output.stderr += chunk.toString()));
  return child;
}

export async function finished(child: ReturnType<typeof startCli>): Promise<CliResult> {
  if (child.exitCode === null && child.signalCode === null) await once(child, "close");
  else if (!child.stdout!.readableEnded) await once(child, "close").catch(() => undefined);
  return { code: child.exitCode, signal: child.signalCode, ...child.output };
}

export function runCli(args: readonly string[], env?: NodeJS.ProcessEnv): Promise<CliResult> {
  return finished(startCli(args, env));
}

/** Resolves with the first line of stdout (the `up --json` announcement), or rejects if the process ends first. */
export async function firstLine(child: ReturnType<typeof startCli>, timeoutMs = 60_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const check = () => {
      const newline = child.output.stdout.indexOf("\n");
      if (newline >= 0) {
        done(() => {
          resolve(child.output.stdout.slice(0, newline));
        });
        return;
      }
      if (child.exitCode !== null || child.signalCode !== null) {
        done(() => {
          reject(
            new Error(`exited (${child.exitCode ?? child.signalCode}) before printing a line:\n${child.output.stderr}`),
          );
        });
        return;
      }
      if (Date.now() > deadline) {
        done(() => {
          reject(new Error(`no output after ${timeoutMs} ms:\n${child.output.stderr}`));
        });
        return;
      }
    };
    const timer = setInterval(check, 1000);
    const done = (then: () => void) => {
      clearInterval(timer);
      child.stdout!.off("data", check);
      child.off("exit", check);
      then();
    };
    child.stdout!.on("data", check);
    child.on("exit", check);
    check();
  });
}

/** Namespaces of `uid` now on the machine (d-<uid>-*), read from /run/netns. */
export function namespacesOf(prefix: string): string[] {
  try {
    return readdirSync("/run/netns").filter((name) => name.startsWith(prefix));
  } catch {
    return [];
  }
}

/**
 * Runs `body` against a network that `dummynet up FILE` holds (`flag` is
 * `--network UID`; `up` the holding process, its output so far in
 * `up.output`), then takes it down and checks that nothing of it is left;
 * when `body` fails, ends `up` and removes what it left, so the failure is the
 * only trace. `up` is killed after `timeoutMs`: give the whole body's bound.
 */
export async function withNetworkUp(
  file: string,
  body: (network: { uid: number; flag: string[]; up: ReturnType<typeof startCli> }) => Promise<void>,
  timeoutMs = CLI_TIMEOUT_MS,
): Promise<void> {
  const up = startCli(["up", file, "--json"], {}, timeoutMs);
  try {
    const { uid } = JSON.parse(await firstLine(up, 120_000)) as { uid: number };
    await body({ uid, flag: ["--network", String(uid)], up });
    const down = await runCli(["down", String(uid)]);
    assert.equal(down.code, 0, down.stderr);
    assert.equal((await finished(up)).code, 0);
  } finally {
    if (up.exitCode === null) {
      up.kill("SIGKILL");
      await finished(up);
      await runCli(["cleanup", String(up.pid)]);
    }
  }
  assertNothingLeft(up.pid!);
}
