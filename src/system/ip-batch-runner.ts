/**
 * A CommandRunner that feeds `ip` commands to long-lived `ip -force -batch -`
 * workers, one per namespace, instead of starting a process per command.
 *
 * Acknowledgement: after each command we send a line whose object is the
 * marker `dummynet-ack-<n>`, which ip knows no command for, so it fails at
 * once in ip itself (no system call, unlike a lookup that reaches the kernel)
 * and ip prints `Object "<marker>" is unknown ...` on stderr, which is not
 * buffered. When the marker's line arrives, the command before it has
 * finished and the kernel has answered; a `Command failed -:<line>` for the
 * command's own line means it failed, with its error text just before. The
 * commands given in one turn of the event loop go out in one write.
 *
 * Reads go through the worker too (`ip -j link|addr|route|rule show ...`): a
 * worker prints JSON with details (`-j -d`), one array per listing, never
 * anything for a change, so the n-th array on its stdout answers the n-th read
 * (it may arrive after the marker: the two are different pipes). A read then
 * costs no process, which matters to steps timed to the millisecond (a spawn
 * holds up Node's event loop) and to snapshots of many hosts.
 *
 * Only commands whose every argument is a plain word go through a worker
 * (batch lines are split on blanks, so nothing can be injected); anything else
 * goes to the fallback runner.
 */
import { SystemCommandError } from "../errors.js";
import type { Logger } from "../log.js";
import { defaultLogger } from "../log.js";
import {
  type CommandResult,
  type CommandRunner,
  type SystemCommandOptions,
  checkSystemArgv,
  reportsError,
} from "./command-runner.js";
import { failureHint } from "./hints.js";
import { type Privilege, privilegeFor } from "./privilege.js";
import { SpawnRunner } from "./spawn-runner.js";
import { type WorkerProcess, launchWorker } from "./worker-launcher.js";

const PLAIN_WORD = /^[A-Za-z0-9_.:/@%+=,-]+$/;
/** Objects and verbs whose commands only change state and print nothing on success. */
const BATCHABLE =
  /^(link (add|set|del|delete)|addr (add|del)|address (add|del)|route (add|del|replace)|rule (add|del|delete)|netns (add|del|delete)|neigh flush)$/;
/** Listings whose JSON a worker prints as one array each (`-d` adds details a caller may ignore). */
const READABLE = /^(link|addr|address|route|rule) (show|list)$/;
/** A family option before the object (`ip -6 rule add ...`): batch lines cannot carry options, so it gets a worker of its own. */
const FAMILY = /^-[46]$/;
/** Options a batched command may carry before its object: a family, and for a read, JSON and details. */
const OPTION = /^-([46]|j|d)$/;
/** How a command goes through a worker: its family option, its batch line's words, whether it is a read. */
interface Batched {
  family: string | undefined;
  words: readonly string[];
  reads: boolean;
}

/** A link moving to another namespace (`ip link set [dev] NAME netns TARGET`). */
const MOVE = /^link set (dev )?\S+ netns /;

/**
 * Starts the ip worker of `namespace` (this process's own namespace when undefined). A namespace is entered from
 * outside where that can be done, which is cheaper than `ip -n` (see launchWorker): as root by the launcher's
 * helper, rootless by nsenter.
 */
function startWorker(
  privilege: Privilege,
  namespace: string | undefined,
  ip: (netns: readonly string[]) => string[],
): Promise<WorkerProcess> {
  const withN = privilege.wrap(ip(namespace ? ["-n", namespace] : []));
  if (!namespace) return launchWorker(withN);
  if (privilege.mode === "root") return launchWorker(ip([]), { name: namespace, argv: withN });
  if (privilege.wrapInNamespace) return launchWorker(privilege.wrapInNamespace(namespace, ip([])));
  return launchWorker(withN);
}

/** Milliseconds a worker gets to exit after the end of its input before it is killed. */
const CLOSE_GRACE = 5000;

interface Pending {
  argv: readonly string[];
  line: number;
  /** A read: it resolves with the next JSON array on stdout. */
  reads: boolean;
  resolve: (result: CommandResult) => void;
  reject: (error: Error) => void;
}

