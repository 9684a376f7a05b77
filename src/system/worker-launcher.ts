/**
 * Starting the long-lived `ip` workers without a Node spawn each. A spawn
 * forks this whole process (page tables of some 70 MB) and holds up the event
 * loop until the child has exec'd: 5 to 10 ms on the machines we measure on,
 * which was most of a two-host test's set-up and of a big build
 * (docs/performance.md). So one small helper per process, a Perl script (Perl
 * is essential on Debian), forks the workers: it makes each one's three
 * pipes, forks and execs it, and prints the pipes' descriptor numbers. This
 * process opens the same pipes through /proc/<helper>/fd/<n> (opening a
 * pipe there opens that pipe) and tells the helper to close its copies; from
 * then on it talks to the worker directly, as with a spawn.
 *
 * As root, the helper also enters a worker's network namespace (setns) before
 * it execs `ip`, instead of `ip -n`, which also makes the worker a mount
 * namespace of its own with /sys mounted anew: that cost every worker's
 * start and, more, its exit (docs/performance.md), and an `ip` worker reads
 * nothing under /sys.
 *
 * Where the helper cannot do it (no Perl, a word it cannot carry, a program
 * not on PATH, /proc closed to this process) the worker is spawned as before;
 * so it is in a worker thread, where Node lists every descriptor fs.open
 * returns and closes those still listed when the thread ends: a pipe handed
 * to a socket is closed by the socket, not by fs.close, so its number would
 * stay listed and be closed again when the thread ends, by then another's.
 * Workers started by the helper inherit its environment: the one this
 * process had when it started its first worker.
 */
import { type ChildProcessByStdio, spawn } from "node:child_process";
import { closeSync, constants, existsSync, openSync } from "node:fs";
import { Socket } from "node:net";
import { createInterface } from "node:readline";
import type { Readable, Writable } from "node:stream";
import { isMainThread } from "node:worker_threads";
import { findExecutable } from "./executables.js";
import { SETNS_SYSCALL } from "./setns.js";

/** A started worker: its pipes, its pid, and its end. */
export interface WorkerProcess {
  readonly pid: number | undefined;
  readonly stdin: Writable;
  readonly stdout: Readable;
  readonly stderr: Readable;
  /** Resolves once the worker has ended and its output is read: with the error that kept it from starting, if any. */
  readonly ended: Promise<Error | undefined>;
  kill(): void;
  /** Whether the worker keeps Node running (a busy one must, an idle one must not). */
  hold(busy: boolean): void;
}

/**
 * The helper: reads `id NUL argv...` lines; for each, forks the program with three new pipes as its stdin, stdout
 * and stderr and prints `id pid in out err` (its own descriptors of the pipes' other ends), or `id error why`.
 * `done id` closes its copies. Children get SIGCHLD's default back (nsenter and sudo wait for theirs); Perl opens
 * every descriptor above 2 close-on-exec, so a worker holds no other worker's pipes. No modules: POSIX alone
 * would add some 20 ms to the start.
 */
const HELPER = String.raw`
use strict;
$| = 1;
$SIG{CHLD} = 'IGNORE';
my $SETNS = 0 + shift @ARGV;
my %held;
while (my $line = <STDIN>) {
  chomp $line;
  if ($line =~ /^done (\d+)$/) { close $_ for @{ delete $held{$1} || [] }; next; }
  my ($id, $netns, @argv) = split /\0/, $line;
  my ($in_r, $in_w, $out_r, $out_w, $err_r, $err_w);
  unless (pipe($in_r, $in_w) && pipe($out_r, $out_w) && pipe($err_r, $err_w)) { print "$id error pipe: $!\n"; next; }
  my $pid = fork();
  if (!defined $pid) { print "$id error fork: $!\n"; next; }
  if ($pid == 0) {
    $SIG{CHLD} = 'DEFAULT';
    open(STDIN, "<&", $in_r); open(STDOUT, ">&", $out_w); open(STDERR, ">&", $err_w);
    if ($netns ne '') {
      # What ip -n does first, told as ip tells it; without its private mount namespace and /sys, which ip
      # workers do not use and which cost their start and their exit.
      my $ns;
      my $ok = open($ns, '<', "/run/netns/$netns") && syscall($SETNS, fileno($ns), 0x40000000) == 0;
      unless ($ok) { print STDERR "Cannot open network namespace \"$netns\": $!\n"; exit 255; }
    }
    exec { $argv[0] } @argv;
    print STDERR "cannot run $argv[0]: $!\n";
    exit 127;
  }
  close $in_r; close $out_w; close $err_w;
  $held{$id} = [$in_w, $out_r, $err_r];
  print "$id $pid ", fileno($in_w), " ", fileno($out_r), " ", fileno($err_r), "\n";
}
`;

