/**
 * Test support: a real user who runs the library through sudo, as a developer
 * does on a laptop. Made for one test (useradd, a home of its own, a sudoers
 * file allowing it passwordless sudo) and removed by remove(), also when the
 * test process exits first. Needs root and sudo (scripts/test.mjs installs it).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { argvAsUser } from "./setpriv.js";

export interface SudoUser {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
  readonly home: string;
  /** Removes the sudoers file, the user and its home (idempotent). */
  remove(): void;
}

/** Milliseconds each of useradd, visudo and userdel may take. */
const ADMIN_TIMEOUT = 30_000;

let made = 0;

/** A new user `dnt<pid>x<n>` with passwordless sudo (`sudoers`: the rule after the user's name). */
export function sudoUser(sudoers = "ALL=(root) NOPASSWD:SETENV: ALL"): SudoUser {
  const name = `dnt${process.pid}x${made++}`;
  const parent = mkdtempSync(join(tmpdir(), "dummynet-sudo-user-"));
  chmodSync(parent, 0o755);
  const home = join(parent, name);
  const rules = `/etc/sudoers.d/dummynet-test-${name}`;
  const remove = () => {
    rmSync(rules, { force: true });
    spawnSync("userdel", ["--force", name], { stdio: "ignore", timeout: ADMIN_TIMEOUT });
    spawnSync("groupdel", [name], { stdio: "ignore", timeout: ADMIN_TIMEOUT });
    rmSync(parent, { recursive: true, force: true });
    process.removeListener("exit", remove);
  };
  process.on("exit", remove);
  try {
    execFileSync("useradd", ["--create-home", "--home-dir", home, "--shell", "/bin/sh", "--user-group", name], {
      stdio: "pipe",
      timeout: ADMIN_TIMEOUT,
    });
    writeFileSync(rules, `${name} ${sudoers}\n`, { mode: 0o440 });
    execFileSync("visudo", ["-c", "-q", "-f", rules], { stdio: "pipe", timeout: ADMIN_TIMEOUT });
    const id = (flag: string) => Number(execFileSync("id", [flag, name], { encoding: "utf8" }).trim());
    return { name, uid: id("-u"), gid: id("-g"), home, remove };
  } catch (error) {
    remove();
    throw error;
  }
}

/** True when a user can be made here: root, with useradd and sudo installed. */
export function canMakeSudoUsers(): boolean {
  return process.getuid?.() === 0 && existsSync("/usr/sbin/useradd") && existsSync("/usr/bin/sudo");
}

/**
 * The argv that runs `argv` as `user`, from a login-like environment: its
 * HOME, USER, a PATH, then `env`. No root rights are left (setpriv with the
 * user's uid, gid and groups), so every privileged step goes through sudo.
 */
export function argvAsSudoUser(
  user: SudoUser,
  argv: readonly string[],
  env: Readonly<Record<string, string>> = {},
): string[] {
  return argvAsUser({ uid: user.uid, gid: user.gid, groups: "init" }, argv, {
    PATH: process.env["PATH"] ?? "/usr/bin:/bin",
    HOME: user.home,
    USER: user.name,
    LOGNAME: user.name,
    TMPDIR: user.home,
    ...env,
  });
}