class IpWorker {
  /** The worker process, once started (launchWorker may answer later). */
  #process: WorkerProcess | undefined;
  readonly #pending: Pending[] = [];
  #stderr = "";
  #stdout = "";
  /** Reads whose marker came, waiting for their array on stdout. */
  readonly #awaitingOutput: (Pick<Pending, "resolve" | "reject"> & {
    argv: string[];
    stderr: string;
    /** An error ip printed though it did not call the read failed: refused once its array is taken. */
    error: SystemCommandError | undefined;
  })[] = [];
  #line = 0;
  #sequence = 0;
  /** Command and marker lines not yet written. */
  #unsent = "";
  #exited = false;
  /** close() was called: the input ends once the worker has started and has its lines. */
  #closing = false;
  #busy = false;
  readonly closed: Promise<void>;

  constructor(
    readonly namespace: string | undefined,
    privilege: Privilege,
    private readonly onExit: (worker: IpWorker) => void,
    readonly family?: string,
  ) {
    const ip = (netns: readonly string[]) => [
      "ip",
      ...(family ? [family] : []),
      ...netns,
      "-j",
      "-d",
      "-force",
      "-batch",
      "-",
    ];
    this.closed = startWorker(privilege, namespace, ip)
      .then(
        (worker) => this.#attach(worker),
        (error: unknown) => error as Error,
      )
      .then((startError) => {
        this.#exited = true;
        this.onExit(this);
        const stderr = this.#stderr.replace(/Command failed -:\d+\n/g, "").trim();
        const cause = startError ?? (stderr === "" ? new Error("ip batch worker exited") : undefined);
        const rest = this.#pending.splice(0);
        // Every whole array was handed out as it came: a read still waiting lost its output.
        for (const read of this.#awaitingOutput.splice(0)) {
          read.reject(new SystemCommandError(read.argv, null, "ip batch worker ended before printing the listing"));
        }
        const head = rest.shift();
        // ip exits on some argument errors: that is the failing command's; those queued behind it never ran.
        head?.reject(
          new SystemCommandError(
            displayArgv(head.argv, namespace),
            null,
            stderr,
            failureHint(head.argv, stderr || (cause?.message ?? "")),
            { cause },
          ),
        );
        for (const pending of rest) pending.reject(new NotRunError());
      });
  }

  /** Wires up the started worker, sends what waited for it; resolves when it has ended. */
  #attach(worker: WorkerProcess): Promise<Error | undefined> {
    this.#process = worker;
    worker.stdout.setEncoding("utf8");
    worker.stdout.on("data", (text: string) => {
      this.#stdout += text;
      this.#answerReads();
    });
    worker.stderr.setEncoding("utf8");
    worker.stderr.on("data", (text: string) => {
      this.#onStderr(text);
    });
    worker.stdin.on("error", () => {
      // The worker died; its end fails what is pending.
    });
    worker.hold(this.#busy);
    if (this.#unsent !== "") this.#send();
    if (this.#closing) this.#endInput(worker);
    return worker.ended;
  }

  get pid(): number | undefined {
    return this.#process?.pid;
  }

  get exited(): boolean {
    return this.#exited;
  }

  /** An idle worker must not keep Node running; a busy one must, or awaited commands would be abandoned. */
  #hold(busy: boolean): void {
    this.#busy = busy;
    this.#process?.hold(busy);
  }

  /** Runs `argv` (`ip`, options, then `words`); a read resolves with its JSON. */
  run(argv: readonly string[], words: readonly string[], reads: boolean): Promise<CommandResult> {
    if (this.#pending.length === 0) this.#hold(true);
    return new Promise((resolve, reject) => {
      const marker = `dummynet-ack-${String(++this.#sequence).padStart(8, "0")}`;
      this.#line += 2;
      this.#pending.push({ argv, line: this.#line - 1, reads, resolve, reject });
      if (this.#unsent === "") process.nextTick(this.#send);
      this.#unsent += `${words.join(" ")}\n${marker}\n`;
    });
  }

  /** Writes the lines of the commands given so far (after the current microtasks: a burst of commands is one write). */
  readonly #send = (): void => {
    // Not started yet: the lines wait for it (#attach sends them).
    if (!this.#process) return;
    const lines = this.#unsent;
    this.#unsent = "";
    if (!this.#exited && lines !== "") this.#process.stdin.write(lines);
  };

  close(): Promise<void> {
    if (!this.#exited && !this.#closing) {
      this.#closing = true;
      this.#hold(true);
      if (this.#process) this.#endInput(this.#process);
    }
    return this.closed;
  }

  #endInput(worker: WorkerProcess): void {
    if (this.#unsent !== "") this.#send();
    worker.stdin.end();
    // ip exits at the end of its input; one that does not (stuck in the kernel) must not hold up a cleanup forever.
    const killer = setTimeout(() => {
      worker.kill();
    }, CLOSE_GRACE);
    void this.closed.then(() => {
      clearTimeout(killer);
    });
  }

  #onStderr(text: string): void {
    this.#stderr += text;
    for (;;) {
      const match = /^[^\n]*"dummynet-ack-\d+"[^\n]*\nCommand failed -:\d+\n/m.exec(this.#stderr);
      if (!match) return;
      const before = this.#stderr.slice(0, match.index);
      this.#stderr = this.#stderr.slice(match.index + match[0].length);
      const pending = this.#pending.shift();
      if (!pending) continue;
      const ipFailed = before.includes(`Command failed -:${pending.line}\n`);
      const message = before.replace(/Command failed -:\d+\n/g, "");
      const argv = displayArgv(pending.argv, this.namespace);
      const error =
        ipFailed || reportsError(before)
          ? new SystemCommandError(argv, 1, message, failureHint(pending.argv, message))
          : undefined;
      // A read ip failed prints nothing on stdout; any other prints its array, which must be taken even when the
      // read is refused for an error it printed, or the next read would get it.
      if (pending.reads && !ipFailed) {
        this.#awaitingOutput.push({ argv, stderr: message, error, resolve: pending.resolve, reject: pending.reject });
      } else if (error) pending.reject(error);
      else pending.resolve({ argv, stdout: "", stderr: message, exitCode: 0 });
      this.#answerReads();
    }
  }

  /** Hands each read whose marker came the next whole JSON array on stdout. */
  #answerReads(): void {
    while (this.#awaitingOutput.length > 0) {
      const end = endOfJsonValue(this.#stdout);
      if (end < 0) break;
      const read = this.#awaitingOutput.shift();
      const stdout = this.#stdout.slice(0, end);
      this.#stdout = this.#stdout.slice(end);
      if (read?.error) read.reject(read.error);
      else read?.resolve({ argv: read.argv, stdout, stderr: read.stderr, exitCode: 0 });
    }
    if (this.#pending.length === 0 && this.#awaitingOutput.length === 0) this.#hold(false);
  }
}

/** The index just past the first whole JSON array or object in `text`, or -1 if it is not all there yet. */
function endOfJsonValue(text: string): number {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === "\\") i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === "[" || c === "{") depth++;
    else if ((c === "]" || c === "}") && --depth === 0) return i + 1;
  }
  return -1;
}

/** A command queued behind one that made the worker exit: it never ran, and may be sent again. */
class NotRunError extends Error {}

/** The key of the worker of `namespace` ("" for this process's) and `family` (none: both). */
function workerKey(namespace: string | undefined, family: string | undefined): string {
  return family ? `${namespace ?? ""} ${family}` : (namespace ?? "");
}

function displayArgv(argv: readonly string[], namespace: string | undefined): string[] {
  return namespace ? [argv[0], "-n", namespace, ...argv.slice(1)] : [...argv];
}

/** Options of `new IpBatchRunner()`. */
export interface IpBatchRunnerOptions {
  /** Run the workers through `sudo -n`; ignored when `privilege` is given. @default false */
  sudo?: boolean;
  /** How the workers (and the default fallback) get their rights. @default from `sudo` */
  privilege?: Privilege;
  /** Where commands are logged (debug). @default defaultLogger */
  log?: Logger;
  /** Runs what cannot be batched. @default a SpawnRunner with the same privilege and log */
  fallback?: CommandRunner;
}

/**
 * Runs `ip` commands through long-lived `ip -batch` workers (one per namespace) and every other
 * command through a fallback runner: far fewer processes when building large networks.
 *
 * @example
 * ```ts
 * const runner = new IpBatchRunner({ sudo: false });
 * const shell = new HostShell({ runner });
 * await using net = new DummyNet({ shell });
 * // ...
 * await runner.close();
 * ```
 */
export class IpBatchRunner implements CommandRunner {
  readonly #workers = new Map<string, IpWorker>();
  /** Links moving between namespaces, by the key of the worker that moves them. */
  readonly #moving = new Map<string, number>();
  /** Resolves when no link is moving. */
  #moved: Promise<void> = Promise.resolve();
  #allMoved: () => void = () => undefined;
  readonly #fallback: CommandRunner;
  readonly #privilege: Privilege;
  readonly #log: Logger;

  constructor(options: IpBatchRunnerOptions = {}) {
    this.#privilege = options.privilege ?? privilegeFor(options.sudo ?? false);
    this.#log = options.log ?? defaultLogger;
    this.#fallback = options.fallback ?? new SpawnRunner({ privilege: this.#privilege, log: this.#log });
  }

  async run(argv: readonly string[], options: SystemCommandOptions = {}): Promise<CommandResult> {
    checkSystemArgv(argv);
    const batched = this.#batchable(argv, options);
    if (!batched) return this.#fallback.run(argv, options);
    // A link's move between namespaces waits for an RCU grace period, and longer while other namespaces change
    // (docs/performance.md): while links move, other workers' commands wait until none is moving, as a script
    // makes every move before it configures the namespaces.
    const key = workerKey(options.namespace, batched.family);
    const moves = MOVE.test(batched.words.join(" "));
    if (!moves) {
      while (this.#moving.size > 0 && !this.#moving.has(key)) await this.#moved;
      return this.#run(argv, options, batched);
    }
    if (this.#moving.size === 0) this.#moved = new Promise((resolve) => (this.#allMoved = resolve));
    this.#moving.set(key, (this.#moving.get(key) ?? 0) + 1);
    try {
      return await this.#run(argv, options, batched);
    } finally {
      const left = (this.#moving.get(key) ?? 1) - 1;
      if (left > 0) this.#moving.set(key, left);
      else this.#moving.delete(key);
      if (this.#moving.size === 0) this.#allMoved();
    }
  }

  async #run(argv: readonly string[], options: SystemCommandOptions, batched: Batched): Promise<CommandResult> {
    const deleting = argv[1] === "netns" && (argv[2] === "del" || argv[2] === "delete") ? argv[3] : undefined;
    // A worker inside a namespace keeps it alive: stop it (and its family workers) before the namespace goes.
    if (deleting !== undefined) {
      const keys = [deleting, ...["-4", "-6"].map((family) => workerKey(deleting, family))];
      const workers = keys.flatMap((key) => this.#workers.get(key) ?? []);
      // Out of the map first: a command racing the deletion must get a new worker, not a closing one.
      for (const key of keys) this.#workers.delete(key);
      await Promise.all(workers.map((worker) => worker.close()));
    }
    this.#log.debug(displayArgv(argv, options.namespace).join(" "));
    try {
      for (;;) {
        try {
          return await this.#worker(options.namespace, batched.family).run(argv, batched.words, batched.reads);
        } catch (error) {
          if (!(error instanceof NotRunError)) throw error;
        }
      }
    } catch (error) {
      if (options.allowFailure && error instanceof SystemCommandError) {
        return { argv: error.argv, stdout: "", stderr: error.stderr, exitCode: error.exitCode ?? 1 };
      }
      throw error;
    }
  }

  helperPids(namespace?: string): number[] {
    return [...this.#workers.values()].flatMap((worker) =>
      worker.pid !== undefined && !worker.exited && (namespace === undefined || worker.namespace === namespace)
        ? [worker.pid]
        : [],
    );
  }

  /**
   * Ends every worker; the runner starts new ones when used again.
   *
   * @example
   * ```ts
   * await runner.close();
   * ```
   */
  async close(): Promise<void> {
    await Promise.all([...this.#workers.values()].map((worker) => worker.close()));
    await this.#fallback.close?.();
  }

  /** How `argv` goes through a worker (its family, its batch line, whether it is a read), or false if it cannot. */
  #batchable(argv: readonly string[], options: SystemCommandOptions): false | Batched {
    if (argv[0] !== "ip" || options.input !== undefined) return false;
    let object = 1;
    while (OPTION.test(argv[object] ?? "")) object++;
    const flags = argv.slice(1, object);
    const verb = `${argv[object]} ${argv[object + 1]}`;
    const reads = flags.includes("-j") && READABLE.test(verb);
    const changes = !flags.includes("-j") && !flags.includes("-d") && BATCHABLE.test(verb);
    if (!(reads || changes) || flags.filter((flag) => FAMILY.test(flag)).length > 1) return false;
    if (!argv.every((word) => PLAIN_WORD.test(word))) return false;
    return { family: flags.find((flag) => FAMILY.test(flag)), words: argv.slice(object), reads };
  }

  #worker(namespace: string | undefined, family: string | undefined): IpWorker {
    const key = workerKey(namespace, family);
    let worker = this.#workers.get(key);
    if (!worker || worker.exited) {
      worker = new IpWorker(
        namespace,
        this.#privilege,
        (gone) => {
          if (this.#workers.get(key) === gone) this.#workers.delete(key);
        },
        family,
      );
      this.#workers.set(key, worker);
    }
    return worker;
  }
}
