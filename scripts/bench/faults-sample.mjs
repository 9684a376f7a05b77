// One sample of the faults section of `npm run bench`, in a fresh process, printed as one JSON line:
// - a generated schedule of 200 steps at 10 ms spacing (each fault lasting up to 5 ms) on 10 hosts of a bridge:
//   every event's lateMs (applied and healed);
// - the time from partition() resolving to the first packet dropped, from a sender sending every ~0.2 ms
//   (0: the fault was in force when the promise resolved);
// - partition() of 100 hosts (on one bridge) into two groups of 50: time to resolve, and heal() time.
//
// Usage: node faults-sample.mjs [SEED]
import { DummyNet } from "../../dist/index.js";
import { parseCommandLine } from "../args.mjs";

const [seedText = "1"] = parseCommandLine(
  "usage: node faults-sample.mjs [SEED]",
  {},
  { allowPositionals: true },
).positionals;
const seed = Number(seedText);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** n hosts h0..h(n-1) on bridge br0 in host sw, 10.0.x.y/16. */
async function star(net, n) {
  const sw = await net.netnsAdd("sw");
  const br = await sw.bridgeAdd("br0");
  await sw.up(br);
  const hosts = [];
  const queue = Array.from({ length: n }, (_, i) => i);
  const worker = async () => {
    for (let i = queue.shift(); i !== undefined; i = queue.shift()) {
      const host = await net.netnsAdd(`h${i}`);
      const [, port] = await net.linkVethAdd("eth0", `sw-h${i}`, { p1Namespace: host, p2Namespace: sw });
      await sw.bridgeSet(br, port);
      await sw.up(port);
      await host.addrAdd(`10.0.${Math.floor((i + 1) / 250)}.${((i + 1) % 250) + 1}/16`, "eth0");
      await host.up("eth0");
      hosts[i] = host;
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  return hosts;
}

const address = (i) => `10.0.${Math.floor((i + 1) / 250)}.${((i + 1) % 250) + 1}`;

const SENDER = `
const dgram = require("node:dgram");
const socket = dgram.createSocket("udp4");
const now = () => performance.timeOrigin + performance.now();
let next = now();
const loop = () => {
  while (now() >= next) { socket.send(String(now()), 9000, process.argv[1]); next += 0.2; }
  setImmediate(loop);
};
loop();`;
const RECEIVER = `
const dgram = require("node:dgram");
const socket = dgram.createSocket("udp4");
let last = 0, printed = 0;
socket.on("message", (m) => { last = Math.max(last, Number(m)); });
socket.bind(9000, () => console.log("ready"));
setInterval(() => { if (last !== printed) { printed = last; console.log("last " + last); } }, 20);`;

async function waitFor(info, pattern) {
  const deadline = Date.now() + 20_000;
  while (!pattern.test(info.stdout)) {
    if (Date.now() > deadline) throw new Error(`no ${pattern} in ${info.stdout}`);
    await sleep(10);
  }
}

const result = {};
let net = new DummyNet();
try {
  const hosts = await star(net, 10);
  // Warm up: the ip workers of every namespace and family exist before the timed schedule.
  await (await net.partition([hosts.slice(0, 5), hosts.slice(5)])).heal();

  const schedule = net.schedule({ every: 10, for: 2000, faults: ["partition", "block", "isolate"] }, { seed });
  const history = await schedule.done;
  result.steps = schedule.plan.length;
  result.lateMs = history.map((event) => event.lateMs);
  result.failed = history.filter((event) => event.error).length;

  const receiver = await hosts[1].runAsync(["node", "-e", RECEIVER]);
  await waitFor(receiver, /^ready$/m);
  await hosts[0].runAsync(["node", "-e", SENDER, address(1)]);
  await waitFor(receiver, /^last /m);
  await sleep(200);
  const fault = await net.partition([[hosts[0]], [hosts[1]]]);
  const resolvedAt = performance.timeOrigin + performance.now();
  await sleep(300);
  const lastReceived = Math.max(...[...receiver.stdout.matchAll(/^last (\S+)$/gm)].map((m) => Number(m[1])));
  result.firstDropAfterResolveMs = Math.max(0, lastReceived - resolvedAt);
  result.lastReceivedBeforeResolveMs = resolvedAt - lastReceived;
  await fault.heal();
  await net.processMonitor.stop({ validateState: false }).catch(() => undefined);
} finally {
  await net.cleanup();
}
net = new DummyNet();
try {
  const hosts = await star(net, 100);
  const started = performance.now();
  const fault = await net.partition([hosts.slice(0, 50), hosts.slice(50)]);
  result.partition100Ms = performance.now() - started;
  const healing = performance.now();
  await fault.heal();
  result.heal100Ms = performance.now() - healing;
  result.rulesPerHost = 50;
} finally {
  await net.cleanup();
}
console.log(JSON.stringify(result));
