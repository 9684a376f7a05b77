/**
 * What every test runner adapter shares: a network (or a built topology)
 * per test, owned by a uid the test holds until it has checked that nothing
 * of that uid is left; dead owners' leftovers reaped first (once per
 * process). The node:test and vitest adapters only hook `close` into their
 * runner's end-of-test.
 */
import { InvalidArgumentError } from "../errors.js";
import { claimDefaultUid, claimUid, describeHolder, releaseUid } from "../lifecycle/owners.js";
import { DummyNet, type DummyNetOptions, networkStateOf } from "../network/dummy-net.js";
import { buildTopology, type BuildTopologyOptions, type Lab } from "../topology/lab.js";
import type { TopologySource } from "../topology/load.js";
import type { Topology } from "../topology/model.js";
import { leftoverError, leftoversListed } from "./leftovers.js";
import {
  type EvidenceMode,
  type EvidenceReport,
  type EvidenceSubject,
  TestEvidence,
  type TestOutcome,
} from "../evidence/test-evidence.js";
import { startCaptureHub } from "../evidence/capture-launcher.js";
import { defaultPrivilege, isRoot } from "../system/privilege.js";
import { startWorkerHelper } from "../system/worker-launcher.js";
import { yaml } from "../topology/yaml.js";

// A test file that loads the fixtures builds networks: their ip workers' helper starts now, not in the first test;
// so does, as root, the capture hub that records their hosts (evidence is on unless turned off for the run). The
// YAML library, which the library itself loads on first use, loads now too: useTopology's topologies are YAML text.
startWorkerHelper();
yaml();
if (isRoot() && process.env["DUMMYNET_EVIDENCE"] !== "never" && process.env["DUMMYNET_ROOTLESS"] !== "1")
  startCaptureHub(defaultPrivilege());

/** What the fixtures add to the network's options. */
export interface EvidenceOptions {
  /**
   * When to write the evidence folder (a pcap per link, snapshot.json, the programs' output, the fault
   * history; docs/evidence.md): when the test fails, after every test, or never.
   * @default DUMMYNET_EVIDENCE, else "on-failure"
   */
  evidence?: EvidenceMode;
}

/** Options of useNetwork and the vitest `net` fixture: DummyNet's, except what the harness decides. */
export type NetworkOptions = Omit<DummyNetOptions, "reapDeadOwners"> & EvidenceOptions;

/** Options of useTopology and the vitest `topology` fixture. */
export type TopologyOptions = Omit<BuildTopologyOptions, "reapDeadOwners"> & EvidenceOptions;

interface Held<T> {
  value: T;
  /**
   * At the test's end: evidence first (when it failed, or always), then, unless the network is kept,
   * cleanup and the leftover check (the uid is held until then). Resolves with where the evidence went.
   */
  close(outcome?: TestOutcome): Promise<EvidenceReport>;
}

/** The test's outcome when the runner does not say: not failed, so only "always" writes evidence. */
const UNKNOWN: TestOutcome = { name: "test", failed: undefined };

/** Evidence, then cleanup and the leftover check unless the network was kept; a cleanup error names the folder too. */
async function finish(
  uid: number,
  evidence: TestEvidence,
  outcome: TestOutcome,
  subject: EvidenceSubject,
  cleanup: () => Promise<void>,
): Promise<EvidenceReport> {
  const report = await evidence.finish(outcome, subject);
  if (report.kept !== undefined) {
    releaseUid(uid);
    return report;
  }
  try {
    await closeAndCheck(uid, cleanup, subject.net);
  } catch (error) {
    if (report.folder !== undefined && error instanceof Error) error.message += `\nevidence: ${report.folder}`;
    throw error;
  }
  return report;
}

/** What the evidence reads from a DummyNet. */
function networkSubject(net: DummyNet): EvidenceSubject {
  return {
    net,
    snapshot: () => net.snapshot(),
    processes: () => net.processMonitor.processes,
    faultHistory: () => net.faultHistory,
  };
}

