/**
 * The undo log with fake undos, no kernel: teardown order, batched namespace
 * deletions, failures collected, the synchronous exit path, forgetting, and
 * changes in flight awaited before anything is undone.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { DummyNetError, SystemCommandError } from "../errors.js";
import type { Logger } from "../log.js";
import { InterfaceScoped, NamespaceScoped } from "../names/scoped.js";
import { type CleanupItem, UNDO_KINDS, UndoLog, type UndoKind } from "./undo-log.js";

const uid = 2;
const host = new NamespaceScoped("1", uid);
const ns = (name: string) => new NamespaceScoped(name, uid);

interface FakeLogger extends Logger {
  readonly warnings: string[];
}

function fakeLogger(): FakeLogger {
  const warnings: string[] = [];
  const ignore = () => undefined;
  return { warnings, debug: ignore, info: ignore, error: ignore, warn: (message: string) => warnings.push(message) };
}

/** A fake undo that records what ran in `journal`: "clean X", "sync X", "discard X". */
function fake(
  journal: string[],
  label: string,
  reason: UndoKind,
  options: Partial<CleanupItem> & { fail?: unknown } = {},
): CleanupItem {
  const { fail, ...rest } = options;
  return {
    namespace: host,
    targets: [],
    links: [],
    reason,
    obsoleteWhen: () => false,
    clean: () => {
      journal.push(`clean ${label}`);
      return fail === undefined ? Promise.resolve() : Promise.reject(options.fail);
    },
    cleanSync: () => journal.push(`sync ${label}`),
    discard: () => journal.push(`discard ${label}`),
    ...rest,
  };
}

