/**
 * node:test adapters: a network or a built topology per test, removed in
 * `t.after`, and the test fails, naming each object, when anything of its
 * uid is still on the system after that.
 */
import type { TestContext } from "node:test";
import type { DummyNet } from "../network/dummy-net.js";
import type { Lab } from "../topology/lab.js";
import type { TopologySource } from "../topology/load.js";
import type { Topology } from "../topology/model.js";
import { openNetwork, openTopology, type NetworkOptions, type TopologyOptions } from "./harness.js";

/** What the adapters need of a test context: node:test's `t.after(fn)`. */
export interface AfterContext {
  /** Registers `fn` to run when the test ends. */
  after(fn: () => unknown): void;
}

/**
 * A DummyNet for this test (its own uid: tests running at once never
 * collide). At the test's end it is cleaned up, then the test fails if any
 * object of its uid is left. Dead owners' leftovers are reaped before its
 * first change.
 *
 * @throws InvalidArgumentError for a bad option (a `uid` a live owner holds, say).
 * @example
 * ```ts
 * test("a namespace", async (t) => {
 *   const net = useNetwork(t); // cleaned up and checked for leftovers when the test ends
 *   await net.netnsAdd("a");
 * });
 * ```
 */
export function useNetwork(t: TestContext | AfterContext, options: NetworkOptions = {}): DummyNet {
  const held = openNetwork(options);
  t.after(() => held.close());
  return held.value;
}

/**
 * Builds a topology (a path, `{ text }`, a plain object or a loaded topology)
 * for this test, removed and checked the same way as useNetwork's network.
 *
 * @throws TopologyError for a topology that does not validate (nothing is built).
 * @throws SystemCommandError (or another DummyNetError) when a build step fails, after removing what was built.
 * @example
 * ```ts
 * test("a star", async (t) => {
 *   const lab = await useTopology(t, "examples/star.yaml");
 *   await lab.host("h1").run(["ping", "-c", "1", lab.address("h2")]);
 * });
 * ```
 */
export async function useTopology(
  t: TestContext | AfterContext,
  source: TopologySource | Topology,
  options: TopologyOptions = {},
): Promise<Lab> {
  const held = await openTopology(source, options);
  t.after(() => held.close());
  return held.value;
}
