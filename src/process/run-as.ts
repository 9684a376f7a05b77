/**
 * Whom a user's program runs as. The network needs root; the programs in it
 * need not: when the library reaches root through sudo (it runs as a user
 * with passwordless sudo, or as root started by `sudo`, SUDO_UID set), a
 * program runs as that user, with the user's groups, HOME and PATH
 * (`setpriv` then `env`, innermost, after the namespace and cgroup are
 * entered as root). Plain root stays root; rootless mode has no other user to
 * switch to. The `user` option of run/runAsync chooses otherwise.
 */
import { execFileSync } from "node:child_process";
import { InvalidArgumentError } from "../errors.js";
import { type Privilege, isRoot } from "../system/privilege.js";

/** Whom a program runs as: `"root"`, a user name, or a uid. */
type UserChoice = string | number;

/**
 * Options that choose whom a program runs as.
 * @inline
 */
export interface UserOption {
  /**
   * Whom the program runs as: `"root"`, a user name or a uid. Refused in rootless mode (programs run as you there).
   * @default the user who runs the tests when the library uses sudo or was started with sudo; else as this process
   */
  user?: UserChoice | undefined;
}

/** A user to switch to, as setpriv and env need it. */
export interface Identity {
  readonly uid: number;
  readonly gid: number;
  /** The user's name, for USER/LOGNAME and its supplementary groups (initgroups); absent for a uid with no account. */
  readonly name: string | undefined;
  /** Supplementary groups given as they are (this process's own); absent: from the account (initgroups), or none. */
  readonly groups: readonly number[] | undefined;
  readonly home: string | undefined;
}

/** The largest uid Linux gives a user ((uid_t)-1 means "no change"). */
const UID_MAX = 2 ** 32 - 2;
/** Milliseconds a `getent passwd` may take (NSS may ask a directory service). */
const GETENT_TIMEOUT = 5000;

