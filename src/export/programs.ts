/**
 * A host's programs as its node's exec commands, after its network: each
 * daemon started in the background (output in /tmp/dummynet-<n>-<name>.log
 * inside the container) and, when it has a readiness check, waited for as
 * `Lab.start()` waits (the same port or output line, the same time limit);
 * then the jobs, each to its end (within its `timeout`), so that containerlab
 * prints their output and exit status. The readiness checks together are the
 * node's healthcheck. Why exec and not the node's `cmd`: `cmd` starts before
 * containerlab has made the node's links, so a program there would start in a
 * host without its network.
 */
import type { HostSpec, ProgramSpec, Topology } from "../topology/model.js";
import { DEFAULT_EXPORT_IMAGE, DEFAULT_IMAGE_PROGRAMS } from "./default-image.js";
import type { ExportReport } from "./report.js";
import { joinWords, quoteWord } from "./shlex.js";

/** A node's healthcheck, as containerlab's `healthcheck` takes it (times in seconds). */
export interface Healthcheck {
  test: ["CMD-SHELL", string];
  "start-period": number;
  interval: number;
  timeout: number;
  retries: number;
}

/** What a host's programs become. */
export interface ProgramsExport {
  /** The exec commands: daemons, readiness waits, jobs. */
  commands: string[][];
  /** The readiness checks of its daemons, when any has one. */
  healthcheck?: Healthcheck;
  /** Whether the host has jobs (which wait for other nodes' daemons where the target can order them). */
  hasJobs: boolean;
}

/** Directories whose programs and files every image has its own of (a path elsewhere is a file of this machine). */
const SYSTEM_DIRECTORIES = ["/bin/", "/sbin/", "/usr/bin/", "/usr/sbin/", "/proc/", "/sys/", "/dev/"];

/** Where a daemon's output goes inside the container. */
function programLog(topology: Topology, program: ProgramSpec): string {
  const index = topology.programs.indexOf(program);
  return `/tmp/dummynet-${index}-${program.name.replace(/[^A-Za-z0-9_.-]/g, "_").slice(0, 40)}.log`;
}

/** An fnmatch glob (`ready.line`, matched against whole lines) as a POSIX extended regular expression for `grep -x`. */
function globToEre(glob: string): string {
  const chars = Array.from(glob);
  let ere = "";
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i];
    if (c === "*") ere += ".*";
    else if (c === "?") ere += ".";
    else if (c === "[") {
      let j = i + 1;
      if (chars[j] === "!") j++;
      if (chars[j] === "]") j++;
      while (j < chars.length && chars[j] !== "]") j++;
      if (j >= chars.length) ere += "\\[";
      else {
        const body = chars.slice(i + 1, j).join("");
        ere += `[${body.startsWith("!") ? `^${body.slice(1)}` : body}]`;
        i = j;
      }
    } else ere += /[.^$+(){}|\\\]]/.test(c) ? `\\${c}` : c;
  }
  return ere;
}

function readyCheck(topology: Topology, program: ProgramSpec): string | undefined {
  const ready = program.ready;
  if (ready?.port !== undefined) {
    // A listening TCP socket on the port, from the kernel's table, as waitForPort reads it (state 0A is LISTEN).
    const port = ready.port.toString(16).toUpperCase().padStart(4, "0");
    return `cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | grep -qE ${quoteWord(`^ *[0-9]+: [0-9A-F]+:${port} [0-9A-F]+:[0-9A-F]+ 0A `)}`;
  }
  if (ready?.line !== undefined)
    return `grep -qxE -- ${quoteWord(globToEre(ready.line))} ${quoteWord(programLog(topology, program))}`;
  return undefined;
}

function argv(program: ProgramSpec): string[] {
  return typeof program.command === "string" ? ["sh", "-c", program.command] : [...program.command];
}

/** The exec commands, healthcheck and checks of `host`'s programs. */
export function programCommands(
  topology: Topology,
  host: HostSpec,
  image: string,
  report: ExportReport,
): ProgramsExport {
  const programs = topology.programs.filter((program) => program.host === host.name);
  const commands: string[][] = [];
  const checks: string[] = [];
  let longest = 0;
  for (const program of programs) checkProgram(program, image, report);
  for (const program of programs.filter((p) => p.daemon)) {
    const log = quoteWord(programLog(topology, program));
    commands.push(["sh", "-c", `${joinWords(argv(program))} >${log} 2>&1 </dev/null &`]);
    const check = readyCheck(topology, program);
    if (!check || !program.ready) continue;
    checks.push(check);
    longest = Math.max(longest, program.ready.timeout);
    const tries = Math.ceil(program.ready.timeout / 100);
    const late = quoteWord(`dummynet: ${program.name} is not ready after ${program.ready.timeout} ms`);
    commands.push([
      "sh",
      "-c",
      `i=0; until ${check}; do i=$((i+1)); if [ "$i" -ge ${tries} ]; then echo ${late} >&2; exit 1; fi; sleep 0.1; done`,
    ]);
  }
  const jobs = programs.filter((p) => !p.daemon);
  for (const job of jobs) {
    commands.push(job.timeout === undefined ? argv(job) : ["timeout", String(job.timeout / 1000), ...argv(job)]);
  }
  return {
    commands,
    hasJobs: jobs.length > 0,
    ...(checks.length > 0
      ? {
          healthcheck: {
            test: ["CMD-SHELL", checks.join(" && ")],
            "start-period": Math.ceil(longest / 1000),
            interval: 1,
            timeout: 5,
            retries: 3,
          },
        }
      : {}),
  };
}

/** Words of a command that name a program or file: the argument array, or a shell line split on blanks. */
function words(program: ProgramSpec): string[] {
  if (typeof program.command !== "string") return [...program.command];
  return program.command
    .split(/[\s;|&()]+/)
    .map((word) => word.replace(/^["']|["']$/g, ""))
    .filter((word) => word !== "" && !/^[A-Za-z_][A-Za-z0-9_]*=/.test(word));
}

function checkProgram(program: ProgramSpec, image: string, report: ExportReport): void {
  const where = `program ${program.name} on host ${program.host}`;
  const inImage = (name: string) => image !== DEFAULT_EXPORT_IMAGE || DEFAULT_IMAGE_PROGRAMS.has(name);
  for (const [i, word] of words(program).entries()) {
    const path = /^(\/|\.\.?\/|~\/)/.test(word);
    if (path && !SYSTEM_DIRECTORIES.some((dir) => word.startsWith(dir))) {
      report.warn(
        program.path,
        `${where} uses ${word}, a path on this machine: the container has only its image's files; put the file in the image (or bind it in with containerlab's binds)`,
      );
    } else if (i === 0 && !inImage(path ? word.slice(word.lastIndexOf("/") + 1) : word)) {
      report.warn(
        program.path,
        `${where} runs ${word}, which the default image ${DEFAULT_EXPORT_IMAGE} does not have; give the host an image that has it (hosts.${program.host}.image, or --image), with iproute2 and, for nat and forward rules, iptables`,
      );
    }
  }
}
