/**
 * Evidence for one test of the fixtures (useNetwork, useTopology, the vitest
 * `net` and `topology`): records the test's hosts from their start
 * (recorder.ts); at the test's end, when it failed (or always, on request),
 * writes the evidence folder before cleanup, and with DUMMYNET_KEEP=on-failure
 * keeps the failed test's network and its owner record for the `dummynet`
 * command. Nothing here ever fails the test: what could not be collected is
 * written down in the folder instead.
 */
import { InvalidArgumentError } from "../errors.js";
import { keepOwner } from "../lifecycle/owners.js";
import { parseScoped } from "../names/scoped.js";
import { type DummyNet, networkStateOf } from "../network/dummy-net.js";
import { watchNamespaces } from "../network/namespace-watchers.js";
import type { RunInfo } from "../process/run-info.js";
import { isRootless } from "../rootless/privilege.js";
import { DEFAULT_EVIDENCE_DIR, makeEvidenceFolder, safeName, writeEvidence } from "./evidence-folder.js";
import { NetworkRecorder } from "./recorder.js";
import type { Snapshot } from "./snapshot.js";
import { requirePerl } from "./packet-engine.js";

/** When a fixture writes evidence: when its test fails (the default), after every test, or never. */
export type EvidenceMode = "on-failure" | "always" | "never";

const MODES: readonly EvidenceMode[] = ["on-failure", "always", "never"];

/** The mode a fixture uses: its option, else DUMMYNET_EVIDENCE, else "on-failure". */
function evidenceMode(option: unknown): EvidenceMode {
  const fromEnv = process.env["DUMMYNET_EVIDENCE"];
  const value = option ?? (fromEnv === undefined || fromEnv === "" ? "on-failure" : fromEnv);
  if (!MODES.includes(value as EvidenceMode)) {
    throw new InvalidArgumentError(
      option === undefined ? "DUMMYNET_EVIDENCE" : "evidence",
      value,
      `must be one of ${MODES.map((mode) => `"${mode}"`).join(", ")}`,
    );
  }
  return value as EvidenceMode;
}

/** How a test ended, as its runner tells it. */
export interface TestOutcome {
  /** The test's name (with its suites', when the runner gives them). */
  name: string;
  /** True when it failed; undefined when the runner cannot tell. */
  failed: boolean | undefined;
  /** Its error's message, for evidence.json. */
  failure?: string | undefined;
}

/** What the evidence is read from: the test's network (a DummyNet, or a Lab's). */
export interface EvidenceSubject {
  /** The owning DummyNet. */
  net: DummyNet;
  snapshot(): Promise<Snapshot>;
  /** The programs of the network. */
  processes(): readonly RunInfo[];
  /** The fault history, when the network keeps one. */
  faultHistory?(): readonly unknown[];
}

/** What finish() did: where the evidence went, and whether the network was kept. */
export interface EvidenceReport {
  folder?: string;
  /** The kept network's name for `dummynet` (ls, inspect, exec, probe, down). */
  kept?: string;
  /** Why the network was not kept though asked to. */
  notKept?: string;
}

/** Live recorders, killed at once if the process exits before their tests end. */
const live = new Set<NetworkRecorder>();
process.on("exit", () => {
  for (const recorder of live) recorder.stopSync();
});

export class TestEvidence {
  readonly mode: EvidenceMode;
  readonly #recorder: NetworkRecorder | undefined;
  readonly #unwatch: (() => void) | undefined;
  /** Why nothing is recorded (perl, which the capture hub runs, missing), for the folder. */
  readonly #notRecording: string | undefined;
  #finished = false;

  /** Starts recording the namespaces owner `uid` makes from now on (unless the mode is "never"). */
  constructor(uid: number, option: unknown) {
    this.mode = evidenceMode(option);
    if (this.mode === "never") return;
    try {
      requirePerl();
    } catch (error) {
      this.#notRecording = `packet captures: ${(error as Error).message}`;
      return;
    }
    const recorder = new NetworkRecorder();
    this.#recorder = recorder;
    live.add(recorder);
    this.#unwatch = watchNamespaces(uid, recorder);
  }

