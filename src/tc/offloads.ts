/**
 * The GSO size of a link the library rate-shapes on its way out: capped to
 * about one millisecond of the rate (advice.ts, gsoSizeForRate) while netem
 * shapes it, put back when the shaping ends. `ip link set ... gso_max_size`
 * is iproute2's way (no ethtool, which a fresh machine lacks); a kernel that
 * refuses it (Linux before 5.19 changes it only at creation) gets a warning,
 * never a failed tc() call. It applies to TCP connections made after the change.
 */
import { SystemCommandError } from "../errors.js";
import { gsoSizeForRate } from "./advice.js";
import type { TcShell } from "./netem-read.js";

interface LinkGso {
  gso_max_size?: number;
}

async function currentGsoSize(shell: TcShell, iface: string): Promise<number | undefined> {
  const result = await shell.system(["ip", "-d", "-j", "link", "show", "dev", iface]);
  return (JSON.parse(result.stdout) as LinkGso[])[0]?.gso_max_size;
}

async function setGsoSize(shell: TcShell, iface: string, size: number): Promise<void> {
  await shell.system(["ip", "link", "set", "dev", iface, "gso_max_size", String(size)]);
}

/** One link's GSO cap: follows the outgoing rate of each tc() call, and undoes itself. */
export class GsoCap {
  /** The link's gso_max_size before the first cap; undefined while not capped. */
  #original: number | undefined;
  #applied: number | undefined;

  constructor(
    readonly shell: TcShell,
    readonly iface: string,
  ) {}

  /** The gso_max_size set by the library now, if any. */
  get applied(): number | undefined {
    return this.#applied;
  }

  /** Caps GSO for an outgoing rate (Mbit/s), or puts the original back when there is no rate any more. */
  async follow(rateMbit: number | undefined): Promise<void> {
    if (rateMbit === undefined) return this.restore();
    try {
      const current = await currentGsoSize(this.shell, this.iface);
      if (current === undefined) return; // iproute2 too old to print it: leave the link alone
      const original = this.#original ?? current;
      const size = gsoSizeForRate(rateMbit, original);
      if (size === current) {
        if (this.#original !== undefined) this.#applied = size;
        return;
      }
      await setGsoSize(this.shell, this.iface, size);
      this.#original = original;
      this.#applied = size;
    } catch (error) {
      if (!(error instanceof SystemCommandError)) throw error;
      this.shell.log.warn(
        `tc on ${this.iface}: could not cap its GSO size for the rate of ${rateMbit} Mbit/s (${error.stderr.trim() || error.message}); ` +
          `TCP leaves in bursts of up to 64 kB, which netem passes as one packet (docs/fidelity.md, "Offloads"); ` +
          `on this kernel \`ethtool -K ${this.iface} tso off gso off\` has the same effect`,
      );
    }
  }

  /** Puts back the gso_max_size seen before the first cap. A device already gone is no error (it took its setting along). */
  async restore(): Promise<void> {
    const original = this.#original;
    if (original === undefined) return;
    this.#original = undefined;
    this.#applied = undefined;
    try {
      await setGsoSize(this.shell, this.iface, original);
    } catch (error) {
      if (error instanceof SystemCommandError && /Cannot find device|does not exist|No such device/i.test(error.stderr)) return;
      throw error;
    }
  }
}
