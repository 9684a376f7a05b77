/**
 * DummyNet against the real kernel: the reference library's scenarios
 * (three namespaces through a bridge, link delete bookkeeping, up/down state
 * kept, route teardown, netnsUse), traffic across the network, NAT and
 * forwarding, and bad input refused before anything changes.
 */
import { after, afterEach, beforeEach, describe, test } from "node:test";
import { parseIpJson } from "../system/ip-json.js";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { DummyNet } from "./dummy-net.js";
import { InvalidArgumentError, SystemCommandError } from "../errors.js";
import { InterfaceScoped, type NamespaceScoped } from "../names/scoped.js";
import { systemPath } from "../system/privilege.js";
import { detectCapabilities } from "../capabilities/index.js";
import { assertNothingLeft, leftovers } from "../testing/leftovers.js";
import { rootlessExcluded, runsRootless } from "../test-support/rootless.js";

/** Runs `argv` where the network's own commands run (as it is as root; inside the holder when rootless, whose namespaces the host cannot see). */
function look(argv: readonly string[]): string {
  const [program, ...args] = net.shell.privilege.wrap(argv);
  return execFileSync(program, args, { encoding: "utf8", timeout: 30_000 });
}

// eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- the caller names the shape of the JSON; it is not checked
function ipJson<T>(args: string[]): T {
  return parseIpJson<T>(look(["ip", "-j", ...args]));
}

/** Whether named namespace `ns` exists where the network's commands see /run/netns. */
function netnsExists(ns: DummyNet): boolean {
  return existsSync(systemPath(net.shell.privilege, `/run/netns/${ns.namespace.scoped}`));
}

/** The one child of process `pid`, once it has one (at most 10 s). */
async function onlyChild(pid: number): Promise<number> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8")
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
    if (children.length === 1) return children[0];
    if (Date.now() > deadline)
      assert.fail(`process ${pid} has children [${children.join(", ")}] 10 s after it started, not one`);
    await new Promise((done) => setTimeout(done, 20));
  }
}

/**
 * A veth between two namespaces: made in the host namespace and moved there (the reference's way, linkSet
 * with a name and with a scoped interface) as root; rootless, where the host namespace is refused, born in place.
 */
async function vethBetween(
  p1: string,
  p2: string,
  ns1: DummyNet | string,
  ns2: DummyNet | NamespaceScoped,
): Promise<[InterfaceScoped, InterfaceScoped]> {
  if (runsRootless()) return net.linkVethAdd(p1, p2, { p1Namespace: ns1, p2Namespace: ns2 });
  const [a, b] = await net.linkVethAdd(p1, p2);
  await net.linkSet(ns1, p1);
  await net.linkSet(ns2, b);
  return [a, b];
}

function adminState(iface: InterfaceScoped, namespace?: string): "up" | "down" {
  const [link] = ipJson<{ flags: string[] }[]>([
    ...(namespace ? ["-n", namespace] : []),
    "link",
    "show",
    "dev",
    iface.scoped,
  ]);
  return link.flags.includes("UP") ? "up" : "down";
}

// Each test gets its own owner uid, so a failure in one never confuses the next.
let nextUid = (process.pid % 100000) * 10 + 1000000;
let net: DummyNet;

