/**
 * A failed test's evidence folder: `dummynet-evidence/<test name>/` (or under
 * DUMMYNET_EVIDENCE_DIR) with one pcap per link, snapshot.json, each
 * program's stdout and stderr, the fault history, and evidence.json saying
 * what is there and what could not be collected. Folder and file names are
 * made safe (no separators, bounded length) and unique.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseScoped } from "../names/scoped.js";
import type { RunInfo } from "../process/run-info.js";
import { LINKTYPE_LINUX_SLL, pcapHeader, sll2ToSll } from "./pcap.js";
import { EVIDENCE_SNAPLEN, type HostRecording } from "./recorder.js";
import type { Snapshot } from "./snapshot.js";
import { snapshotProcesses } from "./snapshot.js";

/** The folder evidence goes under when DUMMYNET_EVIDENCE_DIR is not set (relative to the working directory). */
export const DEFAULT_EVIDENCE_DIR = "dummynet-evidence";
/** Longest folder or file name made from a test's or program's name. */
const NAME_LENGTH = 80;

/** A name made safe for one path component: letters, digits, `.`, `_`, `-`; no leading dot; bounded. */
export function safeName(name: string, fallback = "test"): string {
  const safe = name
    .replace(/[^A-Za-z0-9._-]+/g, "-")
    .replace(/^[.-]+|-+$/g, "")
    .slice(0, NAME_LENGTH)
    .replace(/[.-]+$/, "");
  return safe === "" ? fallback : safe;
}

/** Makes `<root>/<safe test name>` (with -2, -3, ... when that exists already) and returns its absolute path. */
export function makeEvidenceFolder(root: string, testName: string): string {
  mkdirSync(root, { recursive: true });
  const base = safeName(testName);
  for (let n = 1; ; n++) {
    const folder = resolve(join(root, n === 1 ? base : `${base}-${n}`));
    try {
      mkdirSync(folder);
      return folder;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST" || n > 10_000) throw error;
    }
  }
}

/** What goes into the folder. */
export interface EvidenceContents {
  testName: string;
  /** The test's failure, as its message says it (undefined for `evidence: "always"` on a pass). */
  failure: string | undefined;
  /** The snapshot at the failure, or why there is none. */
  snapshot: Snapshot | { error: string };
  recordings: readonly HostRecording[];
  processes: readonly RunInfo[];
  /** The fault history, if the network keeps one. */
  faultHistory?: readonly unknown[] | undefined;
  /** Notes from the fixture (a capture that could not stop, say). */
  problems?: readonly string[];
}

/** Host name and interface name of each interface index, per namespace, from the snapshot. */
function interfaceNames(
  snapshot: EvidenceContents["snapshot"],
): Map<string, { host: string; links: Map<number, string> }> {
  const names = new Map<string, { host: string; links: Map<number, string> }>();
  if (!("hosts" in snapshot)) return names;
  for (const host of snapshot.hosts) {
    names.set(host.namespace, {
      host: host.name,
      links: new Map(host.links.map((link) => [link.index, parseScoped(link.name)?.name ?? link.name])),
    });
  }
  return names;
}

/** Writes the evidence into `folder`; every part that fails is noted in evidence.json, never thrown. */
export function writeEvidence(folder: string, contents: EvidenceContents): void {
  const problems = [...(contents.problems ?? [])];
  const files: string[] = [];
  const write = (name: string, data: string | Buffer | readonly Buffer[]) => {
    try {
      writeFileSync(join(folder, name), typeof data === "string" || Buffer.isBuffer(data) ? data : Buffer.concat(data));
      files.push(name);
    } catch (error) {
      problems.push(`could not write ${join(folder, name)}: ${(error as Error).message}`);
    }
  };
  write("snapshot.json", JSON.stringify(contents.snapshot, null, 2) + "\n");
  if ("error" in contents.snapshot) problems.push(`snapshot: ${contents.snapshot.error}`);

  // One pcap per link: each host's ring split by the interface index in every record.
  const names = interfaceNames(contents.snapshot);
  const captures: { file: string; packets: number }[] = [];
  for (const recording of contents.recordings) {
    const known = names.get(recording.namespace);
    const host = known?.host ?? parseScoped(recording.namespace)?.name ?? recording.namespace;
    if (recording.problem) problems.push(`capture of host ${host}: ${recording.problem}`);
    if (recording.evicted > 0)
      problems.push(
        `capture of host ${host}: its ring kept the newest packets; ${recording.evicted} older ones were let go`,
      );
    const byLink = new Map<string, Buffer[]>();
    for (const record of recording.records) {
      const index = recording.reader?.interfaceIndex(record);
      const link = index === undefined ? "unknown" : (known?.links.get(index) ?? `ifindex${index}`);
      let list = byLink.get(link);
      if (!list) byLink.set(link, (list = []));
      list.push(record);
    }
    for (const [link, records] of byLink) {
      const file = `${safeName(host, "host")}-${safeName(link, "link")}.pcap`;
      write(file, [pcapHeader(LINKTYPE_LINUX_SLL, EVIDENCE_SNAPLEN), ...records.map(sll2ToSll)]);
      captures.push({ file, packets: records.length });
    }
  }

  // Each program's whole output, beside the snapshot's last lines.
  const programs = snapshotProcesses(contents.processes, new Map([...names].map(([ns, { host }]) => [ns, host])));
  const outputs = programs.map((program, i) => {
    const base = `program-${i + 1}-${safeName(program.host ?? "machine", "host")}-${safeName(program.command.split(" ")[0]?.split("/").at(-1) ?? "", "program")}`;
    write(`${base}.stdout.txt`, contents.processes[i].stdout);
    write(`${base}.stderr.txt`, contents.processes[i].stderr);
    return { ...program, stdout: `${base}.stdout.txt`, stderr: `${base}.stderr.txt` };
  });
  if (contents.faultHistory) write("faults.json", JSON.stringify(contents.faultHistory, null, 2) + "\n");

  const index = {
    test: contents.testName,
    failure: contents.failure ?? null,
    writtenAt: new Date().toISOString(),
    captures,
    programs: outputs,
    files: [...files, "evidence.json"],
    notCollected: problems,
    howToOpen: "tcpdump -nn -r <file>.pcap, or open it in Wireshark; snapshot.json is the network at the failure",
  };
  writeFileSync(join(folder, "evidence.json"), JSON.stringify(index, null, 2) + "\n");
}
