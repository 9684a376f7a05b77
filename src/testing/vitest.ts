/**
 * `dummynet/vitest`: vitest's `test` with two fixtures. `net` is a DummyNet
 * of the test's own; `topology(source)` builds a topology. Both are removed
 * when the test ends, and the test fails, naming each object, when anything
 * of their uid is left. vitest is an optional peer dependency: only this
 * entry point imports it.
 */
import { test as base } from "vitest";
import type { DummyNet } from "../network/dummy-net.js";
import type { Lab } from "../topology/lab.js";
import type { TopologySource } from "../topology/load.js";
import type { Topology } from "../topology/model.js";
import type { EvidenceReport, TestOutcome } from "../evidence/test-evidence.js";
import { evidenceNote, openNetwork, openTopology, type TopologyOptions } from "./harness.js";

/** What the fixtures read of vitest's task: its name, its suites' names and its result. */
interface TaskView {
  name: string;
  /** The enclosing suite; the file's own (which has a `filepath`) is not a name. */
  suite?: { name: string; filepath?: string; suite?: TaskView["suite"] } | undefined;
  result?: { state?: string; errors?: { message?: string }[] } | undefined;
}

/** How the test ended: vitest has settled the result before fixtures are torn down. */
function outcomeOf(task: TaskView): TestOutcome {
  const names = [task.name];
  for (let suite = task.suite; suite; suite = suite.suite) if (suite.name && !suite.filepath) names.unshift(suite.name);
  return {
    name: names.join(" > "),
    failed: task.result?.state === "fail",
    failure: task.result?.errors?.[0]?.message,
  };
}

/** A failed test's errors name its evidence folder (and a kept network). */
function annotate(task: TaskView, report: EvidenceReport): void {
  const note = evidenceNote(report);
  if (note === undefined || task.result?.state !== "fail") return;
  for (const error of task.result.errors ?? []) error.message = `${error.message ?? ""}\n${note}`;
}

/** The fixtures `test` from `dummynet/vitest` gives each test. */
export interface DummyNetFixtures {
  /** A DummyNet of this test's own. */
  net: DummyNet;
  /** Builds a topology for this test; every one built is removed at its end. */
  topology: (source: TopologySource | Topology, options?: TopologyOptions) => Promise<Lab>;
}

/**
 * vitest's `test` with the `net` and `topology` fixtures: both are removed when the test ends,
 * and the test fails, naming each object, when anything of theirs is left.
 *
 * @throws AssertionError (failing the test) naming each object of the test's uid left after its cleanup;
 * AggregateError when a cleanup failed too.
 * @example
 * ```ts
 * import { test } from "dummynet/vitest";
 *
 * test("a packet crosses the link", async ({ net }) => {
 *   const [a, b] = await Promise.all([net.netnsAdd("a"), net.netnsAdd("b")]);
 *   await net.linkVethAdd("eth0", "eth0", { p1Namespace: a, p2Namespace: b });
 *   // ...
 * });
 *
 * test("a topology", async ({ topology }) => {
 *   const lab = await topology("examples/lossy-pair.yaml");
 *   await lab.host("a").run(["ping", "-c", "1", lab.address("b")]);
 * });
 * ```
 */
export const test = base.extend<DummyNetFixtures>({
  net: async ({ task }, use) => {
    const held = openNetwork();
    try {
      await use(held.value);
    } finally {
      annotate(task, await held.close(outcomeOf(task)));
    }
  },

  topology: async ({ task }, use) => {
    const closers: ((outcome: TestOutcome) => Promise<EvidenceReport>)[] = [];
    try {
      await use(async (source, options) => {
        const held = await openTopology(source, options);
        closers.push((outcome) => held.close(outcome));
        return held.value;
      });
    } finally {
      const outcome = outcomeOf(task);
      const outcomes = await Promise.allSettled(
        closers.reverse().map(async (close) => {
          annotate(task, await close(outcome));
        }),
      );
      const failures = outcomes
        .filter((outcome): outcome is PromiseRejectedResult => outcome.status === "rejected")
        .map((outcome) => outcome.reason as Error);
      if (failures.length === 1) throw failures[0];
      if (failures.length > 1)
        throw new AggregateError(failures, failures.map((failure) => failure.message).join("\n"));
    }
  },
});

export { skipUnless } from "./capabilities.js";
export { assertNothingLeft, leftovers } from "./leftovers.js";
export { waitForPort, waitForLine } from "../topology/readiness.js";
