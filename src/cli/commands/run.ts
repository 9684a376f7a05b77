/**
 * `dummynet run FILE [-- COMMAND]`: build, run the file's jobs (or COMMAND) and its `faults:` schedule, remove,
 * exit with the job's status (1 when a fault step failed); with --probe, probe its impaired links first.
 */
import { DummyNetError } from "../../errors.js";
import type { LinkProbeResult } from "../../probe/link-probes.js";
import type { FaultEvent } from "../../faults/types.js";
import type { ProgramSpec } from "../../topology/model.js";
import { signalExitStatus } from "../../process/exit-status.js";
import { load, print, printJson, UsageError, warn } from "../command-io.js";
import { outputSink, withNetwork, type LifeOptions } from "../network-lifetime.js";
import { dim, EXIT, red, yellow } from "../output.js";

export interface RunOptions extends LifeOptions {
  /** Probe every impaired link once the daemons are ready, before the jobs. */
  probe?: boolean;
  probeCount?: number;
  probeTcpSeconds?: number;
  probeTimeout?: number;
}

export async function run(file: string, options: RunOptions): Promise<number> {
  const topology = await load(file);
  if (options.host !== undefined && !topology.hosts.some((host) => host.name === options.host)) {
    throw new UsageError(
      `--host ${options.host}: no such host in ${file}; hosts: ${topology.hosts.map((h) => h.name).join(", ")}`,
    );
  }
  const probeOptions = {
    ...(options.probeCount !== undefined ? { count: options.probeCount } : {}),
    ...(options.probeTcpSeconds !== undefined ? { tcpSeconds: options.probeTcpSeconds } : {}),
    ...(options.probeTimeout !== undefined ? { timeout: options.probeTimeout } : {}),
  };
  if (options.probe) {
    const { checkLinkProbeOptions } = await import("../../probe/link-probes.js");
    try {
      checkLinkProbeOptions(probeOptions);
    } catch (error) {
      if (error instanceof DummyNetError) throw new UsageError(`--probe: ${error.message}`);
      throw error;
    }
  } else if (Object.keys(probeOptions).length > 0)
    throw new UsageError("--probe-count, --probe-tcp-seconds and --probe-timeout need --probe");
  return withNetwork(file, options, async ({ built, stop }) => {
    const { runJobs, startDaemons } = await import("../../topology/programs.js");
    const command = options.command ?? [];
    const jobs: ProgramSpec[] =
      command.length > 0
        ? [{ name: command.join(" "), host: options.host ?? topology.hosts[0].name, command, daemon: false, path: [] }]
        : built.topology.programs.filter((program) => !program.daemon);
    const onOutput = options.json ? undefined : outputSink(command.length === 0);
    const daemons = await startDaemons(built, { signal: stop.signal, ...(onOutput ? { onOutput } : {}) });
    let probes: LinkProbeResult[] | undefined;
    if (options.probe) {
      const { formatLinkProbes, impairedLinkTargets, probeLinks } = await import("../../probe/link-probes.js");
      const onProbe = options.json
        ? undefined
        : ({ link, from, to }: { link: string; from: string; to: string }) =>
            warn(dim(`dummynet: probing ${link} (${from} -> ${to})`, process.stderr));
      probes = await probeLinks(built.net, built.hosts, impairedLinkTargets(built.topology), {
        ...probeOptions,
        signal: stop.signal,
        ...(onProbe ? { onProbe } : {}),
      });
      if (!options.json) print(formatLinkProbes(probes));
    }
    const probeFailed = probes?.some((result) => "error" in result) ?? false;
    // The file's faults start with the jobs, program steps naming daemons; the run ends when both are done.
    let faults: Promise<FaultEvent[]> | undefined;
    if (topology.faults) {
      const { describeFaultEvent, filePlan, followSchedule } = await import("../../topology/lab-faults.js");
      const daemonSpecs = built.topology.programs.filter((program) => program.daemon);
      const { plan, options: scheduleOptions } = filePlan(
        topology.faults,
        new Map(daemonSpecs.map((spec, i) => [spec.name, daemons[i]])),
      );
      faults = followSchedule(built.schedule(plan, scheduleOptions), (event) => {
        if (!options.json) warn(`${dim("[faults]", process.stderr)} ${describeFaultEvent(event)}`);
      });
    } else if (jobs.length === 0 && !options.probe)
      warn(yellow("dummynet: nothing to run: the file has no jobs and no command was given", process.stderr));
    const result = await runJobs(built, jobs, { signal: stop.signal, ...(onOutput ? { onOutput } : {}) });
    const history = faults ? await Promise.race([faults, stop.wait().then(() => undefined)]) : undefined;
    if (stop.received) return signalExitStatus(stop.received);
    const failedStep = history?.find((event) => event.error !== undefined);
    const exitCode = result.exitCode !== 0 ? result.exitCode : probeFailed || failedStep ? EXIT.failure : EXIT.ok;
    if (options.json) {
      printJson({
        name: topology.name,
        uid: built.hosts.values().next().value?.uid,
        exitCode,
        ...(result.failure
          ? { failure: result.failure }
          : probeFailed
            ? { failure: "the probe of a link failed (see probes)" }
            : failedStep
              ? { failure: `a fault step failed: ${failedStep.action}: ${failedStep.error}` }
              : {}),
        jobs: result.jobs.map((info, i) => ({
          name: jobs[i]?.name,
          host: jobs[i]?.host,
          exitCode: info.exitCode,
          signal: info.signal,
          stdout: info.stdout,
          stderr: info.stderr,
        })),
        ...(probes ? { probes } : {}),
        ...(history ? { faults: history } : {}),
      });
    } else if (result.failure) warn(`${red("failed", process.stderr)}: ${result.failure}`);
    else if (probeFailed) warn(`${red("failed", process.stderr)}: the probe of a link failed (see above)`);
    else if (failedStep)
      warn(`${red("failed", process.stderr)}: a fault step failed: ${failedStep.action}: ${failedStep.error}`);
    return exitCode;
  });
}
