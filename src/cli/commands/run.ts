/** `dummynet run FILE [-- COMMAND]`: build, run the file's jobs (or COMMAND), remove, exit with the job's status. */
import type { ProgramSpec } from "../../topology/model.js";
import { signalExitStatus } from "../../process/exit-status.js";
import { load, printJson, UsageError, warn } from "../command-io.js";
import { outputSink, withNetwork, type LifeOptions } from "../network-lifetime.js";
import { red, yellow } from "../output.js";

export async function run(file: string, options: LifeOptions): Promise<number> {
  const topology = await load(file);
  if (options.host !== undefined && !topology.hosts.some((host) => host.name === options.host)) {
    throw new UsageError(`--host ${options.host}: no such host in ${file}; hosts: ${topology.hosts.map((h) => h.name).join(", ")}`);
  }
  return withNetwork(file, options, async ({ built, stop }) => {
    const { runJobs, startDaemons } = await import("../../topology/programs.js");
    const command = options.command ?? [];
    const jobs: ProgramSpec[] =
      command.length > 0
        ? [{ name: command.join(" "), host: options.host ?? topology.hosts[0]!.name, command, daemon: false, path: [] }]
        : built.topology.programs.filter((program) => !program.daemon);
    const onOutput = options.json ? undefined : outputSink(command.length === 0);
    await startDaemons(built, { signal: stop.signal, ...(onOutput ? { onOutput } : {}) });
    if (jobs.length === 0) warn(yellow("dummynet: nothing to run: the file has no jobs and no command was given", process.stderr));
    const result = await runJobs(built, jobs, { signal: stop.signal, ...(onOutput ? { onOutput } : {}) });
    if (stop.received) return signalExitStatus(stop.received);
    if (options.json) {
      printJson({
        name: topology.name,
        uid: built.hosts.values().next().value?.uid,
        exitCode: result.exitCode,
        ...(result.failure ? { failure: result.failure } : {}),
        jobs: result.jobs.map((info, i) => ({ name: jobs[i]?.name, host: jobs[i]?.host, exitCode: info.exitCode, signal: info.signal, stdout: info.stdout, stderr: info.stderr })),
      });
    } else if (result.failure) warn(`${red("failed", process.stderr)}: ${result.failure}`);
    return result.exitCode;
  });
}
