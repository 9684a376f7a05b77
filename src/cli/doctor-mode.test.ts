/** `dummynet doctor` says which mode this machine gives and why (issue 22): as root, and as an unprivileged uid. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { runChild } from "../testing/child.test-helpers.js";

const MAIN = fileURLToPath(new URL("./main.ts", import.meta.url));
const REPO = fileURLToPath(new URL("../..", import.meta.url));
const skip = process.getuid?.() !== 0 ? "needs root (and to drop to uid 65534)" : false;

test(
  "doctor names the mode: root as root; rootless for a user without sudo where user namespaces work",
  { timeout: 180_000, skip },
  async () => {
    const env = { ...process.env };
    delete env["DUMMYNET_ROOTLESS"];
    delete env["SUDO_UID"];
    const asRoot = await runChild([process.execPath, "--import", "tsx", MAIN, "doctor", "--json"], {
      timeout: 80_000,
      cwd: REPO,
      env,
    });
    assert.equal(asRoot.code, 0, asRoot.output);
    assert.deepEqual((JSON.parse(asRoot.stdout) as { mode: unknown }).mode, {
      mode: "root",
      why: "this process is root: programs in hosts run as root",
    });
    const argv = [
      "/usr/bin/setpriv",
      "--reuid=65534",
      "--regid=65534",
      "--clear-groups",
      "--",
      process.execPath,
      "--import",
      "tsx",
      MAIN,
      "doctor",
    ];
    const asNobody = await runChild(argv, {
      timeout: 80_000,
      cwd: REPO,
      env: { PATH: env["PATH"], HOME: "/tmp", TMPDIR: "/tmp" },
    });
    assert.equal(asNobody.code, 0, asNobody.output);
    assert.match(
      asNobody.stdout,
      /^Mode: rootless: not root and sudo needs a password or is missing, and user namespaces work/mu,
    );
  },
);
