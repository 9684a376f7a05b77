#!/usr/bin/env node
/**
 * The `dummynet` command: topology files in, test networks up and down.
 * Exit status: 0 ok; 1 failure; 2 usage or validation error; `run` exits
 * with its job's status; 128+N when ended by signal N (130 Ctrl-C, 143 SIGTERM).
 *
 * This file declares the commands and their options and ends the process;
 * each command's work is in commands/<command>.ts.
 */
import { Argument, Command, CommanderError, InvalidArgumentError as CommanderArgumentError, Option } from "commander";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
// Only what every start needs is imported here: each start of the command pays for its imports
// (seconds in the kernel lab's emulated machine), so a command's module, and through it the topology
// engine, the YAML parser and schema validator, tc, probe or the reaper, is loaded (import()) only
// when that command runs. The `import type`s below cost nothing at run time.
import { Exit, UsageError, warn, type GlobalOptions } from "./command-io.js";
import type { Shell } from "./commands/completion.js";
import type { ExportFlags } from "./commands/export.js";
import type { FaultFlags } from "./commands/fault.js";
import type { CaptureFlags } from "./commands/capture.js";
import type { ProbeFlags } from "./commands/probe.js";
import type { RunOptions } from "./commands/run.js";
import type { UpOptions } from "./commands/up.js";
import { addNetemOptions } from "./netem-flags.js";
import { EXIT, red, switchColourOff } from "./output.js";

/**
 * The version in package.json, two levels up wherever this file runs: src/cli/main.ts (tsx),
 * dist/cli/main.js (the package), and the kernel lab's bundle of main.ts, which keeps its place.
 */
function packageVersion(): string {
  const manifest = new URL("../../package.json", import.meta.url);
  const { version } = JSON.parse(readFileSync(manifest, "utf8")) as { version?: unknown };
  if (typeof version !== "string") throw new Error(`${manifest.pathname} has no "version"`);
  return version;
}

const SHELLS = ["bash", "zsh", "fish"] as const satisfies readonly Shell[];

function numberArgument(value: string): number {
  const number = Number(value);
  if (value.trim() === "" || !Number.isFinite(number))
    throw new CommanderArgumentError(`expected a number, got "${value}"`);
  return number;
}

const EXIT_CODES = `
Exit status:
  0    success
  1    failure (a command failed, a daemon died, cleanup reported errors)
  2    usage or validation error (nothing was changed)
  N    dummynet run: the job's own exit status
  130  ended by Ctrl-C (SIGINT), 143 by SIGTERM, 129 by SIGHUP (the network is removed first)`;

/** Commander's error, on one line: "error: unknown command 'vaildate'; did you mean validate?" */
function oneLineError(text: string): string {
  const lines = text
    .trim()
    .split("\n")
    .filter((line) => line.trim() !== "");
  const suggestion = lines.map((line) => /^\(Did you mean (.+)\?\)$/.exec(line.trim())).find(Boolean);
  const first = lines[0] ?? "error";
  if (suggestion) return `${first}; did you mean ${suggestion[1]}?\n`;
  return `${first} (see dummynet --help)\n`;
}

