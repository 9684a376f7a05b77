// requires: vlan
// The VLAN trunk example: two VLANs over one veth link, each its own subnet.
import { test } from "node:test";
import assert from "node:assert/strict";
import { assertNothingLeft } from "../testing/leftovers.js";
import { finished, startCli } from "./cli.test-helpers.js";

test(
  "run examples/vlan-trunk.yaml: a reaches b's web server across VLAN 10 and VLAN 20",
  { timeout: 300_000 },
  async () => {
    const child = startCli(["run", "examples/vlan-trunk.yaml", "--json"]);
    const result = await finished(child);
    assert.equal(result.code, 0, result.stderr);
    const jobs = (JSON.parse(result.stdout) as { jobs: { name: string; stdout: string }[] }).jobs;
    assert.deepEqual(
      jobs.map((job) => [job.name, job.stdout]),
      [
        ["vlan10", "b answered on 10.10.0.2\n"],
        ["vlan20", "b answered on 10.20.0.2\n"],
      ],
    );
    assertNothingLeft(child.pid!);
  },
);
