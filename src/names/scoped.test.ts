import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { CGroupScoped, InterfaceScoped, NamespaceScoped, UID_MAX } from "./scoped.js";
import { base58ToInt, intToBase58 } from "./base58.js";
import { InvalidArgumentError } from "../errors.js";

describe("scoped names", { timeout: 60_000 }, () => {
  test("the reference's base58 encoding, byte for byte", () => {
    assert.equal(new InterfaceScoped("veth0", 1).scoped, "d-2-veth0");
    assert.equal(new InterfaceScoped("veth1", 1234567).scoped, "d-7Kze-veth1");
    assert.equal(intToBase58(0), "1");
    assert.equal(intToBase58(57), "z");
    assert.equal(intToBase58(58), "21");
    for (const n of [1, 57, 58, 1234567, 4194304, UID_MAX]) assert.equal(base58ToInt(intToBase58(n)), n);
  });

  test("round trip through fromScoped and fromAny", () => {
    const ns = new NamespaceScoped("demo0", 4242);
    assert.ok(NamespaceScoped.fromScoped(ns.scoped).equals(ns));
    assert.ok(NamespaceScoped.fromAny(ns.scoped).equals(ns));
    assert.ok(NamespaceScoped.fromAny("demo0", 4242).equals(ns));
    assert.equal(NamespaceScoped.fromAny(ns), ns);
    assert.ok(NamespaceScoped.fromAny({ namespace: ns }).equals(ns));
    assert.equal(String(ns), ns.scoped);
    assert.ok(!ns.equals(new InterfaceScoped("demo0", 4242)), "different kinds are never equal");
    assert.ok(!ns.equals(new NamespaceScoped("demo0", 4243)));
  });

  test("unscoped names stay as they are", () => {
    assert.equal(new InterfaceScoped("lo", 99).scoped, "lo");
    assert.equal(new NamespaceScoped("1", 99).scoped, "1");
    assert.equal(new CGroupScoped("x", 0).scoped, "x");
  });

  test("interface names fit Linux's 15 characters: at most 8 for the user", () => {
    assert.equal(new InterfaceScoped("abcdefgh", UID_MAX).scoped.length, 15);
    assert.throws(
      () => new InterfaceScoped("abcdefghi", 1),
      (error: unknown) => {
        assert.ok(error instanceof InvalidArgumentError);
        assert.match(error.message, /interface name: "abcdefghi" is 9 characters long; at most 8/);
        return true;
      },
    );
    assert.equal(new NamespaceScoped("n".repeat(248), 1).name.length, 248);
    assert.throws(() => new NamespaceScoped("n".repeat(249), 1), InvalidArgumentError);
  });

  test("bad characters, empty names, dots and bad uids are refused", () => {
    for (const bad of ["", "a b", "a/b", "x;rm", "$(x)", "ä", ".", ".."]) {
      assert.throws(() => new CGroupScoped(bad, 1), InvalidArgumentError, `accepted ${JSON.stringify(bad)}`);
    }
    for (const uid of [-1, 1.5, UID_MAX + 1, Number.NaN]) {
      assert.throws(() => new InterfaceScoped("a", uid), InvalidArgumentError);
    }
    assert.throws(() => InterfaceScoped.fromScoped("veth0"), /not a scoped name/);
    assert.throws(() => InterfaceScoped.fromAny(42), InvalidArgumentError);
  });

  test("sorting follows uid, then name", () => {
    const names = [new InterfaceScoped("b", 2), new InterfaceScoped("a", 3), new InterfaceScoped("a", 2)];
    assert.deepEqual(names.sort(InterfaceScoped.compare).map(String), ["d-3-a", "d-3-b", "d-4-a"]);
  });
});
