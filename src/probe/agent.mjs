// The probe's two agents, one small Node.js program started inside a host
// (network namespace) by src/probe/probe.ts. Plain JavaScript on purpose: it
// runs with `process.execPath agent.mjs ...` from the sources (tests) and from
// dist/ (copied there by the build), with no loader and no dependencies.
//
//   agent.mjs echo --family 4|6 --lifetime MS
//     Reflects every UDP datagram to its sender and counts the bytes of each
//     TCP connection; when a connection's sender has finished, writes back
//     "<bytes> <nanoseconds from accept to the end>\n". Prints
//     "ready <udp port> <tcp port>" once both listen (ephemeral ports), and
//     exits after --lifetime ms whatever happens (an orphan must not linger).
//
//   agent.mjs send --address A --udp-port P --count N --interval-ms I --size S
//                  --late-wait-max MS [--tcp-port Q (--tcp-seconds S | --tcp-bytes B)]
//     Sends N datagrams of S bytes, one every I ms, each holding a run id, its
//     sequence number and its send time on this process's monotonic clock (so
//     the round trip needs no clock sync); after the last, waits for late
//     replies (max(1 s, 3 x p99 so far), at most --late-wait-max ms); when all
//     came back sooner, for late duplicates max(20 ms, 2 x p99) more (within that bound). Then, with --tcp-port, a timed bulk TCP transfer. Prints, one
//     per line: "r <seq> <rtt ms>" for every reply in arrival order (duplicates
//     included), "err <count> <first message>" for failed sends, "sent <n>",
//     and "tcp <bytes> <ns>" (the receiver's count) or "tcp-error <message>".
//     The caller does the accounting (src/probe/accounting.ts).
import { createSocket } from "node:dgram";
import { createConnection, createServer } from "node:net";
import { randomBytes } from "node:crypto";

/** Run id (4) + sequence number (4) + send time in ns (8): the smallest datagram. */
const HEADER_BYTES = 16;
const TCP_CHUNK = Buffer.alloc(64 * 1024, 0x5a);
/** Longest the sender waits for the TCP connection and, after sending, for the receiver's count. */
const TCP_HANDSHAKE_MS = 5000;

const [mode, ...rest] = process.argv.slice(2);
const options = parseOptions(rest);

if (mode === "echo") echo();
else if (mode === "send") await send();
else fail(`unknown mode ${JSON.stringify(mode)}: expected echo or send`);

function parseOptions(args) {
  const parsed = {};
  for (let i = 0; i < args.length; i += 2) {
    if (!args[i].startsWith("--") || args[i + 1] === undefined) fail(`bad arguments: ${JSON.stringify(args)}`);
    parsed[args[i].slice(2)] = args[i + 1];
  }
  return parsed;
}

function number(name) {
  const value = Number(options[name]);
  if (options[name] === undefined || !Number.isFinite(value) || value < 0)
    fail(`--${name} must be a non-negative number, got ${JSON.stringify(options[name])}`);
  return value;
}

function fail(message) {
  process.stderr.write(`probe agent: ${message}\n`);
  process.exit(2);
}

function echo() {
  const family = options.family === "6" ? 6 : 4;
  const lifetime = setTimeout(() => process.exit(0), number("lifetime"));
  lifetime.unref();
  const udp = createSocket(family === 6 ? "udp6" : "udp4");
  udp.on("message", (message, from) => udp.send(message, from.port, from.address));
  // A reply that cannot be sent (the way back is down) is a lost reply, not a reason to stop.
  udp.on("error", (error) => process.stderr.write(`probe agent: udp: ${error.message}\n`));
  const tcp = createServer((socket) => {
    const accepted = process.hrtime.bigint();
    let bytes = 0;
    socket.on("data", (chunk) => (bytes += chunk.length));
    socket.on("end", () => socket.end(`${bytes} ${process.hrtime.bigint() - accepted}\n`));
    socket.on("error", () => socket.destroy());
  });
  tcp.on("error", (error) => fail(`tcp: ${error.message}`));
  const any = family === 6 ? "::" : "0.0.0.0";
  udp.bind(0, any, () => {
    tcp.listen(0, any, () => {
      process.stdout.write(`ready ${udp.address().port} ${tcp.address().port}\n`);
      // Keep running until stopped (or the lifetime ends): the sockets hold the event loop.
      lifetime.ref();
    });
  });
}