interface Request {
  resolve(process: WorkerProcess): void;
  fallback(): void;
}

class Helper {
  readonly #child: ChildProcessByStdio<Writable, Readable, null>;
  readonly #requests = new Map<number, Request>();
  #next = 0;
  #broken = false;

  constructor(perl: string) {
    this.#child = spawn(perl, ["-e", HELPER, String(SETNS_SYSCALL ?? 0)], { stdio: ["pipe", "pipe", "ignore"] });
    this.#child.on("error", () => {
      this.#fail();
    });
    this.#child.on("exit", () => {
      this.#fail();
    });
    this.#child.stdin.on("error", () => {
      this.#fail();
    });
    createInterface({ input: this.#child.stdout }).on("line", (line) => {
      this.#answer(line);
    });
    this.#hold();
  }

  get usable(): boolean {
    return !this.#broken;
  }

  /** `netns`: the network namespace (a name in /run/netns) the worker starts in; "" for this process's. */
  launch(argv: readonly string[], netns: string, fallbackArgv: readonly string[]): Promise<WorkerProcess> {
    return new Promise((resolve, reject) => {
      const id = this.#next++;
      this.#requests.set(id, {
        resolve,
        fallback: () => {
          try {
            resolve(spawned(fallbackArgv));
          } catch (error) {
            reject(error);
          }
        },
      });
      this.#hold();
      this.#child.stdin.write(`${[String(id), netns, ...argv].join("\0")}\n`);
    });
  }

  #answer(line: string): void {
    const [idText, pidText, ...rest] = line.split(" ");
    const id = Number(idText);
    const request = this.#requests.get(id);
    if (!request) return;
    this.#requests.delete(id);
    this.#hold();
    if (pidText === "error") {
      request.fallback();
      return;
    }
    const opened: number[] = [];
    try {
      // Non-blocking: a worker that ended at once has no writer on its stdout (a blocking open would wait forever).
      const [input, output, errors] = rest.map(Number);
      const base = `/proc/${String(this.#child.pid)}/fd/`;
      opened.push(openSync(base + String(input), constants.O_WRONLY | constants.O_NONBLOCK));
      opened.push(openSync(base + String(output), constants.O_RDONLY | constants.O_NONBLOCK));
      opened.push(openSync(base + String(errors), constants.O_RDONLY | constants.O_NONBLOCK));
    } catch {
      for (const fd of opened) closeSync(fd);
      this.#child.stdin.write(`done ${String(id)}\n`);
      if (opened.length === 0) this.#broken = true;
      // The worker may run: without its pipes it reads end of input and ends.
      request.fallback();
      return;
    }
    this.#child.stdin.write(`done ${String(id)}\n`);
    request.resolve(fromPipes(Number(pidText), opened[0], opened[1], opened[2]));
  }

  /** Keeps Node running while an answer is due. */
  #hold(): void {
    const busy = this.#requests.size > 0;
    for (const handle of [this.#child, this.#child.stdin, this.#child.stdout] as { ref?(): void; unref?(): void }[]) {
      if (busy) handle.ref?.();
      else handle.unref?.();
    }
  }

  #fail(): void {
    this.#broken = true;
    const requests = [...this.#requests.values()];
    this.#requests.clear();
    for (const request of requests) request.fallback();
  }
}

/**
 * A worker on the pipes this process opened: it has ended when both its outputs have and it is gone from /proc
 * (the helper lets the kernel reap it). Its descriptors close before it leaves its namespaces, and a namespace
 * deleted after close() must not be kept by a worker still on its way out.
 */