describe("DummyNet on the real kernel", { timeout: 600_000 }, () => {
  beforeEach(async () => {
    net = new DummyNet({ uid: nextUid++ });
    assert.deepEqual(await net.netnsList(), []);
    assert.deepEqual(await net.linkList(), []);
  });

  afterEach(async () => {
    await net.cleanup();
    assertNothingLeft(net.uid);
  });

  after(() => {
    for (let uid = (process.pid % 100000) * 10 + 1000000; uid < nextUid; uid++) assertNothingLeft(uid);
  });

  test("three namespaces through a bridge: ping gets through", async () => {
    const demo0 = await net.netnsAdd("demo0");
    const demo1 = await net.netnsAdd("demo1");
    const demo2 = await net.netnsAdd("demo2");
    assert.deepEqual(
      (await net.netnsList()).map(String),
      [demo0.namespace, demo1.namespace, demo2.namespace].map(String).sort(),
    );
    const br0 = await demo1.bridgeAdd("br0");
    const [d00, d10] = await vethBetween("demo0_0", "demo1_0", demo0, demo1);
    const [d11, d20] = await vethBetween("demo1_1", "demo2_0", "demo1", demo2.namespace);
    await demo1.bridgeSet(br0, d10);
    await demo1.bridgeSet("br0", d11);
    await demo0.addrAdd("10.0.0.1/24", d00);
    await demo2.addrAdd("10.0.0.2/24", "demo2_0");
    for (const [ns, iface] of [
      [demo0, d00],
      [demo1, br0],
      [demo1, d10],
      [demo1, d11],
      [demo2, d20],
    ] as const) {
      await ns.up(iface);
    }
    assert.deepEqual((await demo1.bridgeList()).map(String), [br0.scoped]);
    const out = await demo0.run("ping -c 3 -i 0.2 -W 2 10.0.0.2");
    out.match({ stdout: "3 packets transmitted, 3 received*" });
    // The kernel agrees with what we think we built.
    const [addr] = ipJson<{ addr_info: { local: string; prefixlen: number }[] }[]>([
      "-n",
      demo2.namespace.scoped,
      "addr",
      "show",
      "dev",
      d20.scoped,
    ]);
    assert.ok(addr.addr_info.some((a) => a.local === "10.0.0.2" && a.prefixlen === 24));
  });

  test("IPv6 addresses work at once (no duplicate address detection wait)", async () => {
    const a = await net.netnsAdd("a");
    const b = await net.netnsAdd("b");
    const [va, vb] = await vethBetween("va", "vb", a, b);
    await a.addrAdd("fd00:1::1/64", va);
    await b.addrAdd("fd00:1::2/64", vb);
    await a.up(va);
    await b.up(vb);
    (await a.run(["ping", "-6", "-c", "2", "-i", "0.2", "-W", "2", "fd00:1::2"])).match({
      stdout: "2 packets transmitted, 2 received*",
    });
  });

  test("a TCP transfer crosses a routed, NATed network", async () => {
    const client = await net.netnsAdd("client");
    const router = await net.netnsAdd("router");
    const server = await net.netnsAdd("server");
    const [c0, r0] = await vethBetween("c0", "r0", client, router);
    const [r1, s0] = await vethBetween("r1", "s0", router, server);
    await client.addrAdd("192.168.10.2/24", c0);
    await router.addrAdd("192.168.10.1/24", r0);
    await router.addrAdd("172.16.20.1/24", r1);
    await server.addrAdd("172.16.20.2/24", s0);
    for (const [ns, iface] of [
      [client, c0],
      [router, r0],
      [router, r1],
      [server, s0],
    ] as const)
      await ns.up(iface);
    await client.route("192.168.10.1");
    await router.sysctl("net.ipv4.ip_forward", 1);
    await router.forward(r0, r1);
    await router.forward(r1, r0);
    await router.nat("192.168.10.0/24", r1);
    // The server has no route back to 192.168.10.0/24: only NAT makes the reply possible.
    const script =
      "const s=require('net').createServer(c=>{let n=0;c.on('data',d=>n+=d.length);c.on('end',()=>{c.end(c.remoteAddress+' '+n)})});s.listen(5001,'172.16.20.2',()=>console.log('listening'))";
    const serverInfo = await server.runAsync([process.execPath, "-e", script], { daemon: true });
    await server.shell.pollUntil(["ss", "-ltn"], { matchStdout: "*172.16.20.2:5001*", timeout: 10000 });
    const clientScript =
      "const c=require('net').connect(5001,'172.16.20.2',()=>{c.end(Buffer.alloc(1<<20))});let r='';c.on('data',d=>r+=d);c.on('end',()=>console.log(r))";
    const result = await client.run([process.execPath, "-e", clientScript], { timeout: 20000 });
    assert.equal(
      result.stdout.trim(),
      `172.16.20.1 ${1 << 20}`,
      "the server saw the router's address (NAT) and every byte",
    );
    const rules = look(["ip", "netns", "exec", router.namespace.scoped, "iptables", "-t", "nat", "-S", "POSTROUTING"]);
    assert.match(rules, /MASQUERADE/);
    assert.ok(serverInfo.pid! > 0);
  });

  test("veth ends born in their namespaces, and a route to a subnet", async () => {
    const a = await net.netnsAdd("a");
    const b = await net.netnsAdd("b");
    const [va, vb] = await net.linkVethAdd("va", "vb", { p1Namespace: a, p2Namespace: "b" });
    assert.deepEqual((await net.linkList()).map(String), [], "nothing in the host namespace");
    assert.deepEqual((await a.linkList()).map(String), [va.scoped]);
    assert.deepEqual((await b.linkList()).map(String), [vb.scoped]);
    await a.addrAdd("10.40.0.1/24", va);
    await b.addrAdd("10.40.0.2/24", vb);
    await a.up(va);
    await b.up(vb);
    await b.addrAdd("10.41.0.1/32", "lo");
    await a.route("10.40.0.2", { to: "10.41.0.0/24" });
    const routes = ipJson<{ dst: string; gateway?: string }[]>(["-n", a.namespace.scoped, "route"]);
    assert.ok(routes.some((r) => r.dst === "10.41.0.0/24" && r.gateway === "10.40.0.2"));
    (await a.run(["ping", "-c", "1", "-W", "2", "10.41.0.1"])).match({ stdout: "1 packets transmitted, 1 received*" });
    await assert.rejects(net.linkVethAdd("x", "y", { p1Namespace: "nowhere" }), /namespace: "nowhere" does not exist/);
    // A pair made in one host's namespace, deleted by its own undo when the namespace lives on
    // (its other end in the host namespace; rootless, which refuses that, in b).
    const keep = new DummyNet({ uid: net.uid + 500000 });
    try {
      const [ka] = await keep.linkVethAdd("ka", "kb", { p1Namespace: runsRootless() ? b : undefined, p2Namespace: a });
      if (runsRootless())
        assert.ok(ipJson<{ ifname: string }[]>(["-n", b.namespace.scoped, "link"]).some((l) => l.ifname === ka.scoped));
      else assert.deepEqual((await keep.linkList()).map(String), [ka.scoped]);
    } finally {
      await keep.cleanup();
    }
    assert.deepEqual(leftovers(net.uid + 500000), []);
    assert.deepEqual(
      ipJson<{ ifname: string }[]>(["-n", a.namespace.scoped, "link"]).filter((l) => l.ifname.includes("kb")),
      [],
    );
  });

  test(
    "a namespaced instance moves a link to the host namespace and back, and makes a veth end there",
    {
      skip: rootlessExcluded(
        import.meta.url,
        "a namespaced instance moves a link to the host namespace and back, and makes a veth end there",
      ),
    },
    async () => {
      const ns = await net.netnsAdd("inner");
      const [x0, x1] = await ns.linkVethAdd("x0", "x1");
      await ns.linkSet("1", x1);
      assert.deepEqual((await net.linkList()).map(String), [x1.scoped], "x1 is in the host namespace");
      const [y0, y1] = await ns.linkVethAdd("y0", "y1", { p2Namespace: "1" });
      assert.deepEqual((await net.linkList()).map(String), [x1.scoped, y1.scoped].sort());
      assert.deepEqual((await ns.linkList()).map(String), [x0.scoped, y0.scoped].sort());
      // A second network undoes only its own move: the link comes back into the namespace.
      {
        await using other = new DummyNet({ uid: net.uid });
        const inner = await other.netnsUse("inner");
        await inner.linkSet("1", "x0");
        assert.ok((await net.linkList()).some((l) => l.equals(x0)));
      }
      assert.ok(
        (await ns.linkList()).some((l) => l.equals(x0)),
        "x0 is back in its namespace",
      );
    },
  );

  test("instances made from namespaced instances act in their own namespace", async () => {
    const a = await net.netnsAdd("pa");
    const b = await a.netnsAdd("pb");
    assert.ok(netnsExists(b));
    await b.linkVethAdd("x1", "x2");
    assert.deepEqual(
      (await b.linkList()).map((l) => l.name),
      ["x1", "x2"],
      "made in pb",
    );
    assert.deepEqual(await a.linkList(), [], "not in pa");
    const c = await a.netnsUse("pb");
    assert.deepEqual(
      (await c.linkList()).map((l) => l.name),
      ["x1", "x2"],
    );
    const out = await c.run(["ip", "-o", "link"]);
    assert.match(out.stdout, /x1/);
  });

  test("two cleanups at once are one cleanup, newest first, and both end when everything is gone", async () => {
    const ns = await net.netnsAdd("twice");
    await ns.linkVethAdd("a", "b");
    // A pair in the host namespace too (rootless refuses that: in a second namespace).
    await (runsRootless() ? await net.netnsAdd("twice2") : net).linkVethAdd("c", "d");
    const first = net.cleanup();
    const second = net.cleanup();
    await Promise.all([first, second]);
    assert.deepEqual(leftovers(net.uid), []);
    assert.equal(net.cleaners.length, 0);
  });

  test(
    "linkDelete keeps the undos of iptables rules and of same-named links elsewhere",
    {
      skip: rootlessExcluded(
        import.meta.url,
        "linkDelete keeps the undos of iptables rules and of same-named links elsewhere",
      ),
    },
    async () => {
      const n1 = await net.netnsAdd("n1");
      const n2 = await net.netnsAdd("n2");
      await n1.linkVethAdd("e0", "e1");
      const [e0] = await net.linkVethAdd("e0", "pb", { p1Namespace: n2 });
      await n2.addrAdd("10.50.0.1/24", e0);
      await net.linkVethAdd("fa", "fb");
      await net.forward("fa", "fb");
      await net.nat("10.50.0.0/24", "fa");
      const before = net.cleaners.length;
      await n1.linkDelete("e0");
      assert.equal(net.cleaners.length, before - 1, "only n1's pair was forgotten");
      await net.linkDelete("fa");
      assert.ok(
        net.cleaners.some((c) => c.reason === "forward") && net.cleaners.some((c) => c.reason === "nat"),
        "rules stay registered",
      );
      await net.cleanup();
      const rules =
        execFileSync("iptables", ["-S"], { encoding: "utf8", timeout: 30_000 }) +
        execFileSync("iptables", ["-t", "nat", "-S"], { encoding: "utf8", timeout: 30_000 });
      assert.ok(!rules.includes(`d-${net.namespace.scoped.split("-")[1]}-`), "no rule of ours is left");
      assert.deepEqual(leftovers(net.uid), [], "the host end pb is gone too");
    },
  );

  test("tcShow rejects bad input instead of throwing", async () => {
    const pending = net.tcShow(42 as unknown as string);
    assert.ok(pending instanceof Promise);
    await assert.rejects(pending, InvalidArgumentError);
  });

  test("linkDelete drops the undos of both veth ends", async () => {
    // The pairs are made in the host namespace (rootless refuses it: in a namespace of the network).
    const at = runsRootless() ? await net.netnsAdd("at") : net;
    const base = net.cleaners.length;
    assert.equal(base, at === net ? 0 : 1);
    const [veth0] = await at.linkVethAdd("veth0", "veth1");
    await at.linkDelete(veth0);
    assert.equal(net.cleaners.length, base);
    const [, other] = await at.linkVethAdd("veth2", "veth3");
    await at.linkDelete(other);
    assert.equal(net.cleaners.length, base, "deleting the second end forgets the pair too");
    const ns = await net.netnsAdd("ns");
    await at.linkVethAdd("veth4", "veth5");
    await at.linkSet(ns, "veth4");
    const before = net.cleaners.length;
    await ns.linkDelete("veth4");
    assert.equal(net.cleaners.length, before - 2, "the linkSet and linkVethAdd undos are gone");
    assert.deepEqual(await at.linkList(), []);
  });

  test(
    "system devices outside our namespaces are cleaned one by one",
    { skip: rootlessExcluded(import.meta.url, "system devices outside our namespaces are cleaned one by one") },
    async () => {
      await net.linkVethAdd("veth0", "veth1");
      await net.bridgeAdd("br0");
      await net.bridgeSet("br0", "veth1");
      assert.deepEqual(
        (await net.linkList()).map((l) => l.name),
        ["br0", "veth0", "veth1"],
      );
      assert.deepEqual(
        (await net.linkList("bridge")).map((l) => l.name),
        ["br0"],
      );
    },
  );

  test(
    "up and down restore the state seen before, per instance",
    { skip: rootlessExcluded(import.meta.url, "up and down restore the state seen before, per instance") },
    async () => {
      const [v0, v1] = await net.linkVethAdd("v0", "v1");
      await net.addrAdd("10.10.10.10", v0);
      await net.addrAdd("10.10.10.11", v1);
      await net.up(v0);
      await net.up(v1);
      {
        await using net2 = new DummyNet({ uid: net.uid });
        await net2.up("v0");
        await net2.down("v1");
      }
      assert.equal(adminState(v0), "up");
      assert.equal(adminState(v1), "up");
      await net.down(v0);
      {
        await using net2 = new DummyNet({ uid: net.uid });
        await net2.up("v0");
        await net2.up("v0");
        assert.equal(adminState(v0), "up");
      }
      assert.equal(adminState(v0), "down");
    },
  );

  test("a new namespace's loopback is up, and up/down of it (state known, not read) reach the kernel", async () => {
    const ns = await net.netnsAdd("lo0");
    const lo = InterfaceScoped.fromAny("lo", net.uid);
    const where = ns.namespace.scoped;
    assert.equal(adminState(lo, where), "up");
    // As the reference's users write it: up("lo") by hand on a namespace just made.
    await ns.up("lo");
    assert.equal(adminState(lo, where), "up");
    (await ns.run(["ping", "-c", "1", "-W", "2", "127.0.0.1"])).match({ stdout: "1 packets transmitted, 1 received*" });
    await ns.down("lo");
    assert.equal(adminState(lo, where), "down");
    await ns.up("lo");
    assert.equal(adminState(lo, where), "up");
    (await ns.run(["ping", "-c", "1", "-W", "2", "127.0.0.1"])).match({ stdout: "1 packets transmitted, 1 received*" });
  });

  test("a route removed by down, or down then up, does not stop cleanup", async () => {
    const ns = await net.netnsAdd("ns");
    await ns.linkVethAdd("v0", "v1");
    await ns.addrAdd("10.10.12.10/24", "v0");
    await ns.addrAdd("10.10.12.11/24", "v1");
    await ns.up("v0");
    await ns.up("v1");
    await ns.route("10.10.12.10");
    const routes = ipJson<{ dst: string; gateway?: string }[]>(["-n", ns.namespace.scoped, "route"]);
    assert.ok(routes.some((r) => r.dst === "default" && r.gateway === "10.10.12.10"));
    await ns.down("v0");
    await ns.up("v0");
  });

  test(
    "links in the host namespace taken down and up again are undone one by one",
    {
      skip: rootlessExcluded(
        import.meta.url,
        "links in the host namespace taken down and up again are undone one by one",
      ),
    },
    async () => {
      // Host-namespace objects are undone one by one (no namespace deletion covers them); the host's own
      // default route is never touched by a test.
      const [v0, v1] = await net.linkVethAdd("v0", "v1");
      await net.addrAdd("10.10.13.1/24", v0);
      await net.up(v0);
      await net.up(v1);
      await net.down(v0);
      await net.up(v0);
      assert.equal(adminState(v0), "up");
    },
  );

  test("netnsUse reaches an existing namespace and refuses a missing one", async () => {
    const demo0 = await net.netnsAdd("demo0");
    const [veth0, veth1] = await demo0.linkVethAdd("veth0", "veth1");
    await demo0.addrAdd("10.0.0.1/24", veth0);
    await demo0.up(veth0);
    const ref = await net.netnsUse("demo0");
    const links = await ref.linkList();
    assert.ok(links.some((l) => l.equals(veth0)) && links.some((l) => l.equals(veth1)));
    assert.match((await ref.run(`ip addr show dev ${veth0.scoped}`)).stdout, /10\.0\.0\.1\/24/);
    await assert.rejects(net.netnsUse("nonexistent"), (error: unknown) => {
      assert.ok(error instanceof InvalidArgumentError);
      assert.match(error.message, /"nonexistent" does not exist .*namespaces of uid \d+: demo0/);
      return true;
    });
  });

  test("processes in a namespace are listed and killed", async () => {
    const ns = await net.netnsAdd("procs");
    const info = await ns.runAsync(["sleep", "30"], { daemon: true });
    // info.pid leads the program's process group: as root the program itself; rootless, nsenter, which
    // forks the program into the holder's PID namespace (and stays in the holder's network namespace).
    const program = runsRootless() ? await onlyChild(info.pid!) : info.pid!;
    const pids = await net.netnsProcessList(ns);
    assert.ok(pids.includes(program), `${program} in ${pids.join(",")}`);
    await net.netnsKillProcess(ns, program);
    await ns.processMonitor.stop({ validateState: false });
    assert.deepEqual(await net.netnsProcessList(ns), []);
    await assert.rejects(net.netnsKillProcess(ns, 1), /is not a process of namespace/);
  });

  test("netnsDelete removes the namespace and its pending undos", async () => {
    const ns = await net.netnsAdd("gone");
    await ns.linkVethAdd("a", "b");
    await net.netnsDelete(ns);
    assert.equal(netnsExists(ns), false);
    assert.equal(net.cleaners.length, 0);
  });

  test("objects deleted behind the library's back do not stop cleanup", async () => {
    const ns = await net.netnsAdd("byhand");
    // A link in the host namespace (rootless refuses it: in a second namespace).
    const at = runsRootless() ? await net.netnsAdd("byhand2") : net;
    const [a] = await at.linkVethAdd("a", "b");
    await at.addrAdd("10.20.0.1/24", a);
    await at.up(a);
    look(["ip", "netns", "delete", ns.namespace.scoped]);
    look(["ip", ...(at === net ? [] : ["-n", at.namespace.scoped]), "link", "delete", a.scoped]);
    // afterEach's cleanup must succeed (warnings only) and leave nothing.
  });

  test("cleanup after a namespace deletion runs one step per namespace", async () => {
    const hosts = await Promise.all(["h0", "h1", "h2"].map((name) => net.netnsAdd(name)));
    for (let i = 0; i < 2; i++) {
      const [a, b] = await vethBetween(`l${i}a`, `l${i}b`, hosts[i], hosts[i + 1]);
      await hosts[i].addrAdd(`10.30.${i}.1/24`, a);
      await hosts[i + 1].addrAdd(`10.30.${i}.2/24`, b);
      await hosts[i].up(a);
      await hosts[i + 1].up(b);
    }
    // A pair born in its namespaces is undone by the namespace deletions too.
    const [ba] = await net.linkVethAdd("b2a", "b0a", { p1Namespace: hosts[2], p2Namespace: hosts[0] });
    await hosts[2].addrAdd("10.31.0.1/24", ba);
    await hosts[2].up(ba);
    (await hosts[0].run(["ping", "-c", "1", "-W", "2", "10.30.0.2"])).match({
      stdout: "1 packets transmitted, 1 received*",
    });
    const log: string[] = [];
    // Count the system commands cleanup issues for this network.
    const system = net.shell.system.bind(net.shell);
    (net.shell as { system: typeof system }).system = (argv, options) => {
      log.push(argv.join(" "));
      return system(argv, options);
    };
    await net.cleanup();
    assert.deepEqual(
      log.filter((c) => !c.startsWith("ip netns delete")),
      [],
      "only namespace deletions were needed",
    );
    assert.equal(log.length, 3);
    assert.deepEqual(leftovers(net.uid), []);
  });
});

