/** `dummynet cleanup [UID...]`: remove the objects of owners that are gone (or forced). */
import { globalsOf, print, printJson, type GlobalOptions } from "../command-io.js";
import { dim, EXIT, green, red } from "../output.js";
import { owners, ownerSummary, skippedNote } from "./ls.js";

export async function cleanup(
  uids: number[],
  options: { force?: number[]; json?: boolean; dryRun?: boolean } & GlobalOptions,
): Promise<number> {
  const forced = new Set(options.force ?? []);
  const survey = await owners(options);
  const all = survey.all.filter(({ owner }) => uids.length === 0 || uids.includes(owner.uid));
  const targets = all.filter(({ owner }) => owner.state === "dead" || forced.has(owner.uid));
  const spared = all.filter(({ owner }) => owner.state === "alive" && !forced.has(owner.uid));
  const { reapDeadOwners } = await import("../../lifecycle/reaper.js");
  let failures: Awaited<ReturnType<typeof reapDeadOwners>>["failures"] = [];
  if (!options.dryRun && targets.length > 0) {
    // The reaper removes the owners' records too, with the networks in them.
    const result = await reapDeadOwners({
      force: [...forced],
      only: targets.map(({ owner }) => owner.uid),
      ...globalsOf(options),
    });
    failures = result.failures;
  }
  if (options.json) {
    printJson({
      dryRun: Boolean(options.dryRun),
      removed: targets.map(({ owner, network }) => ({
        uid: owner.uid,
        network: network?.name ?? null,
        objects: owner.objects,
      })),
      spared: spared.map(({ owner, network }) => ({ uid: owner.uid, network: network?.name ?? null })),
      failures,
      skipped: survey.skipped,
      where: survey.where,
    });
  } else {
    if (survey.skipped.length > 0) print(skippedNote(survey.skipped));
    for (const { owner, network } of targets) {
      print(
        `${options.dryRun ? "would remove" : green("removed")} uid ${owner.uid}${network ? ` (network ${network.name})` : ""}: ${ownerSummary(owner)}`,
      );
      for (const object of owner.objects) print(dim(`  ${object.kind} ${object.name}`));
    }
    for (const failure of failures)
      print(`${red("failed")}: uid ${failure.uid}: ${failure.object.kind} ${failure.object.name}: ${failure.error}`);
    for (const { owner } of spared)
      print(
        dim(
          `kept uid ${owner.uid}: its owner (pid ${owner.record?.pid ?? owner.uid}) is alive; --force ${owner.uid} removes it anyway`,
        ),
      );
    if (targets.length === 0 && spared.length === 0) print(`nothing to clean up ${survey.where}`);
  }
  return failures.length > 0 ? EXIT.failure : EXIT.ok;
}