function fromPipes(pid: number, input: number, output: number, errors: number): WorkerProcess {
  const stdin = new Socket({ fd: input, readable: false, writable: true });
  const stdout = new Socket({ fd: output, readable: true, writable: false });
  const stderr = new Socket({ fd: errors, readable: true, writable: false });
  const closed = (stream: Socket) =>
    new Promise<void>((resolve) =>
      stream.once("close", () => {
        resolve();
      }),
    );
  return {
    pid,
    stdin,
    stdout,
    stderr,
    ended: Promise.all([closed(stdout), closed(stderr)]).then(async () => {
      stdin.destroy();
      await gone(pid);
      return undefined;
    }),
    kill: () => {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // Gone already.
      }
    },
    hold: (busy) => {
      for (const stream of [stdin, stdout, stderr]) {
        if (busy) stream.ref();
        else stream.unref();
      }
    },
  };
}

/** Resolves once `pid` is no longer in /proc, checked every millisecond for at most GONE_WITHIN ms. */
async function gone(pid: number): Promise<void> {
  const deadline = performance.now() + GONE_WITHIN;
  while (existsSync(`/proc/${String(pid)}`) && performance.now() < deadline)
    await new Promise((resolve) => setTimeout(resolve, 1));
}

/** How long a worker whose output has ended may take to be gone (it is exiting). */
const GONE_WITHIN = 2000;

/** A worker started by a Node spawn. */
function spawned(argv: readonly string[]): WorkerProcess {
  const child = spawn(argv[0], argv.slice(1), { stdio: ["pipe", "pipe", "pipe"] });
  let startError: Error | undefined;
  child.on("error", (error) => (startError = error));
  return {
    pid: child.pid,
    stdin: child.stdin,
    stdout: child.stdout,
    stderr: child.stderr,
    ended: new Promise((resolve) =>
      child.on("close", () => {
        resolve(startError);
      }),
    ),
    kill: () => child.kill("SIGKILL"),
    hold: (busy) => {
      for (const handle of [child, child.stdin, child.stdout, child.stderr] as { ref?(): void; unref?(): void }[]) {
        if (busy) handle.ref?.();
        else handle.unref?.();
      }
    },
  };
}

let helper: Helper | undefined;
let perl: string | null | undefined;
/** Programs found on PATH (a worker's program is one of a few: ip, sudo, nsenter), by PATH. */
const found = new Map<string, boolean>();

function onPath(program: string): boolean {
  const key = `${program}\0${process.env["PATH"] ?? ""}`;
  let known = found.get(key);
  if (known === undefined) found.set(key, (known = findExecutable(program) !== undefined));
  return known;
}

/**
 * Starts the helper ahead of the first worker (the test fixtures do as they load), so that a first network
 * does not wait for Perl to start. Nothing when Perl is not installed.
 */
export function startWorkerHelper(): void {
  if (!isMainThread) return;
  perl ??= findExecutable("perl") ?? null;
  if (perl !== null) helper ??= new Helper(perl);
}

/** A worker to start inside a network namespace: its name in /run/netns, and the argv that enters it by itself. */
export interface InNamespace {
  readonly name: string;
  /** The same worker started by a spawn (`ip -n NAME ...`), where the helper cannot enter the namespace. */
  readonly argv: readonly string[];
}

/**
 * Starts `argv` as a worker: through this process's helper when it can, else by a spawn. With `inNamespace` (asked
 * for as root: the helper runs as this process's user), the helper enters the namespace for the worker; where it
 * cannot, `inNamespace.argv` runs instead.
 */
export function launchWorker(argv: readonly string[], inNamespace?: InNamespace): Promise<WorkerProcess> {
  const netns = inNamespace && SETNS_SYSCALL !== undefined ? inNamespace.name : "";
  const fallback = inNamespace?.argv ?? argv;
  const started = netns ? argv : fallback;
  // A program the helper could not start is spawned, so that its absence is told as a spawn tells it (ENOENT).
  const carried = [netns, ...started].every((word) => !word.includes("\0") && !word.includes("\n"));
  if (isMainThread && carried && !started[0].includes("/") && onPath(started[0])) {
    startWorkerHelper();
    if (helper?.usable) return helper.launch(started, netns, fallback);
  }
  return Promise.resolve(spawned(fallback));
}
