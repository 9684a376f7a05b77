/**
 * The rules for cgroup arguments (CPU and memory limits), checked before
 * anything changes on the system, and the conversion of a limit into the
 * values the kernel's control files take.
 */
import { availableParallelism, totalmem } from "node:os";
import { InvalidArgumentError } from "../errors.js";

/** CFS period in microseconds, the kernel's and Docker's default. */
export const CPU_PERIOD_US = 100_000;
/** The kernel's smallest CFS quota (1 ms), so the smallest limit is 0.01 CPU. */
const CPU_QUOTA_MIN_US = 1_000;
export const CPU_LIMIT_MIN = CPU_QUOTA_MIN_US / CPU_PERIOD_US;

/**
 * Checks a CPU limit in CPUs, as `docker --cpus`: 0.5 is half of one CPU,
 * 2 is two full CPUs; at most the CPUs this process may run on.
 */
export function validateCpuLimit(value: unknown, argument = "cpuLimit"): number {
  const cpus = availableParallelism();
  const rule =
    `must be a number of CPUs from ${CPU_LIMIT_MIN} (the kernel's 1 ms per 100 ms period) to ${cpus} ` +
    `(the CPUs of this machine), like docker --cpus: pass e.g. 0.5 for half of one CPU`;
  if (typeof value !== "number" || !Number.isFinite(value)) throw new InvalidArgumentError(argument, value, rule);
  if (value < CPU_LIMIT_MIN || value > cpus) throw new InvalidArgumentError(argument, value, rule);
  return value;
}

/** Checks a memory limit in bytes: a whole number above 0 and below the machine's memory. */
export function validateMemoryLimit(value: unknown, argument = "memoryLimit"): number {
  const total = totalmem();
  const rule =
    `must be a whole number of bytes greater than 0 and less than this machine's memory (${total} bytes): ` +
    `pass e.g. ${256 * 1024 * 1024} for 256 MiB`;
  if (typeof value !== "number" || !Number.isSafeInteger(value)) throw new InvalidArgumentError(argument, value, rule);
  if (value <= 0 || value >= total) throw new InvalidArgumentError(argument, value, rule);
  return value;
}

/** Quota and period for a CPU limit: 0.2 CPUs -> 20000 us every 100000 us. */
export function cpuQuota(cpus: number): { quotaUs: number; periodUs: number } {
  return { quotaUs: Math.max(CPU_QUOTA_MIN_US, Math.round(cpus * CPU_PERIOD_US)), periodUs: CPU_PERIOD_US };
}
