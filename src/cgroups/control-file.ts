/**
 * Reading and writing cgroup control files (cpu.max, cgroup.procs, ...).
 * Writes are direct: one open without O_CREAT (a missing file is an error,
 * never a stray new file on a tmpfs) and one write() per value, as the kernel
 * expects. Failures become DummyNetErrors that say what was written where and
 * why the kernel refused.
 */
import { constants } from "node:fs";
import { open, readFile } from "node:fs/promises";
import { join } from "node:path";
import { DummyNetError } from "../errors.js";

/** Why the kernel refuses a cgroup write, by errno. */
const REFUSALS: Record<string, string> = {
  EACCES:
    "permission denied: cgroups need root, or a cgroup subtree delegated to this user (e.g. `systemd-run --user --scope -p Delegate=yes`) passed as the layout's parent",
  EPERM:
    "operation not permitted: cgroups need root, or a cgroup subtree delegated to this user (e.g. `systemd-run --user --scope -p Delegate=yes`) passed as the layout's parent",
  EROFS: "the cgroup file system is mounted read-only (inside a container?); mount it read-write or run on the host",
  ENOENT: "the file does not exist: the cgroup is gone, or its controller is not enabled for it",
  ESRCH: "no such process: it has exited",
  EBUSY:
    "the kernel is busy with this value (for a memory limit: the cgroup uses more than that and cannot reclaim it)",
  EINVAL: "the kernel rejected the value",
  EOPNOTSUPP: "the kernel does not support this here (e.g. a threaded cgroup)",
  ENOSPC: "no room: for cgroup.procs in cgroup v2, the cgroup's controllers need it to be a leaf",
};

/** A DummyNetError for a failed cgroup file operation; `cause` is the errno error. */
export function cgroupFileError(action: string, path: string, error: unknown): DummyNetError {
  const code = (error as NodeJS.ErrnoException).code ?? "";
  const reason = REFUSALS[code] ?? (error as Error).message;
  return new DummyNetError(`Could not ${action} ${path}: ${code ? `${code}, ` : ""}${reason}`, { cause: error });
}

/** Writes `value` to `dir/file` in a single write(); the file must exist. */
export async function writeControlFile(dir: string, file: string, value: string): Promise<void> {
  const path = join(dir, file);
  let handle;
  try {
    // O_WRONLY without O_CREAT: kernfs refuses read opens of write-only files (cgroup.kill).
    handle = await open(path, constants.O_WRONLY);
    const { bytesWritten } = await handle.write(value);
    if (bytesWritten !== Buffer.byteLength(value)) throw new Error(`short write (${bytesWritten} bytes)`);
  } catch (error) {
    throw cgroupFileError(`write ${JSON.stringify(value)} to`, path, error);
  } finally {
    await handle?.close();
  }
}

/** Reads `dir/file` as text, trimmed. */
export async function readControlFile(dir: string, file: string): Promise<string> {
  const path = join(dir, file);
  try {
    return (await readFile(path, "utf8")).trim();
  } catch (error) {
    throw cgroupFileError("read", path, error);
  }
}

/** The pids listed in `dir/cgroup.procs`; empty when the cgroup is gone. */
export async function readProcs(dir: string): Promise<number[]> {
  let text: string;
  try {
    text = await readFile(join(dir, "cgroup.procs"), "utf8");
  } catch (error) {
    // ENODEV: a cgroup v1 directory being removed while it is read (seen by the reaper under load).
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENODEV") return [];
    throw cgroupFileError("read", join(dir, "cgroup.procs"), error);
  }
  return text.split("\n").filter(Boolean).map(Number);
}
