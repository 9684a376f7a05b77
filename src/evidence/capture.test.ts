/**
 * capture() and snapshot() against the real kernel: the datagrams a test
 * sends are counted in the pcap, read byte by byte and by `tcpdump -r`;
 * bad input is refused before anything starts; an interface that goes away,
 * a full disk and cleanup end a capture with what it holds; a snapshot
 * shows links, peers, routes, qdisc counters and programs. Root and rootless.
 */
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { InvalidArgumentError } from "../errors.js";
import { processStartTime } from "../system/proc.js";
import { twoHosts } from "../test-support/two-hosts.js";
import { useNetwork } from "../testing/node-test.js";
import { CaptureError } from "./capture.js";
import { parsePcap } from "./pcap.js";
import { datagramsWith, sendDatagrams } from "./pcap.test-helpers.js";
import { captureEnginePids } from "./tcpdump.js";

const folder = mkdtempSync(join(tmpdir(), "dummynet-capture-test-"));
after(() => {
  rmSync(folder, { recursive: true, force: true });
});

const runs = (pid: number) => processStartTime(pid) !== undefined;

describe("capture", { timeout: 120_000 }, () => {
  test("records the datagrams a host sends: the pcap holds each one, read byte by byte and by tcpdump -r", async (t) => {
    const net = useNetwork(t, { evidence: "never" });
    const { a } = await twoHosts(net);
    const file = join(folder, "a.pcap");
    const capture = await net.capture(a, "a-b", { file });
    assert.equal(capture.file, file);
    await sendDatagrams(a, "10.0.0.2", 7, "seven");
    const result = await capture.stop();
    assert.equal(result.file, file);
    assert.equal(result.bytes, statSync(file).size);
    assert.equal(datagramsWith(file, "seven"), 7, "every datagram sent is in the file");
    assert.ok(result.packets >= 7, `the result counts at least the 7 datagrams, got ${result.packets}`);
    assert.equal(parsePcap(readFileSync(file)).linkType, 1, "an Ethernet capture");
    // The same from tcpdump itself: what users open it with.
    const read = execFileSync("tcpdump", ["-nn", "-r", file, "udp port 9"], { encoding: "utf8", timeout: 20_000 });
    assert.equal(read.trim().split("\n").length, 7, read);
    assert.deepEqual(await capture.stop(), result, "stop() again gives the same answer");
    // The engine is gone.
    assert.equal(captureEnginePids.has(capture.pid ?? -1), false, "the tcpdump process ended with stop()");
  });

  test("a Lab's capture and snapshot use the topology's names", async (t) => {
    const { useTopology } = await import("../testing/node-test.js");
    const lab = await useTopology(
      t,
      {
        text: "name: pair\nhosts: { a: {}, b: {} }\nlinks:\n  - ends: [{ at: a:eth0, address: 10.1.0.1/24 }, { at: b:eth0, address: 10.1.0.2/24 }]\n",
        format: "yaml",
      },
      { evidence: "never" },
    );
    const capture = await lab.capture("b", "eth0", { file: join(folder, "lab-b.pcap") });
    await sendDatagrams(lab.host("a"), lab.address("b"), 3, "labcap");
    const result = await capture.stop();
    assert.equal(datagramsWith(result.file, "labcap"), 3);
    const snapshot = await lab.snapshot();
    const names = snapshot.hosts.map((host) => host.name).sort();
    assert.deepEqual(names, ["a", "b"]);
    const a = snapshot.hosts.find((host) => host.name === "a")!;
    const eth0 = a.links.find((link) => link.name.endsWith("-eth0"))!;
    assert.ok(eth0.addresses.includes("10.1.0.1/24"), JSON.stringify(eth0));
    assert.match(eth0.peer ?? "", /^b:d-.+-eth0$/, "the peer in the other host is found");
    await assert.rejects(lab.capture("c", "eth0"), InvalidArgumentError);
  });

  test("bad input is refused before anything starts, naming the argument", async (t) => {
    const net = useNetwork(t, { evidence: "never" });
    const { a } = await twoHosts(net);
    const before = captureEnginePids.size;
    await assert.rejects(net.capture(a, "nope0"), (error: Error) => {
      assert.ok(error instanceof InvalidArgumentError);
      assert.match(error.message, /nope0/);
      assert.match(error.message, /a-b/, "lists the host's interfaces");
      return true;
    });
    await assert.rejects(net.capture("ghost", "a-b"), /ghost/);
    const missing = join(folder, "no-such-folder", "x.pcap");
    await assert.rejects(net.capture(a, "a-b", { file: missing }), (error: Error) => {
      assert.ok(error instanceof InvalidArgumentError);
      assert.ok(error.message.includes(missing), error.message);
      assert.match(error.message, /does not exist/);
      return true;
    });
    await assert.rejects(net.capture(a, "a-b", { snaplen: 10 }), /snaplen/);
    await assert.rejects(net.capture(a, "a-b", { maxBytes: 5 }), /maxBytes/);
    assert.equal(captureEnginePids.size, before, "no tcpdump was started");
  });

  test("an interface that goes away ends the capture: stop() names it and keeps what was written", async (t) => {
    const net = useNetwork(t, { evidence: "never" });
    const { a } = await twoHosts(net);
    const capture = await net.capture(a, "a-b", { file: join(folder, "gone.pcap") });
    await sendDatagrams(a, "10.0.0.2", 2, "beforegone");
    await a.linkDelete("a-b");
    // tcpdump notices by itself (pcap_loop: The interface disappeared); stop() after that, not racing it.
    const deadline = Date.now() + 10_000;
    while (runs(capture.pid!) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    const error = await capture.stop().then(
      () => assert.fail("stop() resolved although the interface went away"),
      (caught: unknown) => caught,
    );
    assert.ok(error instanceof CaptureError, String(error));
    assert.match(error.message, /a-b/);
    assert.ok(error.message.includes(capture.file), error.message);
    assert.equal(datagramsWith(error.result.file, "beforegone"), 2);
  });

  test("the file stops growing at maxBytes; what did not fit is counted", async (t) => {
    const net = useNetwork(t, { evidence: "never" });
    const { a } = await twoHosts(net);
    const capture = await net.capture(a, "a-b", { file: join(folder, "capped.pcap"), maxBytes: 1024 });
    await sendDatagrams(a, "10.0.0.2", 40, "capped");
    const result = await capture.stop();
    assert.ok(result.bytes <= 1024, `file of ${result.bytes} bytes`);
    assert.ok(result.dropped > 0, "packets past the cap are counted");
    assert.equal(parsePcap(readFileSync(result.file)).packets.length, result.packets);
  });

  test("cleanup stops a running capture and leaves no tcpdump", async (t) => {
    const net = useNetwork(t, { evidence: "never" });
    const { a } = await twoHosts(net);
    const capture = await net.capture(a, "a-b", { file: join(folder, "cleanup.pcap") });
    const pid = capture.pid!;
    await sendDatagrams(a, "10.0.0.2", 3, "cleanup");
    await net.cleanup();
    assert.equal(runs(pid), false, `tcpdump (pid ${pid}) still runs after cleanup`);
    assert.equal(datagramsWith(capture.file, "cleanup"), 3);
  });

  const fullDisk = process.getuid?.() === 0 ? false : "mounts a small tmpfs to fill it, which needs root";
  test("a full disk ends the capture with an error naming the file", { skip: fullDisk }, async (t) => {
    const net = useNetwork(t, { evidence: "never" });
    const { a } = await twoHosts(net);
    const small = mkdtempSync(join(tmpdir(), "dummynet-full-"));
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=16k", "tmpfs", small], { timeout: 10_000 });
    try {
      const capture = await net.capture(a, "a-b", { file: join(small, "full.pcap") });
      await sendDatagrams(a, "10.0.0.2", 60, "x".repeat(900));
      const error = await capture.stop().then(
        () => assert.fail("stop() resolved although the disk was full"),
        (caught: unknown) => caught,
      );
      assert.ok(error instanceof CaptureError, String(error));
      assert.ok(error.message.includes(join(small, "full.pcap")), error.message);
      assert.match(error.message, /ENOSPC|no space/i);
    } finally {
      execFileSync("umount", ["-l", small], { timeout: 10_000 });
      rmSync(small, { recursive: true, force: true });
    }
  });
});

describe("snapshot", { timeout: 120_000 }, () => {
  test("shows links with peers, addresses and state, routes, qdisc counters and programs", async (t) => {
    const net = useNetwork(t, { evidence: "never" });
    const { a, b } = await twoHosts(net);
    await a.route("10.0.0.2", { to: "10.9.0.0/24" });
    // A queueing qdisc of the plain kernel (no netem needed), so that its counters count.
    const ab = (await a.linkList())[0];
    await a.shell.system(["tc", "qdisc", "replace", "dev", ab.scoped, "root", "pfifo", "limit", "100"]);
    await sendDatagrams(a, "10.0.0.2", 5, "snap");
    const daemon = await b.runAsync([process.execPath, "-e", 'console.log("ready"); setInterval(() => {}, 1000)'], {
      daemon: true,
    });
    const deadline = Date.now() + 10_000;
    while (!daemon.stdout.includes("ready") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const snapshot = await net.snapshot();
    assert.deepEqual(JSON.parse(JSON.stringify(snapshot)), snapshot, "plain JSON");
    const hostA = snapshot.hosts.find((host) => host.name === "a")!;
    const link = hostA.links.find((l) => l.name === ab.scoped)!;
    assert.equal(link.peer, `b:${ab.scoped.replace(/a-b$/, "b-a")}`);
    assert.equal(link.adminUp, true);
    assert.equal(link.mtu, 1500);
    assert.ok(link.addresses.includes("10.0.0.1/24"));
    assert.ok(hostA.routes.some((route) => route.dst === "10.9.0.0/24" && route.gateway === "10.0.0.2"));
    const pfifo = hostA.qdiscs.find((qdisc) => qdisc.dev === ab.scoped && qdisc.kind === "pfifo")!;
    assert.ok(pfifo.sent.packets >= 5, `pfifo counted ${pfifo.sent.packets} packets`);
    assert.equal(typeof pfifo.dropped, "number");
    assert.equal(typeof pfifo.overlimits, "number");
    assert.equal(typeof pfifo.backlog.packets, "number");
    const program = snapshot.processes.find((p) => p.pid === daemon.pid)!;
    assert.equal(program.host, "b");
    assert.equal(program.state, "running");
    assert.deepEqual(program.stdout, ["ready"]);
    assert.deepEqual(snapshot.faults, []);
    await net.isolate(a);
    assert.deepEqual(
      (await net.snapshot()).faults.map((fault) => fault.kind),
      ["isolate"],
    );
  });
});
