/**
 * Reads many namespaces with few processes, for snapshot(): one `sh` runs
 * `ip -n NS` (or `tc -n NS`) for each of its namespaces in turn, a marker line
 * before each one's output. Starting a program from Node costs far more than
 * from a small shell (Node forks its whole process, on its main thread), so
 * a snapshot of N hosts starts LANES processes instead of N (docs/evidence.md).
 */
import type { Shell } from "../shell/shell.js";

/** Shells run side by side: one per core of the 2-core machines CI gives (docs/evidence.md has the figures). */
const LANES = 2;

/** What each namespace gets: $1 says which read, the other arguments are the namespaces. */
const SCRIPT = `what=$1; shift
for ns do
  if [ "$what" = ip ]; then out=$(printf 'addr show\\nroute show table all\\n' | ip -n "$ns" -j -d -batch - 2>&1)
  else out=$(tc -n "$ns" -j -s qdisc show 2>&1); fi
  status=$?
  printf '\\n@@%s %s\\n%s\\n' "$status" "$ns" "$out"
done`;

/** One namespace's read: its output, or why it failed. */
export type NamespaceRead = { stdout: string } | { error: string };

/**
 * `ip -j -d` (links with addresses, then the routes of every table) or `tc -j -s qdisc show` of each namespace,
 * read through `shell` (its privilege reaches every namespace). Never rejects: a failure is that namespace's error.
 */
export async function readNamespaces(
  shell: Shell,
  what: "ip" | "tc",
  namespaces: readonly string[],
): Promise<Map<string, NamespaceRead>> {
  const reads = new Map<string, NamespaceRead>();
  // The README's sudoers line allows nsenter, not sh: nsenter without a namespace runs sh as it is.
  const viaSudo = shell.privilege.mode === "sudo" ? ["nsenter", "--"] : [];
  const lanes = Array.from({ length: Math.min(LANES, namespaces.length) }, (_, lane) =>
    namespaces.filter((_, i) => i % LANES === lane),
  );
  await Promise.all(
    lanes.map(async (lane) => {
      try {
        const { stdout } = await shell.system([...viaSudo, "sh", "-c", SCRIPT, "sh", what, ...lane]);
        for (const part of stdout.split(/\n@@(?=\d+ )/).slice(1)) {
          const match = /^(\d+) (\S+)\n([\s\S]*)$/.exec(part);
          if (!match) continue;
          const [, status, namespace, output] = match;
          reads.set(
            namespace,
            status === "0"
              ? { stdout: output }
              : { error: `\`${what} -n ${namespace}\` failed (exit ${status}): ${output.trim()}` },
          );
        }
      } catch (error) {
        for (const namespace of lane) reads.set(namespace, { error: (error as Error).message });
      }
      for (const namespace of lane)
        if (!reads.has(namespace)) reads.set(namespace, { error: `no answer from \`${what} -n ${namespace}\`` });
    }),
  );
  return reads;
}
