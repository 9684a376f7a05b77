/**
 * The probe: each kernel feature tried for real in a throwaway namespace
 * `d-<uid>-probe` (links through one `ip -batch`, qdiscs through one
 * `tc -batch`, iptables' nat table), then the namespace deleted with
 * everything in it.
 */
import type { CommandRunner } from "../system/command-runner.js";
import { missingProgramHint } from "../system/hints.js";
import { InterfaceScoped, NamespaceScoped } from "../names/scoped.js";
import { adviceFor, hintStatus, type ModuleHints } from "./module-hints.js";
import type { FeatureStatus, IptablesStatus, KernelFeature, ProgramName, ProgramStatus } from "./report.js";

export async function probeKernel(
  runner: CommandRunner,
  uid: number,
  programs: Record<ProgramName, ProgramStatus>,
  hints: ModuleHints,
  iptablesFlavour: IptablesStatus,
): Promise<Partial<Record<KernelFeature, FeatureStatus>>> {
  const namespace = new NamespaceScoped("probe", uid).scoped;
  const link = (name: string): string => new InterfaceScoped(name, uid).scoped;
  const result: Partial<Record<KernelFeature, FeatureStatus>> = {};

  const status = (feature: KernelFeature, command: string, failure: string | undefined): FeatureStatus => {
    if (failure === undefined) return { available: true, probed: true, evidence: `\`${command}\` succeeded` };
    const advice = adviceFor(feature, hints);
    return {
      available: false,
      probed: true,
      evidence: `\`${command}\` failed: ${firstLine(failure) || "(no message)"}`,
      ...(advice ? { howToGet: advice } : {}),
    };
  };

  // A namespace of the same name is a leftover of an earlier probe by a process with this pid.
  await runner.run(["ip", "netns", "delete", namespace], { allowFailure: true }).catch(() => undefined);
  const added = await runCommand(runner, ["ip", "netns", "add", namespace]);
  result.netns = status("netns", `ip netns add ${namespace}`, added);
  if (!result.netns.available) return result;

  try {
    // One `ip -batch` and one `tc -batch` (with -force: go on after a failure) instead of a
    // process per attempt: spawning is what costs, most of all in the emulated (QEMU) kernel lab.
    const linkAttempts: [KernelFeature, string][] = [
      ["veth", `link add ${link("pa")} type veth peer name ${link("pb")}`],
      // On the veth just made: a VLAN needs a parent link.
      ["vlan", `link add link ${link("pa")} name ${link("pv")} type vlan id 2`],
      ["bridge", `link add ${link("pbr")} type bridge`],
      ["ifb", `link add ${link("pi")} type ifb`],
    ];
    const qdiscAttempts: [KernelFeature, string][] = [
      // One root qdisc at a time on lo: replace switches the kind.
      ["netem", "qdisc add dev lo root netem delay 1ms"],
      ["htb", "qdisc replace dev lo root handle 1: htb"],
      ["tbf", "qdisc replace dev lo root tbf rate 1mbit burst 32kbit latency 50ms"],
      ["ingress", "qdisc add dev lo ingress"],
    ];
    const [linkFailures, qdiscFailures, iptablesFailure] = await Promise.all([
      runBatch(
        runner,
        "ip",
        namespace,
        linkAttempts.map(([, line]) => line),
      ),
      programs.tc.available
        ? runBatch(
            runner,
            "tc",
            namespace,
            qdiscAttempts.map(([, line]) => line),
          )
        : undefined,
      iptablesFlavour.flavour !== "missing" && programs.iptables.available
        ? runCommand(
            runner,
            // nsenter is the cheaper way in (no mount namespace); `ip netns exec` works without util-linux.
            programs.nsenter.available
              ? ["nsenter", `--net=/run/netns/${namespace}`, "--", programs.iptables.path, "-t", "nat", "-S"]
              : ["ip", "netns", "exec", namespace, programs.iptables.path, "-t", "nat", "-S"],
          )
        : undefined,
    ]);
    linkAttempts.forEach(([feature, line], index) => {
      result[feature] = status(feature, `ip ${line}`, linkFailures[index]);
    });
    if (!result.veth?.available) {
      const hint = hintStatus("vlan", hints);
      result.vlan = { ...hint, evidence: `${hint.evidence}; not probed: no veth link to put a VLAN on` };
    }
    qdiscAttempts.forEach(([feature, line], index) => {
      result[feature] = qdiscFailures ? status(feature, `tc ${line}`, qdiscFailures[index]) : missingTc(programs);
    });
    if (iptablesFlavour.flavour !== "missing") {
      result.iptables = status("iptables", "iptables -t nat -S", iptablesFailure);
      if (!result.iptables.available) {
        result.iptables.howToGet =
          "iptables cannot use the nat table: `modprobe ip_tables iptable_nat iptable_filter` (legacy) or `modprobe nf_tables nft_chain_nat` (nft).";
      }
    }
  } finally {
    // Deleting the namespace removes every link and qdisc made in it.
    await runner.run(["ip", "netns", "delete", namespace], { allowFailure: true });
  }
  return result;
}

/** Runs one command; undefined on success, else the error text. */
async function runCommand(runner: CommandRunner, argv: string[]): Promise<string | undefined> {
  try {
    const reply = await runner.run(argv, { allowFailure: true });
    return reply.exitCode === 0 ? undefined : (reply.stderr || reply.stdout).trim() || `exit status ${reply.exitCode}`;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

/**
 * Runs `lines` through `program -force -batch -` in `namespace`; for each line,
 * undefined when it succeeded, else its error. iproute2 reports a failed line
 * as its error message(s) followed by "Command failed -:<line number>".
 */
async function runBatch(
  runner: CommandRunner,
  program: "ip" | "tc",
  namespace: string,
  lines: string[],
): Promise<(string | undefined)[]> {
  const failures: (string | undefined)[] = lines.map(() => undefined);
  let reply;
  try {
    reply = await runner.run([program, "-force", "-batch", "-"], {
      namespace,
      input: lines.join("\n") + "\n",
      allowFailure: true,
    });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return lines.map(() => message);
  }
  let pending: string[] = [];
  for (const text of reply.stderr.split("\n")) {
    const failed = /^Command failed .*:(\d+)$/.exec(text.trim());
    if (failed) {
      const index = Number(failed[1]) - 1;
      if (index >= 0 && index < lines.length) failures[index] = pending.join(" ").trim() || "failed";
      pending = [];
    } else if (text.trim() !== "") {
      pending.push(text.trim());
    }
  }
  if (reply.exitCode !== 0 && failures.every((f) => f === undefined)) {
    // Failed without saying which line: count every line as unproven.
    return lines.map(() => reply.stderr.trim() || `${program} -batch exit status ${reply.exitCode}`);
  }
  return failures;
}

function missingTc(programs: Record<ProgramName, ProgramStatus>): FeatureStatus {
  return {
    available: false,
    probed: false,
    evidence: "no tc program",
    howToGet: programs.tc.howToGet ?? missingProgramHint("tc"),
  };
}

function firstLine(text: string): string {
  return text.split("\n")[0] ?? "";
}