async function send() {
  const address = options.address;
  const family = address?.includes(":") ? 6 : 4;
  const port = number("udp-port");
  const count = number("count");
  const interval = number("interval-ms");
  const size = Math.max(HEADER_BYTES, number("size"));
  const lateWaitMax = number("late-wait-max");
  const runId = randomBytes(4).readUInt32BE(0);

  const lines = [];
  const seen = new Uint8Array(count);
  let unique = 0;
  const rtts = [];
  let allBack;
  const everyReply = new Promise((resolve) => (allBack = resolve));

  const socket = createSocket(family === 6 ? "udp6" : "udp4");
  socket.on("message", (message) => {
    const now = process.hrtime.bigint();
    if (message.length < HEADER_BYTES || message.readUInt32BE(0) !== runId) return; // not ours
    const seq = message.readUInt32BE(4);
    if (seq >= count) return;
    const rtt = Number(now - message.readBigUInt64BE(8)) / 1e6;
    lines.push(`r ${seq} ${rtt.toFixed(4)}`);
    rtts.push(rtt);
    if (!seen[seq]) {
      seen[seq] = 1;
      if (++unique === count) allBack();
    }
  });
  let sendErrors = 0;
  let firstSendError = "";
  const sendFailed = (error) => {
    if (sendErrors++ === 0) firstSendError = error.message;
  };
  socket.on("error", sendFailed);
  await new Promise((resolve) => socket.bind(0, resolve));

  const packet = Buffer.alloc(size);
  packet.writeUInt32BE(runId, 0);
  const start = performance.now();
  for (let seq = 0; seq < count; seq++) {
    // On schedule, never in bursts: a late timer sends one datagram and the next keeps the interval.
    const due = start + seq * interval;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    else if (seq > 0 && interval > 0) await sleep(0);
    const datagram = Buffer.from(packet);
    datagram.writeUInt32BE(seq, 4);
    datagram.writeBigUInt64BE(process.hrtime.bigint(), 8);
    socket.send(datagram, port, address, (error) => error && sendFailed(error));
  }
  const lastSent = performance.now();
  const lateWait = Math.min(lateWaitMax, Math.max(1000, 3 * percentile(rtts, 0.99)));
  await Promise.race([everyReply, sleep(lateWait)]);
  // All back early: a duplicate of the last ones may still be on its way, so listen a little longer (within the same bound).
  const grace = Math.min(lateWait - (performance.now() - lastSent), Math.max(20, 2 * percentile(rtts, 0.99)));
  if (grace > 0) await sleep(grace);
  socket.close();

  lines.push(`sent ${count}`);
  if (sendErrors > 0) lines.push(`err ${sendErrors} ${firstSendError.replace(/\s+/g, " ")}`);
  if (options["tcp-port"] !== undefined) lines.push(await bulkTransfer(address, number("tcp-port")));
  process.stdout.write(lines.join("\n") + "\n");
}

/** Sends as fast as TCP lets for --tcp-seconds (or --tcp-bytes), then asks the receiver how much arrived and how long it took. */
function bulkTransfer(address, port) {
  const seconds = options["tcp-seconds"] !== undefined ? number("tcp-seconds") : undefined;
  let left = options["tcp-bytes"] !== undefined ? number("tcp-bytes") : Infinity;
  return new Promise((resolve) => {
    let reply = "";
    let finished = false;
    const finish = (line) => {
      if (finished) return;
      finished = true;
      clearTimeout(watchdog);
      clearTimeout(stopAfter);
      socket.destroy();
      resolve(line);
    };
    let watchdog = setTimeout(
      () => finish(`tcp-error no connection to ${address}:${port} within ${TCP_HANDSHAKE_MS} ms`),
      TCP_HANDSHAKE_MS,
    );
    let stopAfter;
    let done = false;
    const socket = createConnection({ host: address, port, noDelay: false });
    const end = () => {
      if (done) return;
      done = true;
      socket.end();
      clearTimeout(watchdog);
      watchdog = setTimeout(
        () => finish(`tcp-error the receiver did not report within ${TCP_HANDSHAKE_MS} ms of the end`),
        TCP_HANDSHAKE_MS,
      );
    };
    const pump = () => {
      while (!done) {
        if (left <= 0) return end();
        const chunk = left < TCP_CHUNK.length ? TCP_CHUNK.subarray(0, left) : TCP_CHUNK;
        left -= chunk.length;
        if (!socket.write(chunk)) return void socket.once("drain", pump);
      }
    };
    socket.on("connect", () => {
      clearTimeout(watchdog);
      if (seconds !== undefined) stopAfter = setTimeout(end, seconds * 1000);
      pump();
    });
    socket.on("data", (chunk) => {
      reply += chunk.toString();
      const newline = reply.indexOf("\n");
      if (newline >= 0) finish(`tcp ${reply.slice(0, newline).trim()}`);
    });
    socket.on("error", (error) => finish(`tcp-error ${error.message.replace(/\s+/g, " ")}`));
    socket.on("close", () => finish(`tcp-error the connection closed before the receiver reported`));
  });
}

function percentile(values, fraction) {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))];
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
