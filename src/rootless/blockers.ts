/**
 * Why rootless mode cannot start here, in the user's words: each known
 * blocker (user namespaces disabled by sysctl, Ubuntu's AppArmor restriction,
 * a seccomp filter or container, a missing program) is told apart from the
 * facts (sysctls, what the holder's start printed) and named with its fix.
 * Pure functions over the facts, so every case is unit-tested.
 */
import { readFileSync } from "node:fs";
import { DummyNetError } from "../errors.js";

/** The sysctls that decide whether an unprivileged user may create user namespaces; undefined where this kernel has none. */
export interface UserNamespaceSysctls {
  /** `user.max_user_namespaces`: 0 disables user namespaces for everyone but root. */
  maxUserNamespaces?: number | undefined;
  /** `kernel.unprivileged_userns_clone` (Debian and Ubuntu kernels before 6.x, and some others): 0 forbids them to unprivileged users. */
  unprivilegedUsernsClone?: number | undefined;
  /** `kernel.apparmor_restrict_unprivileged_userns` (Ubuntu 23.10+): 1 gives unconfined programs a user namespace without capabilities. */
  apparmorRestrictUnprivilegedUserns?: number | undefined;
}

/** What is known when deciding whether rootless mode works. */
export interface RootlessFacts {
  sysctls: UserNamespaceSysctls;
  /** Programs the holder needs that are not on PATH. */
  missingPrograms: readonly string[];
  /** How the holder's start failed; undefined when it started. */
  failure?: { exitCode: number | null; stderr: string } | undefined;
}

/** The known reasons rootless mode cannot start. */
export type RootlessBlocker =
  | "missing-program"
  | "user-namespaces-disabled"
  | "user-namespaces-exhausted"
  | "unprivileged-userns-clone-disabled"
  | "apparmor-restriction"
  | "refused-by-kernel"
  | "mount-refused"
  | "unknown";

/** A blocker with its cause and what to do about it. */
export interface RootlessProblem {
  /** Which known cause it is. */
  blocker: RootlessBlocker;
  /** What stops it, with the evidence (a sysctl's value, the kernel's words). */
  reason: string;
  /** What to do. */
  fix: string;
}

/** Programs the holder and the way in run. */
const HOLDER_PROGRAMS: Readonly<Record<string, string>> = {
  unshare: "util-linux",
  nsenter: "util-linux",
  mount: "mount",
  sh: "dash",
  cat: "coreutils",
};

const OTHERWISE = "or run as root or with passwordless sudo instead of rootless mode";

/** The problem the facts show, or undefined when nothing blocks rootless mode. */
export function classifyRootless(facts: RootlessFacts): RootlessProblem | undefined {
  const { sysctls, failure } = facts;
  const missing = facts.missingPrograms.filter((program) => program in HOLDER_PROGRAMS);
  if (missing.length > 0) return missingPrograms(missing);
  if (failure === undefined) return undefined;
  const said = failure.stderr.trim();
  const quoted =
    said === "" ? `exit status ${String(failure.exitCode)}` : `"${said.split("\n").slice(-3).join(" / ")}"`;
  if (sysctls.maxUserNamespaces === 0) {
    return {
      blocker: "user-namespaces-disabled",
      reason: `user namespaces are disabled on this machine: user.max_user_namespaces = 0 (unshare said ${quoted})`,
      fix: `enable them: \`sudo sysctl -w user.max_user_namespaces=15000\`, and make it last with a line \`user.max_user_namespaces = 15000\` in /etc/sysctl.d/99-userns.conf; ${OTHERWISE}`,
    };
  }
  if (sysctls.unprivilegedUsernsClone === 0) {
    return {
      blocker: "unprivileged-userns-clone-disabled",
      reason: `this kernel forbids user namespaces to unprivileged users: kernel.unprivileged_userns_clone = 0 (unshare said ${quoted})`,
      fix: `allow them: \`sudo sysctl -w kernel.unprivileged_userns_clone=1\`, and make it last with a line \`kernel.unprivileged_userns_clone = 1\` in /etc/sysctl.d/99-userns.conf; ${OTHERWISE}`,
    };
  }
  if (/No space left on device/i.test(said)) {
    return {
      blocker: "user-namespaces-exhausted",
      reason: `the limit on user namespaces is reached (user.max_user_namespaces = ${String(sysctls.maxUserNamespaces ?? "?")}; unshare said ${quoted})`,
      fix: `end other rootless networks or containers of this user, or raise the limit: \`sudo sysctl -w user.max_user_namespaces=15000\`; ${OTHERWISE}`,
    };
  }
  const refused = /Operation not permitted|Permission denied/i.test(said);
  if (refused && sysctls.apparmorRestrictUnprivilegedUserns === 1) {
    return {
      blocker: "apparmor-restriction",
      reason: `AppArmor restricts unprivileged user namespaces here (kernel.apparmor_restrict_unprivileged_userns = 1, Ubuntu 23.10 and later): unshare gets a user namespace without capabilities (it said ${quoted})`,
      fix:
        "allow unshare in AppArmor with a profile /etc/apparmor.d/dummynet-unshare containing " +
        "`abi <abi/4.0>, include <tunables/global> profile dummynet-unshare /usr/bin/unshare flags=(unconfined) { userns, }` " +
        "and load it with `sudo apparmor_parser -r /etc/apparmor.d/dummynet-unshare`; or lift the restriction for everyone: " +
        `\`sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0\`; ${OTHERWISE}`,
    };
  }
  if (refused && /unshare failed|clone|uid_map|gid_map|setgroups/i.test(said)) {
    return {
      blocker: "refused-by-kernel",
      reason: `the kernel refused this process a user namespace (unshare said ${quoted}): a seccomp filter (Docker's and Podman's default profiles, systemd's RestrictNamespaces=), a security module, or a container without nested user namespaces`,
      fix:
        "in Docker run the container with `--security-opt seccomp=unconfined` (or a profile that allows unshare and clone with CLONE_NEWUSER); " +
        `in a systemd unit set RestrictNamespaces=no; in Kubernetes allow it in the pod's securityContext; ${OTHERWISE}`,
    };
  }
  if (/^mount: /m.test(said)) {
    return {
      blocker: "mount-refused",
      reason: `the user namespace was created, but mounting its private /run failed (mount said ${quoted})`,
      fix: `this happens where /run is locked read-only by a container runtime or a security module: let the container mount in its user namespaces (e.g. Docker's \`--security-opt apparmor=unconfined\`); ${OTHERWISE}`,
    };
  }
  const notFound =
    /(?:^|\s)(?:sh: \d+: )?(\S+): (?:not found|command not found)/m.exec(said) ??
    /failed to execute (\S+): No such file or directory/.exec(said);
  if (notFound?.[1] !== undefined) return missingPrograms([notFound[1]]);
  return {
    blocker: "unknown",
    reason: `the holder of the user namespace did not start (${quoted})`,
    fix: `check that \`unshare --user --map-root-user --mount --net --pid --fork true\` works for this user; ${OTHERWISE}`,
  };
}

