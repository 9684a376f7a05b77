/** `dummynet ls`: networks and leftover d-<uid>-* objects on this machine, by owner, alive or gone. */
import type { NetworkRecord } from "../../lifecycle/owners.js";
import type { Owner, SkippedStep } from "../../lifecycle/reaper.js";
import { globalsOf, print, printJson, type GlobalOptions } from "../command-io.js";
import { dim, EXIT, green, red, table, yellow } from "../output.js";

export function ownerSummary(owner: Owner): string {
  const counts = new Map<string, number>();
  for (const object of owner.objects) counts.set(object.kind, (counts.get(object.kind) ?? 0) + 1);
  const words: Record<string, string> = {
    netns: "namespace",
    link: "link",
    iptables: "iptables rule",
    cgroup: "cgroup",
  };
  return [...counts].map(([kind, n]) => `${n} ${words[kind] ?? kind}${n === 1 ? "" : "s"}`).join(", ") || "no objects";
}

/** Owners (by their records and the objects found), each with the network `up` recorded, if it is one, and the listing steps left out. */
export async function owners(options: GlobalOptions): Promise<{
  all: { owner: Owner; network: NetworkRecord | undefined }[];
  skipped: SkippedStep[];
  where: string;
}> {
  const { surveyOwners } = await import("../../lifecycle/reaper.js");
  const survey = await surveyOwners(globalsOf(options));
  // Where was looked, for "nothing" to say no more than was seen.
  const where = survey.machineListed ? "on this machine" : "in this user's rootless holders";
  return {
    all: survey.owners.map((owner) => ({ owner, network: owner.record?.network })),
    skipped: survey.skipped,
    where,
  };
}

/** A listing step left out (e.g. no iptables installed), said once, beside the result. */
export const skippedNote = (skipped: readonly SkippedStep[]) =>
  skipped.map((step) => dim(`not listed: ${step.step}: ${step.why}`)).join("\n");

export async function ls(options: { json?: boolean } & GlobalOptions): Promise<number> {
  const { all, skipped, where } = await owners(options);
  if (options.json) {
    printJson({
      owners: all.map(({ owner, network }) => ({
        uid: owner.uid,
        alive: owner.state === "alive",
        kept: owner.record?.kept ?? null,
        pid: owner.record?.pid ?? null,
        network: network ?? null,
        objects: owner.objects,
        ...(owner.holder ? { rootlessHolder: owner.holder } : {}),
      })),
      skipped,
      where,
    });
    return EXIT.ok;
  }
  if (skipped.length > 0) print(skippedNote(skipped));
  if (all.length === 0) {
    print(`no networks and no leftover objects ${where}`);
    return EXIT.ok;
  }
  const rows = all.map(({ owner, network }) => [
    String(owner.uid),
    String(owner.record?.pid ?? "-"),
    owner.record?.kept ? yellow("kept") : owner.state === "alive" ? green("alive") : red("gone"),
    network?.name ?? "-",
    network?.file ?? (owner.record?.command.slice(0, 60) || "-"),
    ownerSummary(owner),
  ]);
  print(table(["UID", "PID", "OWNER", "NETWORK", "FILE / COMMAND", "OBJECTS"], rows));
  if (all.some(({ owner }) => owner.state === "dead"))
    print(dim("\n`dummynet cleanup` removes the objects of owners that are gone"));
  return EXIT.ok;
}