/** The undo of a namespace of ours, and an undo that is moot once that namespace goes. */
function namespaceUndo(journal: string[], name: string, clean?: () => Promise<void>): CleanupItem {
  return fake(journal, `netns ${name}`, "netnsAdd", {
    namespace: ns(name),
    targets: [ns(name)],
    ...(clean ? { clean } : {}),
  });
}
function insideUndo(journal: string[], label: string, name: string): CleanupItem {
  return fake(journal, label, "addrAdd", {
    namespace: ns(name),
    obsoleteWhen: (doomed) => doomed.has(ns(name).scoped),
  });
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe("undo log", { timeout: 30_000 }, () => {
  test("teardown undoes newest first and leaves the log empty", async () => {
    const journal: string[] = [];
    const log = new UndoLog();
    for (const label of ["a", "b", "c"]) log.register(fake(journal, label, "route"));
    assert.equal(log.entries.length, 3);
    assert.deepEqual(await log.teardown({ log: fakeLogger() }), []);
    assert.deepEqual(journal, ["clean c", "clean b", "clean a"]);
    assert.equal(log.entries.length, 0);
  });

  test("entries is a frozen copy: changing it cannot change the log", () => {
    const log = new UndoLog();
    log.register(fake([], "a", "route"));
    const entries = log.entries;
    assert.ok(Object.isFrozen(entries));
    assert.throws(() => (entries as CleanupItem[]).pop());
    assert.equal(log.entries.length, 1);
  });

  test("undos moot with a namespace deleted later are discarded, not run", async () => {
    const journal: string[] = [];
    const log = new UndoLog();
    log.register(namespaceUndo(journal, "n1"));
    log.register(insideUndo(journal, "addr in n1", "n1"));
    log.register(fake(journal, "host route", "route"));
    await log.teardown({ log: fakeLogger() });
    assert.deepEqual(journal, ["clean host route", "discard addr in n1", "clean netns n1"]);
  });

  test("neighbouring namespace deletions run as one batch, after killing their processes once", async () => {
    const journal: string[] = [];
    const log = new UndoLog();
    const gate = deferred();
    const started: string[] = [];
    // Each deletion waits for the gate: a batch starts all of them before any finishes.
    const slowDelete = (name: string) => async () => {
      started.push(name);
      if (started.length === 3) gate.resolve();
      await gate.promise;
      journal.push(`clean netns ${name}`);
    };
    log.register(namespaceUndo(journal, "n1", slowDelete("n1")));
    log.register(namespaceUndo(journal, "n2", slowDelete("n2")));
    log.register(insideUndo(journal, "addr in n2", "n2"));
    log.register(namespaceUndo(journal, "n3", slowDelete("n3")));
    log.register(fake(journal, "host route", "route"));
    const batches: string[][] = [];
    await log.teardown({
      log: fakeLogger(),
      beforeNamespaceDeletions: (names) => {
        batches.push([...names]);
        journal.push("kill processes");
        return Promise.resolve();
      },
    });
    assert.deepEqual(batches, [[ns("n3").scoped, ns("n2").scoped, ns("n1").scoped]]);
    assert.deepEqual(started, ["n3", "n2", "n1"]);
    assert.deepEqual(journal, [
      "clean host route",
      "discard addr in n2",
      "kill processes",
      "clean netns n3",
      "clean netns n2",
      "clean netns n1",
    ]);
  });

  test("an undo that still has to run ends a batch of namespace deletions", async () => {
    const journal: string[] = [];
    const log = new UndoLog();
    log.register(namespaceUndo(journal, "n1"));
    log.register(fake(journal, "host route", "route"));
    log.register(namespaceUndo(journal, "n2"));
    const batches: string[][] = [];
    await log.teardown({
      log: fakeLogger(),
      beforeNamespaceDeletions: (names) => {
        batches.push([...names]);
        return Promise.resolve();
      },
    });
    assert.deepEqual(batches, [[ns("n2").scoped], [ns("n1").scoped]]);
    assert.deepEqual(journal, ["clean netns n2", "clean host route", "clean netns n1"]);
  });

  test("a namespace deleted no longer dooms undos older than its creation (a namespace of that name made before)", async () => {
    const journal: string[] = [];
    const log = new UndoLog();
    log.register(insideUndo(journal, "older addr in n1", "n1"));
    log.register(fake(journal, "host route", "route"));
    log.register(namespaceUndo(journal, "n1"));
    await log.teardown({ log: fakeLogger() });
    assert.deepEqual(journal, ["clean netns n1", "clean host route", "clean older addr in n1"]);
  });

  test("failures are collected and reported together; teardown goes on; objects already gone are warnings", async () => {
    const journal: string[] = [];
    const log = new UndoLog();
    const logger = fakeLogger();
    const link = new InterfaceScoped("eth0", uid);
    const refusal = new SystemCommandError(
      ["ip", "link", "delete", link.scoped],
      2,
      "RTNETLINK answers: Operation not permitted",
    );
    log.register(fake(journal, "a", "route"));
    log.register(
      fake(journal, "gone", "addrAdd", {
        targets: [link],
        fail: new SystemCommandError(["ip", "addr", "del"], 2, 'Cannot find device "d-2-eth0"'),
      }),
    );
    log.register(fake(journal, "refused", "linkVethAdd", { targets: [link], fail: refusal }));
    log.register(fake(journal, "also refused", "sysctl", { fail: new Error("disk on fire") }));
    const errors = await log.teardown({
      log: logger,
      beforeUndo: (errors) => {
        errors.push(new Error("a process failed"));
        return Promise.resolve();
      },
    });
    assert.deepEqual(journal, ["clean also refused", "clean refused", "clean gone", "clean a"]);
    assert.equal(errors.length, 3);
    assert.equal((errors[0] as Error).message, "a process failed");
    assert.ok(errors[1] instanceof DummyNetError);
    assert.equal((errors[1] as Error).message, "cleanup: undoing sysctl of - in namespace 1 failed: disk on fire");
    assert.equal(
      (errors[2] as Error).message,
      `cleanup: undoing linkVethAdd of ${link.scoped} in namespace 1 failed: \`ip link delete ${link.scoped}\` failed: RTNETLINK answers: Operation not permitted`,
    );
    assert.equal((errors[2] as Error).cause, refusal);
    assert.equal(logger.warnings.length, 1);
    assert.equal(
      logger.warnings[0],
      `cleanup: addrAdd of ${link.scoped} in 1: already gone (\`ip addr del\` failed: Cannot find device "d-2-eth0")`,
    );
    assert.equal(log.entries.length, 0);
    assert.equal(log.closing, false);
  });

  test("changes in flight are awaited before the first undo, also those started while waiting", async () => {
    const journal: string[] = [];
    const log = new UndoLog();
    const first = deferred();
    const second = deferred();
    // A change that registers its undo when it completes, and starts another change first.
    void log.track(
      first.promise.then(() => {
        journal.push("change 1 done");
        log.register(fake(journal, "change 1", "addrAdd"));
        void log.track(
          second.promise.then(() => {
            log.register(fake(journal, "change 2", "route"));
          }),
        );
      }),
    );
    const tearingDown = log.teardown({
      log: fakeLogger(),
      beforeUndo: () => {
        journal.push("stop processes");
        return Promise.resolve();
      },
    });
    await Promise.resolve();
    assert.equal(log.closing, true, "new work is refused from the start");
    assert.match(log.step, /^waiting for 1 change/);
    first.resolve();
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(journal, ["change 1 done"], "nothing is undone while a change is in flight");
    second.resolve();
    await tearingDown;
    assert.deepEqual(journal, ["change 1 done", "stop processes", "clean change 2", "clean change 1"]);
    assert.equal(log.closing, false);
    assert.equal(log.step, "");
  });

  test("a failed change in flight does not stop teardown", async () => {
    const log = new UndoLog();
    const failing = log.track(Promise.reject(new Error("refused by the kernel")));
    await assert.rejects(failing, /refused by the kernel/);
    assert.deepEqual(await log.teardown({ log: fakeLogger() }), []);
  });

  test("closing is reset when a step of teardown throws", async () => {
    const log = new UndoLog();
    await assert.rejects(
      log.teardown({ log: fakeLogger(), afterUndo: async () => Promise.reject(new Error("owner record")) }),
      /owner record/,
    );
    assert.equal(log.closing, false);
    assert.equal(log.step, "");
  });

  test("forget drops the undos the predicate picks, discarding them, and keeps the others in order", async () => {
    const journal: string[] = [];
    const log = new UndoLog();
    for (const label of ["a", "b", "c", "d"])
      log.register(fake(journal, label, label === "b" || label === "d" ? "tc" : "route"));
    log.forget((item) => item.reason === "tc");
    assert.deepEqual(journal, ["discard d", "discard b"]);
    assert.deepEqual(log.entries.length, 2);
    await log.teardown({ log: fakeLogger() });
    assert.deepEqual(journal.slice(2), ["clean c", "clean a"]);
  });

  test("the synchronous path runs cleanSync newest first and skips what a later namespace deletion takes", () => {
    const journal: string[] = [];
    const log = new UndoLog();
    log.register(fake(journal, "host link", "linkVethAdd"));
    log.register(namespaceUndo(journal, "n1"));
    log.register(insideUndo(journal, "addr in n1", "n1"));
    log.register(fake(journal, "no sync undo", "route", { cleanSync: undefined }));
    log.replaySync();
    assert.deepEqual(journal, ["discard addr in n1", "sync netns n1", "sync host link"]);
    assert.equal(log.entries.length, 0);
  });

  test("the synchronous path takes over undos an interrupted teardown had begun", async () => {
    const journal: string[] = [];
    const log = new UndoLog();
    const never = new Promise<void>(() => undefined);
    log.register(namespaceUndo(journal, "n1", () => never));
    log.register(namespaceUndo(journal, "n2", () => never));
    log.register(fake(journal, "host link", "linkVethAdd"));
    log.register(fake(journal, "stuck", "route", { clean: () => never }));
    void log.teardown({ log: fakeLogger() });
    await Promise.resolve();
    assert.equal(log.step, "undoing route of - in namespace 1", "what teardown is stuck on");
    // Exit cleanup timed out: the process is ending and cannot await.
    log.replaySync();
    assert.deepEqual(journal, ["sync stuck", "sync host link", "sync netns n2", "sync netns n1"]);
  });

  test("the synchronous path takes over a batch of namespace deletions in flight", async () => {
    const journal: string[] = [];
    const log = new UndoLog();
    const never = new Promise<void>(() => undefined);
    log.register(fake(journal, "host link", "linkVethAdd"));
    log.register(namespaceUndo(journal, "n1", () => never));
    log.register(namespaceUndo(journal, "n2", () => never));
    void log.teardown({ log: fakeLogger() });
    await new Promise((resolve) => setImmediate(resolve));
    assert.match(log.step, /^undoing netnsAdd/);
    log.replaySync();
    assert.deepEqual(journal, ["sync netns n2", "sync netns n1", "sync host link"]);
  });
});

describe("undo kinds", { timeout: 30_000 }, () => {
  test("what dies with a link is a property of the kind", () => {
    const bound = (Object.keys(UNDO_KINDS) as UndoKind[]).filter((kind) => UNDO_KINDS[kind].boundToLink);
    assert.deepEqual(bound.sort(), [
      "addrAdd",
      "addrDel",
      "bridgeAdd",
      "bridgeSet",
      "down",
      "linkSet",
      "linkVethAdd",
      "linkVlanAdd",
      "tc",
      "up",
    ]);
    // iptables rules name links but outlive them.
    assert.equal(UNDO_KINDS.forward.boundToLink, undefined);
    assert.equal(UNDO_KINDS.nat.boundToLink, undefined);
    assert.equal(UNDO_KINDS.netnsAdd.deletesNamespace, true);
  });

  test("a misspelt kind does not compile", () => {
    // @ts-expect-error: "linkVethAd" is not an UndoKind (checked by tsc, which npm test runs).
    const misspelt: UndoKind = "linkVethAd";
    assert.equal(misspelt in UNDO_KINDS, false);
  });
});