export function createProgram(): Command {
  const program = new Command("dummynet")
    .description(
      "Throwaway test networks on one Linux machine: namespaces, veth links, bridges, VLANs, netem impairments.",
    )
    .version(packageVersion())
    .option(
      "--no-color",
      "no colours in the output (so do NO_COLOR=1 and FORCE_COLOR=0; FORCE_COLOR=1 colours a pipe too)",
    )
    .option(
      "--rootless",
      "build in a user namespace of your own, with no root and no sudo (so does DUMMYNET_ROOTLESS=1; by default when neither root nor passwordless sudo is there)",
    )
    // A mistake gets one line (with commander's "did you mean", when it has one), not the whole help.
    .configureOutput({
      outputError: (text, write) => {
        write(oneLineError(text));
      },
    })
    .addHelpText(
      "after",
      `
Examples:
  dummynet validate examples/star.yaml
  dummynet up examples/star.yaml            # keep it up until Ctrl-C or \`dummynet down\`
  dummynet up examples/star.yaml --detach --wait   # or in the background; prints its name
  dummynet inspect star --json              # its hosts, interfaces, addresses, qdiscs, programs
  dummynet exec h1 -- ping -c 3 10.0.0.3    # from another terminal
  dummynet impair h1:h1-sw --delay 20 --loss 1
  dummynet probe h1 h3 --tcp                # loss, round trips, goodput, with Node.js alone
  dummynet fault partition h1,h2 h3 --for 5s   # h3 cut off from h1 and h2 for 5 s (no netem needed)
  dummynet down star
  dummynet run examples/star.yaml           # build, run the file's programs, remove
  dummynet graph examples/star.yaml --format mermaid
  dummynet export examples/star.yaml --to containerlab -o star.clab.yml   # or --to clabernetes, for Kubernetes
  dummynet ls && dummynet cleanup
  dummynet --rootless up examples/star.yaml --detach   # as an ordinary user: no root, no sudo
  source <(dummynet completion bash)
${EXIT_CODES}

Output is coloured and shows progress only on a terminal; CI=true or a pipe keeps it plain.
The library's warnings go to stderr; DUMMYNET_LOG=debug|info|warn|error sets how much it says.
--no-color or NO_COLOR=1 turns colours off, FORCE_COLOR=1 turns them on in a pipe too.`,
    );
  program.exitOverride();
  program.hook("preAction", (root) => {
    if (root.opts()["color"] === false) switchColourOff();
  });
  const action =
    (fn: (...args: never[]) => Promise<number>) =>
    async (...args: unknown[]) => {
      // Commander passes the command's options last but one: the program's (--rootless) join them there.
      const globals: GlobalOptions = program.opts()["rootless"] === true ? { rootless: true } : {};
      args[args.length - 2] = { ...(args[args.length - 2] as object), ...globals };
      throw new Exit(await (fn as (...a: unknown[]) => Promise<number>)(...args));
    };

  program
    .command("up")
    .description(
      "build the network of FILE, print it, and keep it up until Ctrl-C, SIGTERM or `dummynet down`; then remove everything",
    )
    .argument("<file>", "topology file (YAML or JSON)")
    .option("--json", "print one JSON line (name, uid, pid, hosts -> namespaces) once the network is up")
    .option(
      "-d, --detach",
      "return once the network is built, leaving it up in the background (prints its name); `dummynet down` removes it",
    )
    .option("--wait", "with --detach: return only once its programs are ready too")
    .addOption(
      new Option("--timeout <ms>", "with --detach: longest wait for the background network")
        .argParser(numberArgument)
        .default(300_000),
    )
    .addHelpText(
      "after",
      "\nExamples:\n  dummynet up examples/lossy-pair.yaml\n  dummynet up examples/star.yaml --detach --wait && dummynet exec h1 -- ping -c 1 10.0.0.2\n  dummynet up net.yaml --detach --json   # scripts: the uid, pid and names, one JSON line",
    )
    .action(action(async (file: string, options: UpOptions) => (await import("./commands/up.js")).up(file, options)));

  program
    .command("down")
    .description("remove a network that `dummynet up` holds (by name, file or uid; the only one when omitted)")
    .argument("[network]", "network name, topology file or owner uid")
    .option("--json", "JSON output")
    .addOption(
      new Option("--timeout <ms>", "how long to wait for the removal").argParser(numberArgument).default(60_000),
    )
    .addHelpText("after", "\nExamples:\n  dummynet down\n  dummynet down star\n  dummynet down examples/star.yaml")
    .action(
      action(async (selector: string | undefined, options: { json?: boolean; timeout: number }) =>
        (await import("./commands/down.js")).down(selector, options),
      ),
    );

  program
    .command("run")
    .description(
      "build FILE, run its programs (or COMMAND in --host), remove everything, and exit with the job's status",
    )
    .argument("<file>", "topology file")
    .argument("[command...]", "command to run instead of the file's jobs (after --)")
    .option("--host <host>", "host that runs COMMAND (default: the file's first host)")
    .option("--json", "print a JSON report (exit status, each job's output) at the end")
    .option(
      "--probe",
      "once the daemons are ready, probe every impaired link (configured against measured), then run the jobs; only the probe: -- true",
    )
    .addOption(
      new Option("--probe-count <n>", "with --probe: UDP datagrams per link (default 200)").argParser(numberArgument),
    )
    .addOption(
      new Option(
        "--probe-tcp-seconds <s>",
        "with --probe: TCP goodput seconds on a link with a rate, 0 for none (default 2)",
      ).argParser(numberArgument),
    )
    .addOption(new Option("--probe-timeout <ms>", "with --probe: bound on each link's probe").argParser(numberArgument))
    .addHelpText(
      "after",
      "\nExamples:\n  dummynet run examples/nat-router.yaml\n  dummynet run examples/star.yaml --host h1 -- ping -c 3 10.0.0.3\n  dummynet run examples/lossy-pair.yaml --probe -- true",
    )
    .action(
      action(async (file: string, command: string[], options: RunOptions) =>
        (await import("./commands/run.js")).run(file, { ...options, command }),
      ),
    );

  program
    .command("exec")
    .description(
      "run COMMAND in HOST of a network that `dummynet up` holds (stdio passed through, exit status returned)",
    )
    .argument("<host>", "host name from the topology file")
    .argument("<command...>", "command and arguments (after --)")
    .option("--network <name>", "network name, file or uid (needed when several are up)")
    .option(
      "--user <user>",
      'run as this user ("root", a name or a uid); default: you when dummynet uses sudo or was started with sudo',
    )
    .addHelpText(
      "after",
      "\nExamples:\n  dummynet exec client -- ping -c 3 10.0.1.2\n  dummynet exec server --network nat-router -- ip addr",
    )
    .action(
      action(async (host: string, command: string[], options: { network?: string; user?: string }) =>
        (await import("./commands/exec.js")).exec(host, command, options),
      ),
    );

  const impairCommand = program
    .command("impair")
    .description("change the impairments of a link of a running network (values not given are kept)")
    .argument("<host:iface>", "interface, e.g. client:eth0 (impairs the packets it sends)")
    .option("--network <name>", "network name, file or uid (needed when several are up)")
    .option("--json", "JSON output")
    .addHelpText(
      "after",
      "\nExamples:\n  dummynet impair a:a-b --delay 50 --jitter 10\n  dummynet impair a:a-b --loss 0          # 0 removes a value\n  dummynet impair a:a-b --reset --rate 10",
    );
  addNetemOptions(impairCommand);
  impairCommand.action(
    action(async (target: string, flags: Record<string, unknown>) =>
      (await import("./commands/impair.js")).impair(target, flags),
    ),
  );

  program
    .command("probe")
    .description(
      "measure what a path of a running network does to traffic (loss, duplicates, reordering, round trips; TCP goodput with --tcp), with Node.js alone",
    )
    .argument(
      "<hosts...>",
      "[NETWORK] FROM TO: the network (name, file or uid; the only one when omitted), the sending host and the echoing host",
    )
    .option("--network <name>", "network name, file or uid (instead of the first argument)")
    .addOption(new Option("--count <n>", "UDP datagrams to send (default 200)").argParser(numberArgument))
    .addOption(
      new Option("--interval-ms <ms>", "milliseconds between datagrams (default 10)").argParser(numberArgument),
    )
    .addOption(new Option("--size <bytes>", "UDP payload bytes, 16 to 65507 (default 64)").argParser(numberArgument))
    .option("--address <ip>", "address to probe (default: TO's first IPv4 address)")
    .option("--tcp", "also measure TCP goodput FROM -> TO for 2 s")
    .addOption(
      new Option("--tcp-seconds <s>", "measure TCP goodput for this long (implies --tcp)").argParser(numberArgument),
    )
    .addOption(new Option("--timeout <ms>", "bound on the whole probe").argParser(numberArgument))
    .option("--json", "JSON output (the ProbeReport)")
    .addHelpText(
      "after",
      "\nExamples:\n  dummynet probe a b\n  dummynet probe lossy-pair a b --count 500 --tcp\n  dummynet probe h1 h3 --network star --json",
    )
    .action(
      action(async (hosts: string[], flags: ProbeFlags) => (await import("./commands/probe.js")).probe(hosts, flags)),
    );

  program
    .command("fault")
    .description(
      "make a fault in a network that `dummynet up` holds: cut hosts apart (packets dropped silently, no netem or iptables needed), or heal every fault",
    )
    .argument(
      "<words...>",
      "[NETWORK] partition GROUP GROUP... (hosts of a group joined by commas) | block FROM TO (one way) | isolate HOST | heal",
    )
    .option("--network <name>", "network name, file or uid (instead of the first argument)")
    .option("--for <duration>", "heal by itself after this long: ms, or with a unit (500ms, 2s, 1m)")
    .option("--json", "JSON output (the fault made and every fault in force)")
    .addHelpText(
      "after",
      "\nThe process that holds the network makes the fault, so `heal` reaches it, `inspect` lists it, and it goes with the network.\n\nExamples:\n  dummynet fault partition leader,f2 f1 --for 5s\n  dummynet fault block leader f1                # one way: f1 still reaches the leader\n  dummynet fault star isolate h2 --for 500ms\n  dummynet fault heal",
    )
    .action(
      action(async (words: string[], flags: FaultFlags) => (await import("./commands/fault.js")).fault(words, flags)),
    );

  program
    .command("capture")
    .description(
      "record what an interface of a running (or kept) network sends and receives into a pcap file (tcpdump -r, Wireshark); needs tcpdump",
    )
    .argument(
      "<targets...>",
      "[NETWORK] HOST:IFACE: the network (the only one when omitted), the host and its interface",
    )
    .requiredOption("-w, --write <file>", "the pcap file to write")
    .addOption(new Option("--seconds <s>", "stop after this long (default: at Ctrl-C)").argParser(numberArgument))
    .addOption(new Option("--snaplen <bytes>", "bytes kept of each packet (default 262144)").argParser(numberArgument))
    .option("--network <name>", "network name, file or uid (instead of the first argument)")
    .option("--json", "JSON output: { file, packets, bytes, dropped }")
    .addHelpText(
      "after",
      "\nExamples:\n  dummynet capture client:eth0 -w client.pcap\n  dummynet capture star h1:eth0 -w h1.pcap --seconds 10\n  tcpdump -nn -r client.pcap",
    )
    .action(
      action(async (targets: string[], flags: CaptureFlags) =>
        (await import("./commands/capture.js")).capture(targets, flags),
      ),
    );

  program
    .command("inspect")
    .description(
      "what a network `dummynet up` holds looks like now: hosts, interfaces (state, addresses, peer), impairments (tc qdiscs), faults in force, programs",
    )
    .argument("[network]", "network name, topology file or owner uid (the only one when omitted)")
    .option("--json", "JSON output")
    .addHelpText(
      "after",
      "\nExamples:\n  dummynet inspect\n  dummynet inspect star --json | jq '.hosts[].interfaces[].addresses'",
    )
    .action(
      action(async (selector: string | undefined, options: { json?: boolean }) =>
        (await import("./commands/inspect.js")).inspect(selector, options),
      ),
    );

  program
    .command("ls")
    .description("networks and leftover d-<uid>-* objects on this machine, by owner, with whether the owner is alive")
    .option("--json", "JSON output")
    .addHelpText(
      "after",
      "\nExamples:\n  dummynet ls\n  dummynet ls --json | jq '.owners[] | select(.alive | not) | .uid'",
    )
    .action(action(async (options: { json?: boolean }) => (await import("./commands/ls.js")).ls(options)));

  program
    .command("cleanup")
    .description(
      "remove the objects (namespaces and their processes, links, cgroups, iptables rules) of owners that are gone",
    )
    .argument("[uid...]", "only these owners (default: every owner that is gone)")
    .addOption(
      new Option("--force <uid...>", "also remove the objects of these owners, even if alive").argParser(
        (value: string, previous: number[] | undefined) => [...(previous ?? []), numberArgument(value)],
      ),
    )
    .option("--dry-run", "only show what would be removed")
    .option("--json", "JSON output")
    .addHelpText(
      "after",
      "\nExamples:\n  dummynet cleanup\n  dummynet cleanup --dry-run\n  dummynet cleanup 12345\n  dummynet cleanup --force 12345",
    )
    .action(
      action(async (uids: string[], options: { force?: number[]; json?: boolean; dryRun?: boolean }) =>
        (await import("./commands/cleanup.js")).cleanup(
          uids.map((uid) => numberArgument(uid)),
          options,
        ),
      ),
    );

  program
    .command("doctor")
    .description(
      "what this machine can do (kernel features, programs, privileges), with what to do about each missing one",
    )
    .option("--json", "JSON output")
    .addHelpText("after", "\nExamples:\n  dummynet doctor\n  dummynet doctor --json")
    .action(action(async (options: { json?: boolean }) => (await import("./commands/doctor.js")).doctor(options)));

  program
    .command("validate")
    .description("check topology files against the schema and the semantic rules; errors give file:line:column")
    .argument("<file...>", 'topology files ("-" reads one from standard input)')
    .option("--json", "JSON output (an array when several files are given)")
    .addHelpText(
      "after",
      "\nExamples:\n  dummynet validate examples/star.yaml\n  dummynet validate examples/*.yaml\n  generate-topology | dummynet validate -\n  dummynet validate net.yaml --json",
    )
    .action(
      action(async (files: string[], options: { json?: boolean }) =>
        (await import("./commands/validate.js")).validate(files, options),
      ),
    );

  program
    .command("completion")
    .description("print a shell completion script (bash, zsh or fish) for the commands and options of this dummynet")
    .addArgument(new Argument("<shell>", "the shell").choices(SHELLS))
    .addHelpText(
      "after",
      '\nExamples:\n  source <(dummynet completion bash)                     # this bash session\n  dummynet completion bash > /etc/bash_completion.d/dummynet\n  dummynet completion zsh > "${fpath[1]}/_dummynet"\n  dummynet completion fish > ~/.config/fish/completions/dummynet.fish',
    )
    .action(action(async (shell: Shell) => (await import("./commands/completion.js")).completion(program, shell)));

  program
    .command("graph")
    .description("draw a topology: Mermaid, Graphviz DOT, or SVG (needs Graphviz)")
    .argument("<file>", "topology file")
    .addOption(new Option("--format <format>", "output format").choices(["mermaid", "dot", "svg"]).default("mermaid"))
    .option("-o, --output <file>", "write to a file instead of stdout")
    .addHelpText(
      "after",
      "\nExamples:\n  dummynet graph examples/nat-router.yaml > net.mmd\n  dummynet graph examples/star.yaml --format svg -o star.svg",
    )
    .action(
      action(async (file: string, options: { format: string; output?: string }) =>
        (await import("./commands/graph.js")).graph(file, options),
      ),
    );

  program
    .command("export")
    .description(
      "write FILE's network for containerlab (a topology file) or for Kubernetes through clabernetes (a Topology resource); what does not carry over is a warning",
    )
    .argument("<file>", "topology file")
    .addOption(
      new Option("--to <target>", "containerlab or clabernetes")
        .choices(["containerlab", "clabernetes"])
        .makeOptionMandatory(),
    )
    .option("-o, --output <file>", "write to a file instead of stdout")
    .option("--image <image>", "image of the hosts that name none (default nicolaka/netshoot:v0.16)")
    .option("--strict", "refuse (exit status 2, nothing written) when anything does not carry over faithfully")
    .addHelpText(
      "after",
      "\nExamples:\n  dummynet export examples/star.yaml --to containerlab -o star.clab.yml && containerlab deploy -t star.clab.yml\n  dummynet export examples/nat-router.yaml --to clabernetes | kubectl apply -f -\n  dummynet export net.yaml --to containerlab --image registry.example.com/tools:1 --strict\n\nSee docs/beyond-one-machine.md for what maps and what does not.",
    )
    .action(
      action(async (file: string, options: ExportFlags) =>
        (await import("./commands/export.js")).exportCommand(file, options),
      ),
    );

  for (const command of program.commands) command.exitOverride();
  return program;
}

export async function main(argv: readonly string[] = process.argv): Promise<number> {
  try {
    await createProgram().parseAsync([...argv]);
    return EXIT.ok;
  } catch (error) {
    if (error instanceof Exit) return error.code;
    if (error instanceof CommanderError) {
      return error.code === "commander.helpDisplayed" || error.code === "commander.version" || error.exitCode === 0
        ? EXIT.ok
        : EXIT.usage;
    }
    if (error instanceof UsageError) {
      warn(`${red("error", process.stderr)}: ${error.message}`);
      return EXIT.usage;
    }
    warn(`${red("error", process.stderr)}: ${error instanceof Error ? error.message : String(error)}`);
    return EXIT.failure;
  }
}

// Run when executed (node dist/cli/main.js, or through the npm bin link), not when imported by tests.
const invokedAs = process.argv[1] ? resolve(process.argv[1]) : "";
if (/[\\/](main\.(ts|js)|dummynet)$/.test(invokedAs)) {
  const code = await main();
  process.stdout.write("", () => process.exit(code));
}
