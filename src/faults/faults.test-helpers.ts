/** Test support for faults: a program that tells whether a host reaches another, and the rules of a host. */
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { DummyNet } from "../network/dummy-net.js";
import type { RunInfo } from "../process/run-info.js";

export const REACH = fileURLToPath(new URL("../test-support/fixtures/reach.mjs", import.meta.url));
export const PORT = "7000";

/** "connected"/"reply", "timeout" (no answer within `ms`) or "error <code>" (an immediate failure). */
export async function reach(from: DummyNet, mode: "tcp" | "udp", address: string, ms = 800): Promise<string> {
  const info = await from.run(["node", REACH, mode, address, PORT, String(ms)], { timeout: 30_000 });
  return info.stdout.trim();
}

/** Starts the echo server of `host` (TCP and UDP on PORT), ready when this resolves. */
export async function startServer(host: DummyNet): Promise<RunInfo> {
  const info = await host.runAsync(["node", REACH, "server", PORT], { daemon: true });
  await waitForOutput(info, /^ready$/m);
  return info;
}

/** Waits until `info`'s stdout matches `pattern` (at most `ms`). */
export async function waitForOutput(info: RunInfo, pattern: RegExp, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!pattern.test(info.stdout)) {
    if (Date.now() > deadline) throw new Error(`no ${String(pattern)} in the output within ${ms} ms: ${info.stdout}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The policy rules of a host, both families, as `ip rule` prints them (read where the network's commands run). */
export function rulesOf(net: DummyNet, host: DummyNet): string {
  const read = (family: string) => {
    const [program, ...args] = net.shell.privilege.wrap(["ip", family, "-n", host.namespace.scoped, "rule", "show"]);
    return execFileSync(program, args, { encoding: "utf8", timeout: 30_000 });
  };
  return `${read("-4")}${read("-6")}`;
}
