// A tiny replicated counter for examples/partition.yaml. The leader counts up
// every 100 ms; each follower asks it for the count every 100 ms over UDP and
// keeps the highest answer. Cut off, a follower falls behind (asks go
// unanswered: a partition drops packets silently); healed, it catches up.
//   node replica.mjs leader
//   node replica.mjs follower NAME LEADER_ADDRESS
import { createSocket } from "node:dgram";

const [role, name = "leader", leader = ""] = process.argv.slice(2);
const socket = createSocket("udp4");
if (role === "leader") {
  let count = 0;
  setInterval(() => count++, 100);
  setInterval(() => console.log(`leader at ${count}`), 1000);
  socket.on("message", (_, from) => socket.send(String(count), from.port, from.address));
  socket.bind(7000, () => console.log("leader listening on UDP port 7000"));
} else {
  let have = -1;
  let answered = 0;
  socket.on("message", (message) => {
    if (have < 0) console.log(`${name} replicating from ${leader}`);
    have = Math.max(have, Number(message));
    answered = Date.now();
  });
  setInterval(() => socket.send("?", 7000, leader), 100);
  setInterval(() => {
    const silent = Date.now() - answered;
    if (have >= 0) console.log(`${name} at ${have}${silent > 300 ? ` (no answer for ${silent} ms)` : ""}`);
  }, 500);
}
