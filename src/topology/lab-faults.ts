/**
 * The file's `faults:` put to work: the plan `schedule()` takes (hosts by the
 * file's names, which a Lab resolves; programs as the RunInfos started), and
 * following a running schedule event by event, for `dummynet run` and `up`.
 */
import { DummyNetError } from "../errors.js";
import type { GeneratedFault, GeneratedPlan, ScheduleOptions, ScheduleStep } from "../faults/plan.js";
import type { Schedule } from "../faults/schedule.js";
import type { FaultEvent } from "../faults/types.js";
import type { RunInfo } from "../process/run-info.js";
import { formatPath } from "./errors.js";
import { actionsOf } from "./fault-steps.js";
import type { Topology } from "./model.js";

const PAST = { pause: "paused", resume: "resumed", kill: "killed", restart: "restarted" } as const;

/** What `schedule()` takes for the file's `faults:`. */
export interface FilePlan {
  plan: ScheduleStep[] | GeneratedPlan;
  options: ScheduleOptions;
}

/**
 * The plan of the file's `faults:` (a checked topology's), with each program step's program found among
 * `programs` (started programs by name).
 *
 * @throws DummyNetError when a step names a program that was not started (a job, under `dummynet up`, which starts daemons only).
 */
export function filePlan(faults: NonNullable<Topology["faults"]>, programs: ReadonlyMap<string, RunInfo>): FilePlan {
  if (!Array.isArray(faults)) {
    const { every, for: lasting, faults: kinds, hosts, seed } = faults;
    return {
      plan: { every, for: lasting, faults: kinds as GeneratedFault[], ...(hosts ? { hosts } : {}) },
      options: seed === undefined ? {} : { seed },
    };
  }
  const plan = faults.map((step): ScheduleStep => {
    const action = actionsOf(step).at(0);
    const timing = { at: step.at, ...(step.for === undefined ? {} : { for: step.for }) };
    if (action === undefined)
      throw new DummyNetError(`${formatPath(step.path)}: a step with no action (the topology was not checked)`);
    switch (action.action) {
      case "pause":
      case "resume":
      case "kill":
      case "restart": {
        const info = programs.get(action.value);
        if (!info)
          throw new DummyNetError(
            `${formatPath([...step.path, action.action])}: program "${action.value}" was not started, so it cannot be ${PAST[action.action]}; started: ${[...programs.keys()].join(", ") || "none"} (\`dummynet up\` starts the daemons only)`,
          );
        const signal = step.signal === undefined ? {} : { signal: step.signal as NodeJS.Signals };
        return { ...timing, ...signal, [action.action]: info } as ScheduleStep;
      }
      default:
        return { ...timing, [action.action]: action.value } as ScheduleStep;
    }
  });
  return { plan, options: {} };
}

/**
 * Calls `onEvent` with each event of `schedule` as it is recorded, and resolves with the history once the
 * schedule is done. A Schedule has no event callback, so its history is looked at every `everyMs`; an event
 * is reported at most that late, and the schedule's own timing is not touched.
 */
export async function followSchedule(
  schedule: Schedule,
  onEvent: (event: FaultEvent) => void,
  everyMs = 50,
): Promise<FaultEvent[]> {
  let seen = 0;
  const report = () => {
    while (seen < schedule.history.length) onEvent(schedule.history[seen++]);
  };
  const timer = setInterval(report, everyMs);
  try {
    const history = await schedule.done;
    report();
    return history;
  } finally {
    clearInterval(timer);
  }
}

/** An event for people: "1003 ms  partition leader, f2, f1 (3 ms late)", or its error. */
export function describeFaultEvent(event: FaultEvent): string {
  const what = event.heals ? `heal ${event.heals}` : event.action;
  const hosts = event.hosts.length > 0 ? ` ${event.hosts.join(", ")}` : "";
  const outcome = event.error ? ` failed: ${event.error}` : ` (${Math.round(event.lateMs)} ms late)`;
  return `${Math.round(event.appliedMs)} ms  ${what}${hosts}${outcome}`;
}
