// The faults bench's schedule without the library, to see what the kernel, ip
// and two cores allow (docs/performance.md): 10 namespaces with one `ip -batch`
// worker each (spawned with -n); every 10 ms a step adds blackhole rules (3 in
// each of the 10, or 1 in each, or 1 in one), and heals them 1 to 5 ms after
// they are in force, at deadlines kept by the library's own atDeadline (so
// after `npm run build`); one acknowledgement per write. Prints the p50, p99 and
// max of the steps' and heals' lateness, in ms, as the bench's faults row does.
//
// Usage: node faults-floor.mjs [SEED]
import { execFileSync, spawn } from "node:child_process";
import { atDeadline } from "../../dist/faults/network-faults.js";
import { parseCommandLine } from "../args.mjs";

const [seedText = "1"] = parseCommandLine(
  "usage: node faults-floor.mjs [SEED]",
  {},
  { allowPositionals: true },
).positionals;
const HOSTS = 10;
const STEPS = 200;
const names = Array.from({ length: HOSTS }, (_, i) => `dnfloor${process.pid}-${i}`);
const ipBatch = (lines) => execFileSync("ip", ["-batch", "-"], { input: `${lines.join("\n")}\n`, timeout: 30_000 });

let seed = Number(seedText);
const random = () => {
  seed = (seed * 1103515245 + 12345) % 2 ** 31;
  return seed / 2 ** 31;
};

ipBatch(names.map((name) => `netns add ${name}`));
const workers = [];
try {
  for (const name of names) {
    const child = spawn("ip", ["-n", name, "-force", "-batch", "-"], { stdio: ["pipe", "ignore", "pipe"] });
    const worker = { child, stderr: "", waiting: [] };
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (text) => {
      worker.stderr += text;
      for (let match; (match = /"floor-ack"[^\n]*\nCommand failed -:\d+\n/.exec(worker.stderr));) {
        worker.stderr = worker.stderr.slice(match.index + match[0].length);
        worker.waiting.shift()?.();
      }
    });
    workers.push(worker);
  }
  const send = (worker, lines) =>
    new Promise((resolve) => {
      worker.waiting.push(resolve);
      worker.child.stdin.write(`${lines.join("\n")}\nfloor-ack\n`);
    });
  const rules = (count, verb) =>
    Array.from({ length: count }, (_, j) => `rule ${verb} pref 1 from 10.9.${j}.0/24 to 127.0.0.2 blackhole`);
  await Promise.all(workers.map((worker) => send(worker, ["rule add pref 2 lookup local"])));

  const late = [];
  const start = performance.now() + 50;
  await new Promise((done) => {
    let left = STEPS * 2;
    const ended = () => --left === 0 && done();
    for (let step = 0; step < STEPS; step++) {
      const planned = start + step * 10;
      atDeadline(planned, async () => {
        const kind = Math.floor(random() * 3);
        const targets = kind === 2 ? [workers[Math.floor(random() * HOSTS)]] : workers;
        const count = kind === 0 ? 3 : 1;
        await Promise.all(targets.map((worker) => send(worker, rules(count, "add"))));
        const applied = performance.now();
        late.push(applied - planned);
        const healAt = applied + 1 + random() * 4;
        atDeadline(healAt, async () => {
          await Promise.all(targets.map((worker) => send(worker, rules(count, "del"))));
          late.push(performance.now() - healAt);
          ended();
        });
        ended();
      });
    }
  });
  late.sort((a, b) => a - b);
  const at = (p) => late[Math.min(late.length - 1, Math.floor(p * late.length))].toFixed(2);
  console.log(`floor lateMs p50 ${at(0.5)} p99 ${at(0.99)} max ${late.at(-1).toFixed(2)} (${late.length} events)`);
} finally {
  for (const worker of workers) worker.child.stdin.end();
  await new Promise((resolve) => setTimeout(resolve, 200));
  ipBatch(names.map((name) => `netns del ${name}`));
}
