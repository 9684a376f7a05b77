/**
 * `dummynet fault [NETWORK] partition a,b c | block a b | isolate a | heal`:
 * a fault in a network that `dummynet up` holds, made by that process (see
 * ../fault-control.ts), so that it is one of the network's faults: `heal`
 * reaches it, `inspect` lists it, and it goes when the network goes.
 */
import type { FaultRequest, FaultView } from "../fault-control.js";
import { print, printJson, UsageError } from "../command-io.js";
import { dim, EXIT, green } from "../output.js";
import { findNetwork, hostOf, type HeldNetwork } from "../networks.js";

const ACTIONS = ["partition", "block", "isolate", "heal"] as const;
type Action = (typeof ACTIONS)[number];

export interface FaultFlags {
  network?: string;
  for?: string;
  json?: boolean;
}

const USAGE = "dummynet fault [NETWORK] partition a,b c | block FROM TO | isolate HOST | heal";

/** Splits `[NETWORK] ACTION ARGS...` (the network may also come with --network). */
function parseWords(
  words: string[],
  flags: FaultFlags,
): { selector: string | undefined; action: Action; args: string[] } {
  const isAction = (word: string | undefined) => (ACTIONS as readonly string[]).includes(word ?? "");
  // Two actions first: the network has an action's name (`fault partition isolate f2` in examples/partition.yaml).
  const at = isAction(words[0]) && isAction(words[1]) ? 1 : words.findIndex((word) => isAction(word));
  if (at < 0)
    throw new UsageError(
      `expected an action (${ACTIONS.join(", ")}), got ${words.map((w) => JSON.stringify(w)).join(" ") || "nothing"}: ${USAGE}`,
    );
  if (at > 1)
    throw new UsageError(
      `expected at most one network before ${words[at]}, got ${words.slice(0, at).join(" ")}: ${USAGE}`,
    );
  if (at === 1 && flags.network !== undefined)
    throw new UsageError("give the network once: as the first argument or with --network");
  return { selector: at === 1 ? words[0] : flags.network, action: words[at] as Action, args: words.slice(at + 1) };
}

/** The request for the holder, with every host name checked against the network's (nothing changes on a mistake). */
async function requestOf(held: HeldNetwork, action: Action, args: string[], flags: FaultFlags): Promise<FaultRequest> {
  let lasting: number | undefined;
  if (flags.for !== undefined) {
    if (action === "heal") throw new UsageError("--for goes with partition, block and isolate; heal takes no time");
    const { parseDuration } = await import("../../validation/duration.js");
    try {
      lasting = parseDuration("--for", flags.for);
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
    if (lasting === 0) throw new UsageError('Invalid --for: "0" must be longer than 0 ms, e.g. 500ms or 2s');
  }
  const withFor = lasting === undefined ? {} : { for: lasting };
  const expect = (count: number, shape: string) => {
    if (args.length !== count)
      throw new UsageError(`${action} takes ${shape}, got ${args.length} argument(s): ${USAGE}`);
  };
  const host = (name: string) => {
    hostOf(held, name);
    return name;
  };
  switch (action) {
    case "partition": {
      if (args.length < 2)
        throw new UsageError(
          `partition takes two or more groups of hosts, each a comma-separated list, e.g. a,b c: ${USAGE}`,
        );
      const groups = args.map((group) =>
        group
          .split(",")
          .filter((name) => name !== "")
          .map(host),
      );
      const empty = groups.findIndex((group) => group.length === 0);
      if (empty >= 0)
        throw new UsageError(
          `group ${empty + 1} of partition names no host; write hosts separated by commas, e.g. a,b`,
        );
      return { op: "partition", groups, ...withFor };
    }
    case "block":
      expect(2, "FROM TO (two hosts)");
      return { op: "block", from: host(args[0]), to: host(args[1]), ...withFor };
    case "isolate":
      expect(1, "one host");
      return { op: "isolate", host: host(args[0]), ...withFor };
    case "heal":
      expect(0, "no arguments");
      return { op: "heal" };
  }
}

/** What was done, for people: "partitioned h1 | h2,h3 for 1500 ms". */
function describeRequest(request: FaultRequest, network: string): string {
  const lasting = (ms: number | undefined) => (ms === undefined ? " until healed" : ` for ${ms} ms`);
  switch (request.op) {
    case "partition":
      return `${green("partitioned")} ${request.groups.map((group) => group.join(",")).join(" | ")}${lasting(request.for)}`;
    case "block":
      return `${green("blocked")} ${request.from} → ${request.to}${lasting(request.for)}`;
    case "isolate":
      return `${green("isolated")} ${request.host}${lasting(request.for)}`;
    case "heal":
      return `${green("healed")} every fault of ${network}`;
    case "list":
      return `faults of ${network}`;
  }
}

/** How a fault reads for people: "partition leader,f2 | f1 (until 12:00:05)". */
export function describeFaultView(fault: FaultView): string {
  const hosts = fault.kind === "block" ? fault.hosts.join(" → ") : fault.hosts.join(", ");
  return `${fault.kind} ${hosts}${fault.until ? ` (heals at ${fault.until})` : ""}`;
}

export async function fault(words: string[], flags: FaultFlags): Promise<number> {
  const { selector, action, args } = parseWords(words, flags);
  const held = await findNetwork(selector, { liveOnly: true });
  const request = await requestOf(held, action, args, flags);
  if (!held.network.control)
    throw new UsageError(
      `network ${held.network.name} takes no fault commands (its \`dummynet up\` is older than \`dummynet fault\`); bring it up again`,
    );
  const { askHolder } = await import("../fault-control.js");
  const answer = await askHolder(held.network.control, request);
  if (!answer.ok) {
    // The library refused the arguments before changing anything: a usage error, as for the checks above.
    if (answer.error.name === "InvalidArgumentError") throw new UsageError(answer.error.message);
    throw new Error(answer.error.message);
  }
  if (flags.json) {
    printJson({
      network: held.network.name,
      action,
      ...(answer.fault ? { fault: answer.fault } : {}),
      faults: answer.faults,
    });
    return EXIT.ok;
  }
  print(describeRequest(request, held.network.name));
  const others = answer.faults.length - (answer.fault ? 1 : 0);
  if (others > 0) print(dim(`in force now: ${answer.faults.map(describeFaultView).join("; ")}`));
  return EXIT.ok;
}
