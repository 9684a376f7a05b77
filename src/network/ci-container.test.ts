/**
 * The Docker-like CI case of docs/ci.md, made here without Docker: a
 * container as `unshare` makes one (its own mount, network and PID
 * namespaces) with the capability bounding set Docker gives, plus what the
 * recipe adds. With NET_ADMIN and SYS_ADMIN a network is built and carries
 * traffic; with Docker's default set it is refused with an error.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { runChild } from "../testing/child.test-helpers.js";
import { runsRootless } from "../test-support/rootless.js";

const FIXTURE = fileURLToPath(new URL("./fixtures/container-net.ts", import.meta.url));
const REPO = fileURLToPath(new URL("../..", import.meta.url));
/** Docker's default capabilities (moby's oci/caps/defaults.go). */
const DOCKER_DEFAULT = [
  "chown",
  "dac_override",
  "fsetid",
  "fowner",
  "mknod",
  "net_raw",
  "setgid",
  "setuid",
  "setfcap",
  "setpcap",
  "net_bind_service",
  "sys_chroot",
  "kill",
  "audit_write",
];
const skip = runsRootless() || process.getuid?.() !== 0 ? "makes a container with unshare: needs root" : false;

/** The fixture in a container-like sandbox whose processes keep only `caps` (bounding, inheritable, effective). */
async function inContainer(caps: readonly string[]): Promise<Record<string, unknown>> {
  const keep = caps.map((cap) => `+${cap}`).join(",");
  const argv = [
    "unshare",
    "--mount",
    "--net",
    "--pid",
    "--fork",
    "--mount-proc",
    "--",
    "setpriv",
    `--bounding-set=-all,${keep}`,
    `--inh-caps=-all,${keep}`,
    "--",
    process.execPath,
    "--import",
    "tsx",
    FIXTURE,
  ];
  const outcome = await runChild(argv, { timeout: 100_000, cwd: REPO });
  assert.equal(outcome.code, 0, outcome.output);
  return JSON.parse(outcome.stdout.trim().split("\n").at(-1) ?? "{}") as Record<string, unknown>;
}

test(
  "docker run --cap-add NET_ADMIN --cap-add SYS_ADMIN: a network is built and carries traffic",
  { timeout: 120_000, skip },
  async () => {
    const result = await inContainer([...DOCKER_DEFAULT, "net_admin", "sys_admin"]);
    assert.equal(result["error"], undefined, JSON.stringify(result));
    assert.equal(result["received"], 20);
    assert.equal(result["cleanup"], "clean");
  },
);

test(
  "Docker's default capabilities: building is refused with an error, nothing half-made stays",
  { timeout: 120_000, skip },
  async () => {
    const result = await inContainer(DOCKER_DEFAULT);
    assert.match(String(result["error"]), /not permitted|EPERM|permission/iu, JSON.stringify(result));
    assert.equal(result["cleanup"], "clean");
  },
);