  /**
   * At the test's end, before cleanup: writes the evidence folder when asked to, and keeps the network
   * when DUMMYNET_KEEP=on-failure and the test failed. Never throws.
   */
  async finish(outcome: TestOutcome, subject: EvidenceSubject | undefined): Promise<EvidenceReport> {
    if (this.#finished) return {};
    this.#finished = true;
    this.#unwatch?.();
    const write = this.mode === "always" || (this.mode === "on-failure" && outcome.failed === true);
    const report: EvidenceReport = {};
    const keep = outcome.failed === true && process.env["DUMMYNET_KEEP"] === "on-failure" && subject !== undefined;
    if (!write && !keep) {
      await this.#stopRecorder(true);
      return report;
    }
    const snapshot = subject
      ? await subject.snapshot().catch((error: unknown) => ({ error: (error as Error).message }))
      : { error: "the network was never built" };
    await this.#stopRecorder(!write);
    if (write) {
      try {
        const root = process.env["DUMMYNET_EVIDENCE_DIR"] || DEFAULT_EVIDENCE_DIR;
        report.folder = makeEvidenceFolder(root, outcome.name);
        writeEvidence(report.folder, {
          testName: outcome.name,
          failure: outcome.failure,
          snapshot,
          recordings: this.#recorder?.recordings() ?? [],
          processes: subject?.processes() ?? [],
          faultHistory: subject?.faultHistory?.(),
          problems: this.#notRecording ? [this.#notRecording] : [],
        });
      } catch (error) {
        report.folder = undefined;
        report.notKept = undefined;
        // The folder itself could not be made: say so where the failure is read.
        return { ...report, notKept: `evidence could not be written: ${(error as Error).message}` };
      }
    }
    if (keep) Object.assign(report, await keepNetwork(subject, outcome, snapshot, report.folder));
    return report;
  }

  /** The test ended without a network to look at (its build failed): stop recording, write nothing. */
  async dispose(): Promise<void> {
    this.#finished = true;
    this.#unwatch?.();
    await this.#stopRecorder(true);
  }

  async #stopRecorder(discard: boolean): Promise<void> {
    const recorder = this.#recorder;
    if (!recorder) return;
    await recorder.stop({ discard }).catch(() => undefined);
    live.delete(recorder);
  }
}

/** Leaves the network on the system with an owner record that `dummynet` finds; returns its name or why not. */
async function keepNetwork(
  subject: EvidenceSubject,
  outcome: TestOutcome,
  snapshot: Snapshot | { error: string },
  folder: string | undefined,
): Promise<EvidenceReport> {
  const net = subject.net;
  if (isRootless(net.shell.privilege))
    return {
      notKept:
        "DUMMYNET_KEEP: a rootless network lives in this process's holder and ends with it; run as root to keep one",
    };
  const name = `${safeName(outcome.name)}-${net.uid}`;
  const hosts: Record<string, string> = {};
  const interfaces: Record<string, string> = {};
  if ("hosts" in snapshot) {
    for (const host of snapshot.hosts) {
      hosts[host.name] = host.namespace;
      for (const link of host.links) {
        if (link.name !== "lo") interfaces[`${host.name}:${parseScoped(link.name)?.name ?? link.name}`] = link.name;
      }
    }
  }
  try {
    keepOwner(
      net.uid,
      { name, file: folder ?? "", hosts, interfaces },
      { test: outcome.name, at: new Date().toISOString(), ...(folder ? { evidence: folder } : {}) },
    );
    networkStateOf(net).keep();
    // The programs are stopped (their output is in the evidence): they are this process's children, and the
    // test run could not end while they run.
    await net.processMonitor.stop({ validateState: false }).catch(() => undefined);
    return { kept: name };
  } catch (error) {
    return { notKept: `DUMMYNET_KEEP: ${(error as Error).message}` };
  }
}
