/**
 * How late this machine wakes a sleeper: `samples` sleeps of 1 ms
 * (Atomics.wait, a futex with a timeout: the kernel's high-resolution timer
 * and the scheduler, no event loop), each one's overshoot, in ms. netem
 * releases a delayed packet with the same kind of timer, so this is the floor
 * under every delay measured on the machine (the fidelity sweep, `doctor`).
 */
export function timerLateness(samples: number): {
  samples: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
} {
  const cell = new Int32Array(new SharedArrayBuffer(4));
  const late: number[] = [];
  for (let i = 0; i < samples; i++) {
    const start = performance.now();
    Atomics.wait(cell, 0, 0, 1);
    late.push(Math.max(0, performance.now() - start - 1));
  }
  late.sort((x, y) => x - y);
  const at = (q: number) => Number(late[Math.min(late.length - 1, Math.floor(q * late.length))].toFixed(3));
  return { samples: late.length, p50: at(0.5), p90: at(0.9), p99: at(0.99), max: at(1) };
}