interface Account {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

/** The account of a name or uid from the system's user database (getent: files, LDAP, ...); undefined when there is none. */
function account(key: string | number): Account | undefined {
  let line: string;
  try {
    line = execFileSync("getent", ["passwd", String(key)], { encoding: "utf8", timeout: GETENT_TIMEOUT });
  } catch {
    return undefined; // exit 2: no such user
  }
  const fields = line.trim().split("\n")[0]?.split(":") ?? [];
  if (fields.length < 6) return undefined;
  const [name = "", , uid, gid, , home = "/"] = fields;
  return { name, uid: Number(uid), gid: Number(gid), home };
}

/** Checks a `user` option's form before anything runs. */
function validateUserChoice(user: unknown): asserts user is UserChoice | undefined {
  if (user === undefined) return;
  if (typeof user === "number") {
    if (!Number.isInteger(user) || user < 0 || user > UID_MAX) {
      throw new InvalidArgumentError("user", user, `must be a uid from 0 to ${UID_MAX}, a user name, or "root"`);
    }
    return;
  }
  if (typeof user !== "string" || user === "" || user.includes(":") || /\s/u.test(user)) {
    throw new InvalidArgumentError("user", user, 'must be "root", a user name of this system, or a uid');
  }
}

/**
 * The identity a program switches to, or undefined when it runs as the
 * command runner does (root through the privilege, or this process itself).
 * Throws InvalidArgumentError for a user that does not exist, or one that
 * cannot apply (rootless mode; no root to switch with).
 */
export function resolveRunAs(
  privilege: Privilege,
  user: unknown,
  env: NodeJS.ProcessEnv = process.env,
): Identity | undefined {
  validateUserChoice(user);
  if (privilege.mode === "rootless") {
    if (user === undefined) return undefined;
    throw new InvalidArgumentError(
      "user",
      user,
      "cannot apply in rootless mode: programs there run as you (root only inside the user namespace); leave `user` out, or build the network as root or with sudo",
    );
  }
  const canSwitch = privilege.mode === "sudo" || isRoot();
  if (user === undefined) return canSwitch ? invokingUser(privilege, env) : undefined;
  if (user === "root" || user === 0) {
    if (canSwitch) return undefined;
    throw new InvalidArgumentError("user", user, "needs root or sudo, and this process has neither: leave `user` out");
  }
  const found = account(user);
  if (found === undefined && typeof user === "string") {
    throw new InvalidArgumentError(
      "user",
      user,
      'is no user of this system (getent passwd knows no such name): name an existing user, a uid, or "root"',
    );
  }
  const identity: Identity = found
    ? { uid: found.uid, gid: found.gid, name: found.name, groups: undefined, home: found.home }
    : { uid: user as number, gid: user as number, name: undefined, groups: [], home: undefined };
  if (!canSwitch && identity.uid !== process.getuid?.()) {
    throw new InvalidArgumentError(
      "user",
      user,
      "needs root or sudo to switch to, and this process has neither: leave `user` out",
    );
  }
  return canSwitch ? identity : undefined;
}

/**
 * The user who runs the tests: this process's user when it reaches root
 * through sudo; the user who ran `sudo` when this process is root with
 * SUDO_UID set; undefined for plain root.
 */
function invokingUser(privilege: Privilege, env: NodeJS.ProcessEnv): Identity | undefined {
  if (privilege.mode === "sudo" && !isRoot()) {
    const uid = process.getuid?.() ?? 0;
    const name = account(uid)?.name;
    return { uid, gid: process.getgid?.() ?? 0, name, groups: process.getgroups?.() ?? [], home: env["HOME"] };
  }
  const sudoUid = env["SUDO_UID"];
  if (!isRoot() || sudoUid === undefined || !/^\d+$/u.test(sudoUid) || sudoUid === "0") return undefined;
  const found = account(Number(sudoUid));
  const gid = /^\d+$/u.test(env["SUDO_GID"] ?? "") ? Number(env["SUDO_GID"]) : (found?.gid ?? Number(sudoUid));
  return { uid: Number(sudoUid), gid, name: found?.name, groups: found ? undefined : [], home: found?.home };
}

/**
 * The argv that runs `cmd` as `identity`: setpriv (uid, gid, groups) then env
 * (HOME, USER, LOGNAME, and PATH from `path`, so that a program found only on
 * the user's PATH is found: env searches the PATH it sets). A string runs
 * through /bin/sh -c.
 */
export function argvAs(identity: Identity, cmd: string | readonly string[], path: string | undefined): string[] {
  const command = typeof cmd === "string" ? ["/bin/sh", "-c", cmd] : [...cmd];
  const groups =
    identity.groups !== undefined
      ? identity.groups.length > 0
        ? `--groups=${identity.groups.join(",")}`
        : "--clear-groups"
      : identity.name !== undefined
        ? "--init-groups"
        : "--clear-groups";
  const variables = [
    ...(identity.home !== undefined ? [`HOME=${identity.home}`] : []),
    ...(identity.name !== undefined ? [`USER=${identity.name}`, `LOGNAME=${identity.name}`] : []),
    ...(path !== undefined ? [`PATH=${path}`] : []),
  ];
  // env's `--` ends its options; assignments then still come before the command.
  return [
    "setpriv",
    `--reuid=${identity.uid}`,
    `--regid=${identity.gid}`,
    groups,
    "--",
    "env",
    "--",
    ...variables,
    ...command,
  ];
}

/** Run options whose `user` a namespace shell has applied already (its parent must not apply it again). */
const applied = new WeakSet<object>();

/** Marks `options` as carrying a command that already switches user (or was chosen to run as given). */
export function markUserApplied<T extends object>(options: T): T {
  applied.add(options);
  return options;
}

/** True for options marked by markUserApplied(). */
export function isUserApplied(options: object): boolean {
  return applied.has(options);
}
