/** The netem options `dummynet impair` takes, as flags: the program's declaration (main.ts) and the command (commands/impair.ts) read them. */
import type { TcOptions } from "../tc/netem-options.js";

export const IMPAIR_OPTIONS: { flag: string; key: keyof TcOptions; help: string; kind: "number" | "string" | "boolean" }[] = [
  { flag: "--delay <ms>", key: "delay", help: "added delay, ms", kind: "number" },
  { flag: "--jitter <ms>", key: "jitter", help: "delay variation, ms", kind: "number" },
  { flag: "--delay-correlation <percent>", key: "delayCorrelation", help: "correlation of successive delays", kind: "number" },
  { flag: "--distribution <name>", key: "distribution", help: "uniform, normal, pareto or paretonormal", kind: "string" },
  { flag: "--loss <percent>", key: "loss", help: "random packet loss", kind: "number" },
  { flag: "--loss-correlation <percent>", key: "lossCorrelation", help: "correlation of successive losses", kind: "number" },
  { flag: "--duplicate <percent>", key: "duplicate", help: "packet duplication", kind: "number" },
  { flag: "--corrupt <percent>", key: "corrupt", help: "bit corruption", kind: "number" },
  { flag: "--reorder <percent>", key: "reorder", help: "packets sent without the delay", kind: "number" },
  { flag: "--gap <n>", key: "gap", help: "reorder every n-th packet", kind: "number" },
  { flag: "--rate <mbit>", key: "rate", help: "rate limit, Mbit/s", kind: "number" },
  { flag: "--limit <packets>", key: "limit", help: "queue limit, packets", kind: "number" },
  { flag: "--seed <n>", key: "seed", help: "random seed", kind: "number" },
  { flag: "--ecn", key: "ecn", help: "mark with ECN instead of dropping", kind: "boolean" },
  { flag: "--ingress", key: "ingress", help: "apply the same options to received packets too", kind: "boolean" },
  { flag: "--reset", key: "reset", help: "start from an unimpaired link instead of changing the current values", kind: "boolean" },
];
