/** A topology program's `user` (issue 22): it runs as that user; a bad one is refused by the loader or before it starts. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { buildTopology } from "./lab.js";
import { assertNothingLeft } from "../testing/leftovers.js";
import { runsRootless } from "../test-support/rootless.js";

test(
  "a program with user: nobody runs as uid 65534; rootless mode refuses any user",
  { timeout: 120_000 },
  async () => {
    const lab = await buildTopology({
      name: "as-user",
      hosts: { a: {} },
      programs: [{ name: "who", host: "a", command: ["id", "-u"], user: "nobody" }],
    });
    const uid = lab.net.uid;
    try {
      if (runsRootless()) {
        await assert.rejects(lab.start(), /cannot apply in rootless mode/u);
      } else {
        const [who] = await lab.start();
        const info = await who.info.finished;
        assert.equal(info.stdout.trim(), "65534");
      }
    } finally {
      await lab.cleanup().catch(() => undefined);
      assertNothingLeft(uid);
    }
  },
);