function missingPrograms(programs: readonly string[]): RootlessProblem {
  const packages = [...new Set(programs.map((program) => HOLDER_PROGRAMS[program] ?? program))];
  return {
    blocker: "missing-program",
    reason: `rootless mode needs ${programs.join(", ")}, which ${programs.length === 1 ? "is" : "are"} not installed`,
    fix: `install ${packages.join(" and ")}: \`sudo apt-get install ${packages.join(" ")}\` (Debian, Ubuntu) or \`sudo dnf install util-linux\` (Fedora)`,
  };
}

/** Reads the user-namespace sysctls (from `procSys`, a /proc/sys tree; tests pass their own). */
export function readUserNamespaceSysctls(procSys = "/proc/sys"): UserNamespaceSysctls {
  const read = (path: string): number | undefined => {
    try {
      const value = Number.parseInt(readFileSync(`${procSys}/${path}`, "utf8").trim(), 10);
      return Number.isNaN(value) ? undefined : value;
    } catch {
      return undefined;
    }
  };
  return {
    maxUserNamespaces: read("user/max_user_namespaces"),
    unprivilegedUsernsClone: read("kernel/unprivileged_userns_clone"),
    apparmorRestrictUnprivilegedUserns: read("kernel/apparmor_restrict_unprivileged_userns"),
  };
}

/**
 * Rootless mode cannot start here: `blocker` says which known cause, `reason`
 * the evidence, `fix` what to do. Thrown by the first command of a rootless
 * network, before anything is built.
 *
 * @example
 * ```ts
 * const rootless = new DummyNet({ rootless: true });
 * try {
 *   await rootless.netnsAdd("h1");
 * } catch (error) {
 *   if (error instanceof RootlessUnavailableError) console.error(`${error.blocker}: ${error.reason}; ${error.fix}`);
 *   else throw error;
 * }
 * ```
 */
export class RootlessUnavailableError extends DummyNetError {
  /** Which known cause stops it (user namespaces disabled by sysctl, AppArmor's restriction, a missing program...). */
  readonly blocker: RootlessBlocker;
  /** What stops it, with the evidence (a sysctl's value, the kernel's words). */
  readonly reason: string;
  /** What to do about it. */
  readonly fix: string;
  constructor(problem: RootlessProblem, options?: { cause?: unknown }) {
    super(`Rootless mode is not available: ${problem.reason}.\nFix: ${problem.fix}.`, options);
    this.blocker = problem.blocker;
    this.reason = problem.reason;
    this.fix = problem.fix;
  }
}
