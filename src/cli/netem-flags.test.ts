// The netem flags of `dummynet impair`: one per option of the model, each
// documented with its unit, each example readable, and bad values refused
// (exit 2, the flag, the value and the rule) before anything changes on a
// network that `dummynet up` holds.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Command } from "commander";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { NETEM_KEYS, NETEM_OPTIONS, UNITS } from "../tc/netem-table.js";
import { validateOneWayNetem } from "../tc/netem-validate.js";
import { runCli, withNetworkUp } from "./cli.test-helpers.js";
import { createProgram } from "./main.js";
import { addNetemOptions, flagOf, formatFlagValue, netemFromFlags, parseFlagValue } from "./netem-flags.js";

describe("netem flags", { timeout: 600_000 }, () => {
  test("every option of the model is a flag of impair named after it, and --help gives its unit and meaning", async () => {
    const impair = createProgram().commands.find((command) => command.name() === "impair")!;
    for (const key of NETEM_KEYS) {
      const option = impair.options.find((candidate) => candidate.long === flagOf(key));
      assert.ok(option, `no flag ${flagOf(key)} for ${key}`);
      assert.equal(option.attributeName(), key, "commander names the parsed value after the option");
    }
    const help = await runCli(["impair", "--help"]);
    assert.equal(help.code, 0, help.stderr);
    const text = help.stdout.replace(/\s+/g, " ");
    for (const key of NETEM_KEYS) {
      const spec = NETEM_OPTIONS[key];
      const flags = impair.options.find((candidate) => candidate.long === flagOf(key))!.flags;
      assert.ok(text.includes(`${flags} ${spec.description}`), `--help lacks ${flags} and its meaning`);
      if (spec.type === "number") {
        assert.ok(flags.endsWith(UNITS[spec.unit].flag), `${flags} names its unit`);
        assert.ok(text.includes(`${spec.min} to ${spec.max}`), `--help lacks the range of ${key}`);
      }
    }
    assert.match(text, /--ingress/);
  });

  test("each example of the model, written as a flag, reads back as the library's value", () => {
    for (const key of NETEM_KEYS) {
      for (const example of NETEM_OPTIONS[key].examples) {
        if (typeof example === "boolean") continue;
        const text = formatFlagValue(example);
        assert.deepEqual(parseFlagValue(key, text), example, `${flagOf(key)} ${text}`);
        assert.doesNotThrow(() => validateOneWayNetem({ [key]: parseFlagValue(key, text) }));
      }
    }
  });

  test("parsed by commander, the flags give tc() options: none is null, --no-ecn false, other flags are left out", () => {
    const command = addNetemOptions(new Command("impair").option("--json").exitOverride());
    command.parse(["--slot", "none", "--delay", "5", "--loss", "gemodel:p=1,r=30", "--no-ecn", "--ingress", "--json"], {
      from: "user",
    });
    assert.deepEqual(netemFromFlags(command.opts()), {
      slot: null,
      delay: 5,
      loss: { gemodel: { p: 1, r: 30 } },
      ecn: false,
      ingress: true,
    });
  });

  test("bad values are refused with exit 2, the flag, the value and the rule, and the link is left as it was", async () => {
    const scratch = mkdtempSync(join(tmpdir(), "dummynet-flags-"));
    const file = join(scratch, "flags.yaml");
    writeFileSync(
      file,
      "name: flags\nhosts: { a: {}, b: {} }\nlinks:\n  - ends: [{ at: 'a:a-b', address: 10.0.0.1/24 }, { at: 'b:b-a', address: 10.0.0.2/24 }]\n",
    );
    await withNetworkUp(file, async ({ flag: network }) => {
      const qdiscs = async () => {
        const shown = await runCli(["exec", "a", ...network, "--", "tc", "qdisc", "show"]);
        assert.equal(shown.code, 0, shown.stderr);
        return shown.stdout;
      };
      const before = await qdiscs();
      const refusals: [string[], RegExp][] = [
        [
          ["--delay", "-5"],
          /'--delay <ms>' argument '-5' is invalid\. must be a number of milliseconds from 0 to 274877; give none to remove it/,
        ],
        [["--delay", "20ms"], /'--delay <ms>' argument '20ms' is invalid\. must be a number of milliseconds/],
        [
          ["--loss", "150"],
          /'--loss <percent\|model>' argument '150' is invalid\. must be a number of percent from 0 to 100/,
        ],
        [
          ["--loss", "state:p13=200"],
          /argument 'state:p13=200' is invalid\. state\.p13=200 must be a number of percent from 0 to 100/,
        ],
        [["--loss", "gemodel:q=1"], /gemodel\.q=1 is not a known option: .*the options are p, r, h, k/],
        [
          ["--duplicate-correlation", "101"],
          /'--duplicate-correlation <percent>' argument '101' is invalid\. must be a number of percent/,
        ],
        [["--corrupt-correlation", "x"], /'--corrupt-correlation <percent>' argument 'x' is invalid/],
        [["--reorder-correlation", "-1"], /'--reorder-correlation <percent>' argument '-1' is invalid/],
        [
          ["--packet-overhead", "1.5"],
          /'--packet-overhead <bytes>' argument '1\.5' is invalid\. must be an integer number of bytes from -65535 to 65535/,
        ],
        [
          ["--cell-size", "70000"],
          /'--cell-size <bytes>' argument '70000' is invalid\. must be an integer number of bytes from 0 to 65535/,
        ],
        [["--cell-overhead", "-70000"], /'--cell-overhead <bytes>' argument '-70000' is invalid/],
        [
          ["--slot", "min=5,max=1"],
          /'--slot <slot>' argument 'min=5,max=1' is invalid\. max=1 must not be less than slot\.min \(5 ms\)/,
        ],
        [
          ["--slot", "distribution=uniform,delay=1,jitter=1"],
          /distribution=uniform must be one of normal, pareto, paretonormal/,
        ],
        [
          ["--slot", "5"],
          /'--slot <slot>' argument '5' is invalid\. must be \{ min, max\?, packets\?, bytes\? \} or .*; e\.g\. min=1,max=5,packets=10/,
        ],
        [["--distribution", "pareto-normal"], /did you mean "paretonormal"\?/],
        [["--gap", "0"], /'--gap <packets>' argument '0' is invalid\. must be an integer number of packets from 1/],
        [["--rate", "10", "--cell-sise", "48"], /unknown option '--cell-sise'/],
        [
          ["--loss", "1", "--loss-correlation", "5", "--delay", "1", "--jitter", "-1"],
          /'--jitter <ms>' argument '-1' is invalid/,
        ],
        [[], /say what to change/],
      ];
      for (const [flags, message] of refusals) {
        const result = await runCli(["impair", "a:a-b", ...network, ...flags]);
        assert.equal(result.code, 2, `${flags.join(" ")}: ${result.stderr}`);
        assert.match(result.stderr, message, flags.join(" "));
      }
      assert.equal(await qdiscs(), before, "a refused impair changed the link's qdiscs");
    });
  });
});
