// requires: netem
// Every netem option `dummynet impair` could not set before its flags came from
// the model (correlations of duplicate, corrupt and reorder, packet and cell
// overheads, cell size, slots, loss models, removing ECN): set on a link of a
// network that `dummynet up` holds, and read back from the kernel with
// `dummynet inspect`.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { NetemSettings } from "../tc/netem-model.js";
import { runCli, withNetworkUp } from "./cli.test-helpers.js";

// Each command takes tens of seconds in the emulated lab machine: `up` must outlive them all.
const BOUND_MS = 900_000;

test(
  "impair sets each option from its flag and inspect reads it back from the kernel",
  { timeout: BOUND_MS },
  async () => {
    // Two hosts and a link, no programs: nothing to wait for on a slow emulated machine.
    const file = join(mkdtempSync(join(tmpdir(), "dummynet-impair-")), "pair.yaml");
    writeFileSync(
      file,
      "name: impair-flags\nhosts: { a: {}, b: {} }\nlinks:\n  - ends: [{ at: 'a:a-b', address: 10.0.0.1/24 }, { at: 'b:b-a', address: 10.0.0.2/24 }]\n",
    );
    await withNetworkUp(
      file,
      async ({ uid, flag: network }) => {
        const impair = async (...flags: string[]) => {
          const result = await runCli(["impair", "a:a-b", ...network, ...flags]);
          assert.equal(result.code, 0, `${flags.join(" ")}: ${result.stderr}`);
        };
        const applied = async (): Promise<NetemSettings> => {
          const inspect = await runCli(["inspect", String(uid), "--json"]);
          assert.equal(inspect.code, 0, inspect.stderr);
          const hosts = (
            JSON.parse(inspect.stdout) as {
              hosts: { name: string; interfaces: { impairment: NetemSettings | null }[] }[];
            }
          ).hosts;
          return hosts.find((host) => host.name === "a")!.interfaces[0].impairment ?? {};
        };

        await impair(
          "--reset",
          "--delay",
          "10",
          "--reorder",
          "25",
          "--reorder-correlation",
          "50",
          "--gap",
          "3",
          "--duplicate",
          "5",
          "--duplicate-correlation",
          "20",
          "--corrupt",
          "1",
          "--corrupt-correlation",
          "30",
          "--rate",
          "10",
          "--packet-overhead",
          "-14",
          "--cell-size",
          "48",
          "--cell-overhead",
          "5",
          "--slot",
          "min=1,max=5,packets=10,bytes=4000",
        );
        assert.deepEqual(await applied(), {
          delay: 10,
          reorder: 25,
          reorderCorrelation: 50,
          gap: 3,
          duplicate: 5,
          duplicateCorrelation: 20,
          corrupt: 1,
          corruptCorrelation: 30,
          rate: 10,
          packetOverhead: -14,
          cellSize: 48,
          cellOverhead: 5,
          slot: { min: 1, max: 5, packets: 10, bytes: 4000 },
          limit: 1000, // netem always reports its queue limit: here the default, rate x delay being small
        });

        // A distributed slot; `none` removes a value, as null does in the library.
        await impair("--slot", "distribution=pareto,delay=10,jitter=2", "--corrupt", "none", "--rate", "none");
        const distributed = await applied();
        assert.deepEqual(distributed.slot, { delay: 10, jitter: 2 }, JSON.stringify(distributed));
        assert.equal(distributed.corrupt, undefined);
        assert.equal(distributed.rate, undefined);
        assert.equal(distributed.cellSize, undefined, "removing the rate removes its cell size");

        await impair(
          "--slot",
          "none",
          "--reorder",
          "none",
          "--duplicate",
          "none",
          "--delay",
          "none",
          "--loss",
          "state:p13=1,p31=30",
          "--ecn",
        );
        assert.deepEqual(await applied(), {
          loss: { state: { p13: 1, p31: 30, p32: 0, p23: 100, p14: 0 } },
          ecn: true,
          limit: 1000,
        });
        await impair("--no-ecn", "--loss", "gemodel:p=1,r=30,h=20,k=98");
        assert.deepEqual(await applied(), { loss: { gemodel: { p: 1, r: 30, h: 20, k: 98 } }, limit: 1000 });

        // The library's advice reaches the terminal: a queue limit under rate x delay is warned about, by default.
        const tight = await runCli([
          "impair",
          "a:a-b",
          ...network,
          "--reset",
          "--rate",
          "50",
          "--delay",
          "25",
          "--limit",
          "20",
        ]);
        assert.equal(tight.code, 0, tight.stderr);
        assert.match(
          tight.stderr,
          /dummynet warn: .*limit 20 packets is under the bandwidth-delay product/,
          tight.stderr,
        );
      },
      BOUND_MS,
    );
  },
);
