// Boots one kernel lab guest (QEMU or user-mode Linux) to its end, its console to a log file.
import { spawn } from "node:child_process";
import { createWriteStream } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";

/** Printed by guest-init.sh first: the kernel and the initramfs did their part. */
const GUEST_UP_MARKER = "[lab] guest kernel up";

export function umlArguments({ runDir, appendWords, initScript }) {
  return [
    "mem=1536M",
    "quiet",
    "root=/dev/root",
    "rootfstype=hostfs",
    "rootflags=/",
    "rw",
    `init=${initScript}`,
    // The guest's control socket directory: in the run directory, not in ~/.uml.
    `uml_dir=${join(runDir, "uml")}`,
    "con=null",
    "con0=fd:0,fd:1",
    ...appendWords,
  ];
}

/** The QEMU command line for one boot. */
export function qemuArguments({ lab, accel, initramfs, appendWords }) {
  const cpus = Math.max(1, Math.min(4, availableParallelism()));
  return [
    "-nodefaults",
    "-no-user-config",
    "-display",
    "none",
    "-monitor",
    "none",
    "-serial",
    "stdio",
    "-no-reboot",
    ...(accel === "kvm" ? ["-accel", "kvm", "-cpu", "host"] : ["-accel", "tcg,thread=multi", "-cpu", "max"]),
    "-m",
    "2048",
    "-smp",
    String(cpus),
    "-kernel",
    lab.kernel,
    "-initrd",
    initramfs,
    // panic=-1 with -no-reboot: a kernel panic ends QEMU at once (the console tail says why).
    "-append",
    ["console=ttyS0", "panic=-1", "rdinit=/init", "quiet", ...appendWords].join(" "),
    // The host's / is the guest's root; multidevs=remap keeps inode numbers of different host file systems apart.
    "-fsdev",
    "local,id=root,path=/,security_model=passthrough,multidevs=remap",
    "-device",
    "virtio-9p-pci,fsdev=root,mount_tag=host",
  ];
}

/** What a guest kernel prints when a CPU stopped making progress: the run cannot finish, so it ends at once. */
const KERNEL_STALL = /rcu: INFO: rcu_\w+ (self-)?detected stalls?|watchdog: BUG: soft lockup/;

/**
 * Runs one guest to its end, the console to `consolePath` (and, from the
 * guest init's first line on, to `output`). Killed after `timeoutMs`, or after
 * `upWithinMs` if the guest init has not spoken by then.
 * @returns {Promise<{ exit: { code: number | null, signal: string | null }, timedOut: boolean,
 *   cameUp: boolean, gaveUp: boolean, stalled?: string, upMs?: number }>}
 */
export async function bootGuest({ program, args, consolePath, output, timeoutMs, upWithinMs }) {
  const consoleLog = createWriteStream(consolePath);
  // Own process group, so QEMU and anything it starts can be killed together.
  const guest = spawn(program, args, { stdio: ["ignore", "pipe", "pipe"], detached: true });
  const state = { timedOut: false, cameUp: false, gaveUp: false, stalled: undefined, upMs: undefined };
  // Kernel boot messages go to the console log only; the console is shown from init's first line on.
  let held = "";
  const forward = (chunk) => {
    consoleLog.write(chunk);
    // The serial console ends lines with \r\n.
    const text = chunk.toString("utf8").replace(/\r/g, "");
    const stall = state.stalled === undefined ? KERNEL_STALL.exec(text) : null;
    if (stall) {
      state.stalled = stall[0];
      output.write(`\n[lab] the guest kernel reports "${stall[0]}": it will not finish, killing it\n`);
      setImmediate(killGuest);
    }
    if (state.cameUp) {
      output.write(text);
      return;
    }
    held += text;
    const at = held.indexOf(GUEST_UP_MARKER);
    if (at >= 0) {
      state.cameUp = true;
      state.upMs = Date.now();
      output.write(held.slice(at));
      held = "";
    } else if (held.length > 1 << 20) {
      held = held.slice(-(1 << 16));
    }
  };
  guest.stdout.on("data", forward);
  guest.stderr.on("data", forward);

  const killGuest = () => {
    try {
      process.kill(-guest.pid, "SIGKILL");
    } catch {
      // already gone
    }
  };
  const timer = setTimeout(
    () => {
      state.timedOut = true;
      output.write(`\n[lab] the guest ran longer than ${Math.round(timeoutMs / 1000)} s: killing it\n`);
      killGuest();
    },
    Math.max(0, timeoutMs),
  );
  const probe =
    upWithinMs === undefined
      ? undefined
      : setTimeout(() => {
          if (state.cameUp) return;
          state.gaveUp = true;
          killGuest();
        }, upWithinMs);
  // Interrupting the test command must not leave a guest running.
  const onSignal = (signal) => {
    killGuest();
    process.kill(process.pid, signal);
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);

  const exit = await new Promise((resolveExit) =>
    guest
      .on("close", (code, signal) => resolveExit({ code, signal }))
      .on("error", (error) => resolveExit({ code: null, signal: error.message })),
  );
  clearTimeout(timer);
  clearTimeout(probe);
  process.off("SIGINT", onSignal);
  process.off("SIGTERM", onSignal);
  await new Promise((resolveEnd) => consoleLog.end(resolveEnd));
  return { exit, ...state };
}