/** What the evidence reads from a Lab: host names from the topology. */
function labSubject(lab: Lab): EvidenceSubject {
  return {
    net: lab.net,
    snapshot: () => lab.snapshot(),
    processes: () => lab.net.processMonitor.processes,
    faultHistory: () => lab.faultHistory,
  };
}

/** The line a failed test's message gets: where its evidence is, whether its network was kept. */
export function evidenceNote(report: EvidenceReport): string | undefined {
  const lines = [
    report.folder !== undefined ? `dummynet evidence: ${report.folder}` : undefined,
    report.kept !== undefined
      ? `dummynet kept the network as "${report.kept}" (its programs stopped): dummynet inspect ${report.kept}; dummynet down ${report.kept} removes it`
      : undefined,
    report.notKept,
  ].filter((line): line is string => line !== undefined);
  return lines.length > 0 ? lines.join("\n") : undefined;
}

/**
 * Takes a uid for one test, so that nobody else can get it before its
 * leftovers are checked (cleanup alone gives the uid back).
 */
function holdUid(uid: number | undefined): number {
  if (uid === undefined) return claimDefaultUid();
  const claim = claimUid(uid, { share: true });
  if (!claim.claimed)
    throw new InvalidArgumentError(
      "uid",
      uid,
      `is held by a live owner: ${describeHolder(claim.holder)}. Omit uid to get a free one`,
    );
  return uid;
}

/**
 * Cleanup, then the check that nothing of `uid` is left. Given the network, iptables is listed only if it made a
 * host rule (every rule of ours is made through it; listing costs two processes per test).
 */
async function closeAndCheck(uid: number, cleanup: () => Promise<void>, net?: DummyNet): Promise<void> {
  let failed: { error: unknown } | undefined;
  try {
    await cleanup();
  } catch (error) {
    failed = { error };
  }
  try {
    const skipIptables =
      net && !networkStateOf(net).madeHostIptablesRule
        ? "the test's network made no iptables rule in the host namespace"
        : undefined;
    const left = await leftoversListed(uid, { skipIptables });
    if (left.length > 0) {
      const leak = leftoverError(uid, left);
      throw failed === undefined
        ? leak
        : new AggregateError(
            [leak, failed.error],
            `${leak.message}\ncleanup failed too: ${(failed.error as Error).message}`,
          );
    }
  } finally {
    releaseUid(uid);
  }
  if (failed) throw failed.error;
}

export function openNetwork(options: NetworkOptions = {}): Held<DummyNet> {
  const { evidence: evidenceOption, ...networkOptions } = options;
  const uid = holdUid(options.uid);
  let net: DummyNet;
  let evidence: TestEvidence;
  try {
    evidence = new TestEvidence(uid, evidenceOption);
    net = new DummyNet({ ...networkOptions, uid, reapDeadOwners: "once" });
  } catch (error) {
    releaseUid(uid);
    throw error;
  }
  return {
    value: net,
    close: (outcome = UNKNOWN) => finish(uid, evidence, outcome, networkSubject(net), () => net.cleanup()),
  };
}

/** Builds a topology for one test; when the build fails, its uid is checked and given back before the error is thrown. */
export async function openTopology(
  source: TopologySource | Topology,
  options: TopologyOptions = {},
): Promise<Held<Lab>> {
  const { evidence: evidenceOption, ...buildOptions } = options;
  const uid = holdUid(options.uid);
  let evidence: TestEvidence;
  try {
    evidence = new TestEvidence(uid, evidenceOption);
  } catch (error) {
    releaseUid(uid);
    throw error;
  }
  let lab: Lab;
  try {
    lab = await buildTopology(source, { ...buildOptions, uid, reapDeadOwners: "once" });
  } catch (error) {
    await evidence.dispose();
    // buildTopology removed what it made; make sure, then give the uid back.
    await closeAndCheck(uid, () => Promise.resolve()).catch((leak: unknown) => {
      throw new AggregateError([error, leak], `${(error as Error).message}\n${(leak as Error).message}`);
    });
    throw error;
  }
  return {
    value: lab,
    close: (outcome = UNKNOWN) => finish(uid, evidence, outcome, labSubject(lab), () => lab.cleanup()),
  };
}