describe("bad input is refused before anything changes", { timeout: 600_000 }, () => {
  const uid = (process.pid % 100000) * 10 + 2000000;
  const bad = new DummyNet({ uid });

  after(async () => {
    await bad.cleanup();
    assertNothingLeft(uid);
  });

  const cases: [string, () => Promise<unknown>, RegExp][] = [
    [
      "namespace name too long",
      () => bad.netnsAdd("n".repeat(300)),
      /namespace name: "n+" is 300 characters long; at most 248/,
    ],
    [
      "namespace name with a shell metacharacter",
      () => bad.netnsAdd("a;touch /tmp/pwned"),
      /may only contain the characters/,
    ],
    [
      "interface name over 8 characters",
      () => bad.linkVethAdd("verylongname", "b"),
      /interface name: "verylongname" is 12 characters long; at most 8/,
    ],
    ["veth ends with one name", () => bad.linkVethAdd("same", "same"), /p2: "same" must differ from p1/],
    [
      "address without a valid IP",
      () => bad.addrAdd("10.0.0.300/24", "x"),
      /Invalid ip: "10\.0\.0\.300\/24" must be an IPv4 or IPv6 address/,
    ],
    [
      "prefix too long",
      () => bad.addrAdd("10.0.0.1/33", "x"),
      /invalid prefix length: it must be a whole number from 0 to 32/,
    ],
    ["IPv6 prefix too long", () => bad.addrAdd("fd00::1/129", "x"), /from 0 to 128 for IPv6/],
    [
      "VLAN id out of range",
      () => bad.linkVlanAdd("eth0", 4095),
      /vlanId: 4095 \(number\) must be a whole number from 1 to 4094/,
    ],
    ["VLAN id not an integer", () => bad.linkVlanAdd("eth0", 1.5), /vlanId/],
    ["gateway that is not an IP", () => bad.route("gw.example"), /Invalid gateway: "gw.example"/],
    ["NAT source that is not a CIDR", () => bad.nat("everything", "eth0"), /Invalid source/],
    ["linkSet into a missing namespace", () => bad.linkSet("missing", "eth0"), /namespace: "missing" does not exist/],
    ["pid that is not a pid", () => bad.netnsKillProcess("missing", -3), /pid: -3 \(number\) must be a process id/],
    [
      "interface given as a number",
      () => bad.up(7 as unknown as string),
      /interface: 7 \(number\) must be an interface name/,
    ],
    [
      "sysctl outside net.*",
      () => bad.sysctl("kernel.panic", 1),
      /sysctl name: "kernel.panic" must be a per-namespace network sysctl/,
    ],
    ["link type with odd characters", () => bad.linkList("veth;ls"), /linkType/],
  ];
  for (const [what, call, message] of cases) {
    test(what, async () => {
      await assert.rejects(call(), (error: unknown) => {
        assert.ok(error instanceof InvalidArgumentError, `expected InvalidArgumentError, got ${String(error)}`);
        assert.match(error.message, message);
        return true;
      });
      assert.equal(bad.cleaners.length, 0);
      assert.deepEqual(leftovers(uid), []);
      assert.equal(existsSync("/tmp/pwned"), false);
    });
  }

  test("tc without sch_netem fails naming the qdisc and the module; with it, the netem is applied", async () => {
    const { netem } = await detectCapabilities();
    const ns = await bad.netnsAdd("tc");
    const [v0] = await ns.linkVethAdd("v0", "v1");
    if (netem.available) {
      await ns.tc(v0, { delay: 5 });
      assert.equal((await ns.tcRead(v0))?.netem?.delay, 5);
      return;
    }
    await assert.rejects(ns.tc(v0, { delay: 5, loss: 1 }), (error: unknown) => {
      assert.ok(error instanceof SystemCommandError, String(error));
      assert.match(error.message, /qdisc replace dev d-\w+-v0 .*netem/);
      assert.match(error.message, /no "netem" qdisc: load it with `modprobe sch_netem`/);
      return true;
    });
    assert.equal((await ns.tcRead(v0))?.kind === "netem", false, "nothing was installed");
  });

  test("a kernel refusal names the command and says why", async () => {
    const ns = await bad.netnsAdd("kernel");
    await assert.rejects(ns.addrAdd("10.0.0.1/24", "nodev"), (error: unknown) => {
      assert.ok(error instanceof SystemCommandError);
      assert.match(
        error.message,
        /`ip -n d-\w+-kernel addr add 10\.0\.0\.1\/24 dev d-\w+-nodev` failed: .*(Cannot find device|does not exist)/,
      );
      return true;
    });
  });
});
