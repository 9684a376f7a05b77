/**
 * Test support: the argv that runs a command as another user through
 * setpriv, no root rights left. The rootless tests' unprivileged user
 * (src/rootless/unprivileged.test-helpers.ts) and the sudo user
 * (sudo-user.ts) both go through it; they differ in groups and environment.
 */

/**
 * Who to run as: `gid` defaults to `uid`; supplementary groups none ("clear",
 * the default) or the user's own ("init", from /etc/group: a named user).
 */
export interface SetprivUser {
  uid: number;
  gid?: number;
  groups?: "clear" | "init";
}

/** `argv` run as `user`; with `env`, in exactly that environment (env -i: nothing of this process's). */
export function argvAsUser(
  { uid, gid = uid, groups = "clear" }: SetprivUser,
  argv: readonly string[],
  env?: Readonly<Record<string, string>>,
): string[] {
  return [
    "setpriv",
    `--reuid=${uid}`,
    `--regid=${gid}`,
    groups === "init" ? "--init-groups" : "--clear-groups",
    "--",
    ...(env === undefined ? [] : ["env", "-i", ...Object.entries(env).map(([name, value]) => `${name}=${value}`)]),
    ...argv,
  ];
}
