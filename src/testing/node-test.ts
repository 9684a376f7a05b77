/**
 * node:test adapters: a network or a built topology per test, removed in
 * `t.after`, and the test fails, naming each object, when anything of its
 * uid is still on the system after that. A failed test first gets its
 * evidence folder (docs/evidence.md), named in its message.
 */
import type { TestContext } from "node:test";
import type { DummyNet } from "../network/dummy-net.js";
import type { Lab } from "../topology/lab.js";
import type { TopologySource } from "../topology/load.js";
import type { Topology } from "../topology/model.js";
import type { EvidenceReport, TestOutcome } from "../evidence/test-evidence.js";
import { evidenceNote, openNetwork, openTopology, type NetworkOptions, type TopologyOptions } from "./harness.js";

/** What the adapters need of a test context: node:test's `t.after(fn)`; the rest, when there, for evidence. */
export interface AfterContext {
  /** Registers `fn` to run when the test ends. */
  after(fn: () => unknown): void;
  /** The test's name (names its evidence folder). */
  readonly name?: string;
  /** Whether the test passed, read when it has ended (node:test from Node 20.12). */
  readonly passed?: boolean;
  /** The test's failure, read when it has ended. */
  readonly error?: unknown;
  /** Adds a line to the test's report. */
  diagnostic?(message: string): void;
}

/** How the test ended, as node:test tells it in `t.after`. */
function outcomeOf(t: TestContext | AfterContext): TestOutcome {
  const context = t as AfterContext;
  const error = context.error as (Error & { cause?: unknown }) | undefined;
  const cause = error?.cause instanceof Error ? error.cause : error;
  return {
    name: context.name ?? "test",
    failed: context.passed === undefined ? undefined : !context.passed,
    failure: cause instanceof Error ? cause.message : undefined,
  };
}

/** Closes `held` at the test's end; a failed test's message then names its evidence folder. */
function closeAtEnd(t: TestContext | AfterContext, close: (outcome: TestOutcome) => Promise<EvidenceReport>): void {
  t.after(async () => {
    const outcome = outcomeOf(t);
    const note = evidenceNote(await close(outcome));
    if (note === undefined) return;
    const context = t as AfterContext;
    context.diagnostic?.(note);
    // node:test reports the error's cause (the test's own error) when there is one: the note goes there.
    const error = context.error as (Error & { cause?: unknown }) | undefined;
    const target = error?.cause instanceof Error ? error.cause : error;
    if (outcome.failed === true && target instanceof Error) target.message += `\n${note}`;
  });
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
  closeAtEnd(t, (outcome) => held.close(outcome));
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
  closeAtEnd(t, (outcome) => held.close(outcome));
  return held.value;
}
