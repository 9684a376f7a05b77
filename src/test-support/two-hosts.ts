/** Test support: the probe's usual network, hosts a (10.0.0.1) and b (10.0.0.2) over one veth, both ends up. */
import type { DummyNet } from "../network/dummy-net.js";
import type { InterfaceScoped } from "../names/scoped.js";

export interface TwoHosts {
  a: DummyNet;
  b: DummyNet;
  /** a's end of the link. */
  ab: InterfaceScoped;
  /** b's end of the link. */
  ba: InterfaceScoped;
}

export async function twoHosts(net: DummyNet): Promise<TwoHosts> {
  const a = await net.netnsAdd("a");
  const b = await net.netnsAdd("b");
  const [ab, ba] = await net.linkVethAdd("a-b", "b-a", { p1Namespace: a, p2Namespace: b });
  await a.addrAdd("10.0.0.1/24", ab);
  await b.addrAdd("10.0.0.2/24", ba);
  await a.up(ab);
  await b.up(ba);
  return { a, b, ab, ba };
}
