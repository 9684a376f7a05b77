/** `dummynet exec HOST -- COMMAND`: run a command in a host of a network `up` holds, with its stdio and exit status. */
import { spawn } from "node:child_process";
import { signalExitStatus } from "../../process/exit-status.js";
import { argvAs, resolveRunAs } from "../../process/run-as.js";
import { UsageError } from "../command-io.js";
import { EXIT } from "../output.js";
import { findNetwork, hostOf, privilegeOf } from "../networks.js";

export async function exec(
  host: string,
  command: string[],
  options: { network?: string; user?: string },
): Promise<number> {
  if (command.length === 0) throw new UsageError("no command given: dummynet exec HOST -- COMMAND [ARGS...]");
  const user = options.user !== undefined && /^\d+$/u.test(options.user) ? Number(options.user) : options.user;
  const state = await findNetwork(options.network, { liveOnly: true });
  const namespace = hostOf(state, host);
  const privilege = privilegeOf(state);
  // As run(): the caller's user when through sudo or started by sudo, or the one --user names (process/run-as.ts).
  const identity = resolveRunAs(privilege, user);
  const inner = identity ? argvAs(identity, command, process.env["PATH"]) : command;
  // A user's command, like run(): through the one way into the system (sudo keeps the environment; a rootless holder, the cwd too).
  const argv = privilege.wrapUserCommand(["ip", "netns", "exec", namespace, ...inner]);
  const child = spawn(argv[0], argv.slice(1), { stdio: "inherit" });
  // Ctrl-C reaches the child through the terminal; other signals are passed on.
  const forward = (signal: NodeJS.Signals) => child.kill(signal);
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(signal, forward);
  return new Promise((resolveExit, reject) => {
    child.on("error", reject);
    child.on("exit", (code, signal) => {
      resolveExit(code ?? (signal ? signalExitStatus(signal) : EXIT.failure));
    });
  });
}
