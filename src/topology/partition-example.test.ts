/**
 * examples/partition.yaml as the README tells it: `lab.start()` starts the
 * replicated counter (examples/replica.mjs) and then the file's faults. While
 * f1 is cut off, its count stands still and it hears nothing from the
 * leader, which counts on (f2, on the leader's side, keeps up); once healed,
 * f1 catches up. Read from the programs' own output, as a user would.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { buildTopology } from "./lab.js";
import { assertNothingLeft } from "../testing/leftovers.js";

const EXAMPLE = new URL("../../examples/partition.yaml", import.meta.url).pathname;

interface Line {
  program: string;
  count: number;
  silent: boolean;
  /** How many fault events the schedule had recorded when the line came. */
  events: number;
}

test(
  "examples/partition.yaml: a follower falls behind while partitioned from the leader and catches up once healed",
  { timeout: 120_000 },
  async () => {
    const lab = await buildTopology(EXAMPLE);
    const uid = lab.uid;
    const lines: Line[] = [];
    try {
      let events = () => 0;
      await lab.start({
        onOutput: (program, _stream, text) => {
          const match = /^(\w+) at (\d+)/.exec(text);
          if (match)
            lines.push({ program, count: Number(match[2]), silent: text.includes("(no answer"), events: events() });
        },
      });
      const schedule = lab.faultSchedule;
      assert.ok(schedule, "start() started the file's faults");
      events = () => schedule.history.length;
      const history = await schedule.done;

      const what = history.map((event) => [event.heals ? `heal ${event.heals}` : event.action, event.error]);
      assert.deepEqual(what, [
        ["partition", undefined],
        ["heal partition", undefined],
        ["isolate", undefined],
        ["heal isolate", undefined],
        ["heal", undefined],
      ]);
      // Lines while the partition was in force (after its event, before its healing), and after it healed.
      const during = (program: string) => lines.filter((line) => line.program === program && line.events === 1);
      const after = (program: string) => lines.filter((line) => line.program === program && line.events >= 2);
      // f1 prints every 500 ms and calls the leader silent after 300 ms without an answer: within a second of
      // the cut every line it prints is silent, at the count it had.
      const lines1 = during("f1");
      const firstSilent = lines1.findIndex((line) => line.silent);
      assert.ok(firstSilent >= 0 && firstSilent <= 2, `f1 went silent within a second: ${JSON.stringify(lines1)}`);
      const cut = lines1.slice(firstSilent);
      assert.ok(cut.length >= 2, `f1 printed ${cut.length} silent lines during the 2 s partition`);
      const frozen = cut[0].count;
      for (const line of cut) {
        assert.equal(line.count, frozen, "f1's count stands still while it is cut off");
        assert.ok(line.silent, "and it hears nothing from the leader");
      }
      const leaderAtHeal = Math.max(...during("leader").map((line) => line.count));
      assert.ok(leaderAtHeal >= frozen + 5, `the leader counted on (${leaderAtHeal}) while f1 stood at ${frozen}`);
      assert.ok(
        during("f2").some((line) => line.count > frozen + 5 && !line.silent),
        "f2, on the leader's side, kept up",
      );
      const caughtUp = after("f1").find((line) => line.count >= leaderAtHeal && !line.silent);
      assert.ok(caughtUp, `f1 caught up past ${leaderAtHeal} once healed: ${JSON.stringify(after("f1"))}`);
    } finally {
      await lab.cleanup();
    }
    assertNothingLeft(uid);
  },
);
