/**
 * containerlab on namespaces, for tests of the export's meaning: each node a
 * network namespace made by a DummyNet (so its d-<uid>- name falls under the
 * leftover checks) with an "init" process in a private mount namespace of
 * its own (its /tmp a tmpfs, as a container's), links wired as containerlab
 * wires them (a veth pair, each end named as its endpoint, in its node, with
 * the link's MTU, up), then each node's exec commands split as containerlab
 * splits them and run, as `docker exec` runs them, in the node's network and
 * mount namespaces, nodes ordered by their `stages.configure.wait-for`
 * (waiting for a node to be healthy runs its healthcheck there).
 */
import assert from "node:assert/strict";
import type { DummyNet } from "../network/dummy-net.js";
import type { RunInfo } from "../process/run-info.js";
import { readContainerlabText } from "./rules.js";
import { splitWords } from "./shlex.js";

interface NodeDoc {
  exec?: string[];
  healthcheck?: { test: string[]; "start-period"?: number; retries?: number; interval?: number };
  stages?: { configure?: { "wait-for"?: { node: string; stage: string }[] } };
}
interface Doc {
  topology: { nodes: Record<string, NodeDoc>; links?: { endpoints: [string, string]; mtu?: number }[] };
}

/** What one exec command did. */
interface ExecResult {
  node: string;
  command: string;
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** The nodes as namespaces, and what their exec commands did. */
export interface Containers {
  /** Each node's DummyNet (a namespace of `net`), by node name. */
  nodes: Map<string, DummyNet>;
  /** Every exec command's result, in the order they ran. */
  results: ExecResult[];
}

/** Runs `argv` in node `pid`'s network and mount namespaces (as docker exec would), never rejecting. */
async function inContainer(net: DummyNet, pid: number, argv: string[], timeout: number): Promise<RunInfo> {
  try {
    return await net.run(["nsenter", "-t", String(pid), "-m", "-n", "--", ...argv], { timeout });
  } catch (error) {
    const info = (error as { info?: RunInfo }).info;
    if (info) return info;
    throw error;
  }
}

/** Deploys containerlab `text` on namespaces of `net` (a root DummyNet). */
export async function deployOnNamespaces(net: DummyNet, text: string): Promise<Containers> {
  const doc = readContainerlabText(text) as Doc;
  const nodes = new Map<string, DummyNet>();
  const inits = new Map<string, number>();
  for (const name of Object.keys(doc.topology.nodes)) {
    const host = await net.netnsAdd(name);
    nodes.set(name, host);
    // The container's own /tmp: a tmpfs in a mount namespace that its init process holds.
    const init = await host.runAsync(
      [
        "unshare",
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-c",
        "mount -t tmpfs container-tmp /tmp && exec sleep infinity",
      ],
      { daemon: true },
    );
    inits.set(name, init.pid!);
  }
  for (const link of doc.topology.links ?? []) {
    const [[a, ifA], [b, ifB]] = link.endpoints.map((endpoint) => endpoint.split(":") as [string, string]);
    await net.run([
      "ip",
      "link",
      "add",
      ifA,
      "netns",
      nodes.get(a)!.namespace.scoped,
      "type",
      "veth",
      "peer",
      "name",
      ifB,
      "netns",
      nodes.get(b)!.namespace.scoped,
    ]);
    await nodes.get(a)!.run(["ip", "link", "set", "dev", ifA, "mtu", String(link.mtu ?? 9500), "up"]);
    await nodes.get(b)!.run(["ip", "link", "set", "dev", ifB, "mtu", String(link.mtu ?? 9500), "up"]);
  }
  // The init processes must have made their mount namespaces before anything runs in them.
  for (const [name, pid] of inits) {
    const deadline = Date.now() + 10_000;
    while ((await inContainer(net, pid, ["grep", "-q", " /tmp tmpfs ", "/proc/self/mounts"], 5000)).exitCode !== 0) {
      assert.ok(Date.now() < deadline, `the init of node ${name} did not mount its /tmp`);
      await new Promise((done) => setTimeout(done, 50));
    }
  }

  const results: ExecResult[] = [];
  const healthy = new Set<string>();
  const waitHealthy = async (name: string) => {
    if (healthy.has(name)) return;
    const check = doc.topology.nodes[name].healthcheck;
    assert.ok(check, `a node waits for ${name} to be healthy, but it has no healthcheck`);
    const seconds = (check["start-period"] ?? 0) + (check.retries ?? 3) * (check.interval ?? 30);
    const deadline = Date.now() + seconds * 1000;
    const argv = check.test[0] === "CMD-SHELL" ? ["sh", "-c", check.test[1]] : check.test.slice(1);
    while ((await inContainer(net, inits.get(name)!, argv, 10_000)).exitCode !== 0) {
      assert.ok(Date.now() < deadline, `node ${name} did not turn healthy within ${seconds} s`);
      await new Promise((done) => setTimeout(done, 200));
    }
    healthy.add(name);
  };
  const pending = Object.keys(doc.topology.nodes);
  const done = new Set<string>();
  while (pending.length > 0) {
    const waits = (name: string) => doc.topology.nodes[name].stages?.configure?.["wait-for"] ?? [];
    const index = pending.findIndex((name) => waits(name).every((wait) => done.has(wait.node)));
    assert.ok(index >= 0, `the nodes ${pending.join(", ")} wait for each other`);
    const name = pending.splice(index, 1)[0];
    for (const wait of waits(name)) {
      assert.equal(wait.stage, "healthy");
      await waitHealthy(wait.node);
    }
    for (const command of doc.topology.nodes[name].exec ?? []) {
      const info = await inContainer(net, inits.get(name)!, splitWords(command), 120_000);
      results.push({ node: name, command, exitCode: info.exitCode ?? -1, stdout: info.stdout, stderr: info.stderr });
    }
    done.add(name);
  }
  return { nodes, results };
}

/**
 * For each host, the addresses it reaches (a reply to any of the pings sent
 * every 0.2 s for up to `seconds`: a deadline, not a count, so that lost ARP
 * replies and echoes on a lossy link do not read as "not reached"), as
 * `from -> address` lines, sorted.
 */
export async function reachability(
  hosts: ReadonlyMap<string, DummyNet>,
  addresses: readonly string[],
  seconds = 1,
): Promise<string[]> {
  const ping = ["ping", "-c", "1", "-i", "0.2", "-w", String(seconds)];
  const lines = await Promise.all(
    [...hosts].flatMap(([name, host]) =>
      addresses.map(async (address) => {
        const reply = await host.run([...ping, address], { timeout: 10_000 + seconds * 1000 }).then(
          () => true,
          () => false,
        );
        return `${name} -> ${address}: ${reply ? "reached" : "not reached"}`;
      }),
    ),
  );
  return lines.sort();
}
