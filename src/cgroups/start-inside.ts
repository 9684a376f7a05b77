/**
 * Starting a command inside a cgroup, so that nothing it forks ever runs
 * outside (addPid() after the start would race with the command's first
 * forks). The command is started through a fixed wrapper: `/bin/sh -c` with a
 * constant script that writes its own pid into each cgroup.procs file and
 * then execs the real argv. The files and the argv are positional arguments
 * of that script, never part of it, so no user string becomes shell code.
 * The wrapper runs where the writes are allowed (after sudo) and before any
 * `ip netns exec` (which remounts /sys, hiding the cgroup files).
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { InvalidArgumentError } from "../errors.js";
import { CGroup } from "./cgroup.js";

/** The `cgroup` option of `run()` and `runAsync()`. */
export interface CGroupRunOptions {
  /**
   * Start the command inside this cgroup (a `CGroup` from `CGroup.create()`
   * or `net.addCgroup()`), so that its limits hold for it and for everything
   * it forks from its first instruction on. If the process cannot enter the
   * cgroup, it exits with status 125 and says why on stderr, without running
   * the command. Not given: the command starts in this process's cgroups.
   * @default undefined
   */
  cgroup?: CGroup | undefined;
}

/** Exit status of the wrapper when it could not enter the cgroup (as `env`/`nice` use 125 for their own failures). */
export const ENTER_CGROUP_FAILED = 125;

/** `$0` of the wrapper: the name its own error messages start with. */
const WRAPPER_NAME = "dummynet-enter-cgroup";

/**
 * The wrapper: "<procs file>... -- <argv>". `echo` is one write(), as the
 * kernel wants for cgroup.procs; `[ -f ]` keeps the redirection from creating
 * a file where a cgroup has gone.
 */
const WRAPPER_SCRIPT =
  'while [ "$1" != -- ]; do ' +
  'if [ -f "$1" ] && echo $$ > "$1"; then shift; ' +
  `else echo "${WRAPPER_NAME}: could not move process $$ into the cgroup by writing $1; the command did not run" >&2; exit ${ENTER_CGROUP_FAILED}; fi; ` +
  'done; shift; exec "$@"';

/** The argv that runs `argv` inside `cgroup` (in every directory of it: one on v2, one per hierarchy on v1). */
export function argvInsideCgroup(cgroup: CGroup, argv: readonly string[]): string[] {
  const procsFiles = cgroup.paths.map((dir) => join(dir, "cgroup.procs"));
  return ["/bin/sh", "-c", WRAPPER_SCRIPT, WRAPPER_NAME, ...procsFiles, "--", ...argv];
}

/**
 * Checks the `cgroup` option of run/runAsync: undefined, or a CGroup that
 * still exists. Throws InvalidArgumentError naming it otherwise.
 */
export function validateCgroupOption(value: unknown, argument = "cgroup"): CGroup | undefined {
  if (value === undefined) return undefined;
  if (!(value instanceof CGroup)) {
    throw new InvalidArgumentError(
      argument,
      value,
      "must be a CGroup (from CGroup.create() or net.addCgroup()), or left out",
    );
  }
  if (value.removed) {
    throw new InvalidArgumentError(
      argument,
      value.name,
      "was removed by hardClean() (or its network's cleanup): create a new cgroup to start commands in",
    );
  }
  const missing = value.paths.find((dir) => !existsSync(join(dir, "cgroup.procs")));
  if (missing !== undefined) {
    throw new InvalidArgumentError(
      argument,
      value.name,
      `no longer exists on the system (${missing} is gone): create a new cgroup to start commands in`,
    );
  }
  return value;
}
