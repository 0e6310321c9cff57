/**
 * Waiting for another connection's SQLite lock never blocks the event loop. A put, a transaction and openStore that
 * find the write lock taken (by another store of this process, or by a transaction of another process, the child
 * fixture test/fixtures/sqlite-lock-holder.ts) wait asynchronously, within busyTimeoutMs: timers keep firing — the
 * tests count the ticks of a 10 ms interval and check the longest gap between two — and the holder, when it is in this
 * process, can resume and commit. Opening a store whose schema is current does not take the write lock at all.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import Database from "better-sqlite3";
import { APPLICATION_ID, MIGRATIONS, SCHEMA_VERSION } from "../src/engines/sqlite/sqlite-schema.js";
import { isStowageError, openStore, utf8, type Store } from "../src/index.js";
import { killAll, sleep, startChild, tempDir, type Child } from "./helpers/child.js";

const TICK_MS = 10;
/**
 * The longest pause between two ticks the tests accept. Generous for a loaded machine: it tells "never blocked" from
 * "blocked for the busy timeout" (≥ 1 s in every test here), and is not a measure of speed.
 */
const MAX_GAP_MS = 750;

/** Counts the ticks of a {@link TICK_MS} interval and the longest gap between two ticks (or since the start). */
class Ticks {
  count = 0;
  maxGapMs = 0;
  private last = performance.now();
  private readonly timer = setInterval(() => {
    const now = performance.now();
    this.maxGapMs = Math.max(this.maxGapMs, now - this.last);
    this.last = now;
    this.count += 1;
  }, TICK_MS);

  private stopped = false;

  /** Stops counting; the gap up to now counts too (a loop blocked until the end never ticked again). */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.timer);
    this.maxGapMs = Math.max(this.maxGapMs, performance.now() - this.last);
  }

  assertNeverBlocked(t: TestContext, during: string): void {
    this.stop();
    t.diagnostic(`${during}: ${this.count} ticks, the longest gap ${Math.round(this.maxGapMs)} ms`);
    assert.ok(this.maxGapMs < MAX_GAP_MS, `the event loop stood still for ${Math.round(this.maxGapMs)} ms ${during}`);
  }
}

/** A promise's outcome, readable while it is pending. */
function track<T>(promise: Promise<T>): { settled: () => boolean; outcome: Promise<PromiseSettledResult<T>> } {
  let done = false;
  const outcome = promise.then(
    (value): PromiseSettledResult<T> => ((done = true), { status: "fulfilled", value }),
    (reason: unknown): PromiseSettledResult<T> => ((done = true), { status: "rejected", reason }),
  );
  return { settled: () => done, outcome };
}

function describe(result: PromiseSettledResult<unknown>): string {
  return result.status === "fulfilled" ? "it resolved" : `it failed: ${String(result.reason)}`;
}

function assertFulfilled<T>(result: PromiseSettledResult<T>, what: string): T {
  if (result.status === "rejected") assert.fail(`${what} failed: ${String(result.reason)}`);
  return result.value;
}

function sqlite(path: string, busyTimeoutMs: number) {
  return { backend: "sqlite" as const, path, busyTimeoutMs, sweepIntervalMs: 0 };
}

/** Starts the lock-holder fixture on `path` and waits for it to be ready. */
async function startHolder(path: string): Promise<Child> {
  const child = startChild("sqlite-lock-holder", [path]);
  assert.ok(await child.waitFor((lines) => lines.includes("ready"), 15_000), `the holder did not start\n${child.describe()}`);
  return child;
}

/** Tells the holder to open a transaction that writes `key`, and waits until it holds the write lock. */
async function hold(child: Child, key: string): Promise<void> {
  const before = child.lines.filter((line) => line === "holding").length;
  child.send(`hold ${key}`);
  const holding = await child.waitFor((lines) => lines.filter((line) => line === "holding").length > before, 15_000);
  assert.ok(holding, `the holder did not take the lock\n${child.describe()}`);
}

/** Tells the holder to end its transaction (`commit` or `rollback`) and waits until it has. */
async function release(child: Child, how: "commit" | "rollback"): Promise<void> {
  const word = how === "commit" ? "committed" : "rolled-back";
  const before = child.lines.filter((line) => line === word).length;
  child.send(how);
  const ended = await child.waitFor((lines) => lines.filter((line) => line === word).length > before, 15_000);
  assert.ok(ended, `the holder did not ${how}\n${child.describe()}`);
}

async function closeAll(stores: ReadonlyArray<Store | undefined>): Promise<void> {
  await Promise.all(stores.map((store) => store?.close().catch(() => undefined)));
}

/** What a test works with: a database file in a folder of its own, and everything it starts, ended by {@link inScene}. */
interface Scene {
  path: string;
  /** Opens a store on the file (closed at the end). */
  open(busyTimeoutMs: number): Promise<Store>;
  /** Starts the lock-holder fixture on the file (killed at the end). */
  holder(): Promise<Child>;
  /** Starts counting event-loop ticks (stopped at the end). */
  startTicks(): Ticks;
}

/** Runs `body` in a fresh scene and then ends whatever it started, however it ended. */
async function inScene(name: string, body: (scene: Scene) => Promise<void>): Promise<void> {
  const tmp = tempDir(`lock-${name}`);
  const path = join(tmp.dir, `${name}.db`);
  const children: Child[] = [];
  const stores: Store[] = [];
  let ticks: Ticks | undefined;
  try {
    await body({
      path,
      open: async (busyTimeoutMs) => {
        const store = await openStore(sqlite(path, busyTimeoutMs));
        stores.push(store);
        return store;
      },
      holder: async () => {
        const child = await startHolder(path);
        children.push(child);
        return child;
      },
      startTicks: () => (ticks = new Ticks()),
    });
  } finally {
    ticks?.stop();
    await killAll(children);
    await closeAll(stores);
    tmp.remove();
  }
}

test("two stores on one file in one process: a put and a transaction wait for the other store's transaction, which can go on and commit", async (t) => {
  await inScene("two-stores", async (scene) => {
    const storeA = await scene.open(5_000);
    const b = await scene.open(5_000);
    const events: string[] = [];
    let bodyStarted!: () => void;
    const inBody = new Promise<void>((resolve) => (bodyStarted = resolve));
    const ticks = scene.startTicks();
    const started = Date.now();
    const transactionA = track(
      storeA.transaction(async (tx) => {
        await tx.kv("k", { codec: utf8 }).put("a-early", "a");
        bodyStarted();
        // A timer in the middle of the body: it fires only if B's wait for the lock leaves the event loop running.
        await sleep(200);
        await tx.kv("k", { codec: utf8 }).put("a-late", "a");
        events.push("A committing");
      }),
    );
    await inBody;
    const putB = track(b.kv("k", { codec: utf8 }).put("b-put", "b").then(() => void events.push("B put")));
    const transactionB = track(
      b.transaction(async (tx) => {
        // Run after A's commit, so it sees A's writes.
        const seen = await tx.kv("k", { codec: utf8 }).get("a-late");
        await tx.kv("k", { codec: utf8 }).put("b-tx", `saw ${seen}`);
      }).then(() => void events.push("B transaction")),
    );
    const outcomes = await Promise.all([transactionA.outcome, putB.outcome, transactionB.outcome]);
    const elapsed = Date.now() - started;
    ticks.assertNeverBlocked(t, "while B waited for A's lock");
    outcomes.forEach((outcome, i) => assertFulfilled(outcome, ["A's transaction", "B's put", "B's transaction"][i] as string));
    assert.equal(events[0], "A committing", `B went in before A committed: ${events.join(", ")}`);
    assert.deepEqual([...events].sort(), ["A committing", "B put", "B transaction"]);
    assert.ok(elapsed < 4_000, `took ${elapsed} ms, close to the 5 s busy timeout`);
    assert.ok(ticks.count >= 5, `only ${ticks.count} ticks in ${elapsed} ms`);
    for (const store of [storeA, b]) {
      const kv = store.kv("k", { codec: utf8 });
      assert.deepEqual(
        await Promise.all(["a-early", "a-late", "b-put", "b-tx"].map((key) => kv.get(key))),
        ["a", "a", "b", "saw a"],
      );
    }
  });
});

test("another process's open transaction: a put and a transaction wait without blocking the event loop and go in once it commits", async (t) => {
  await inScene("process", async (scene) => {
    const store = await scene.open(5_000);
    const child = await scene.holder();
    await hold(child, "child-key");

    const ticks = scene.startTicks();
    const kv = store.kv("held", { codec: utf8 });
    const put = track(kv.put("parent-put", "p"));
    const transaction = track(store.transaction(async (tx) => tx.kv("held", { codec: utf8 }).put("parent-tx", `saw ${await tx.kv("held", { codec: utf8 }).get("child-key")}`)));
    await sleep(300);
    for (const [what, call] of [["the put", put], ["the transaction", transaction]] as const) {
      if (call.settled()) assert.fail(`${what} did not wait for the other process's lock: ${describe(await call.outcome)}`);
    }
    // Reads do not wait for the lock, and see committed data only.
    assert.equal(await kv.get("child-key"), undefined);
    const ticksWhileWaiting = ticks.count;
    await release(child, "commit");
    assertFulfilled(await put.outcome, "the put");
    assertFulfilled(await transaction.outcome, "the transaction");
    ticks.assertNeverBlocked(t, "while the put waited for the other process's lock");
    assert.ok(ticksWhileWaiting >= 5, `only ${ticksWhileWaiting} ticks of ${TICK_MS} ms in the 300 ms the put waited`);
    assert.equal(await kv.get("child-key"), "held by the child");
    assert.equal(await kv.get("parent-put"), "p");
    assert.equal(await kv.get("parent-tx"), "saw held by the child");
    child.send("exit");
    assert.equal((await child.finish(10_000)).code, 0, child.describe());
  });
});

test("another process's transaction that never commits: a put fails BACKEND_UNAVAILABLE after busyTimeoutMs, the event loop running meanwhile", async (t) => {
  await inScene("timeout", async (scene) => {
    const busyTimeoutMs = 1_000;
    const store = await scene.open(busyTimeoutMs);
    const child = await scene.holder();
    await hold(child, "never-committed");

    const ticks = scene.startTicks();
    const started = Date.now();
    const [put, transaction] = await Promise.allSettled([
      store.kv("held", { codec: utf8 }).put("parent-put", "p"),
      store.transaction(async (tx) => tx.kv("held", { codec: utf8 }).put("parent-tx", "p")),
    ]);
    const elapsed = Date.now() - started;
    ticks.assertNeverBlocked(t, "while the put waited for the other process's lock");
    for (const [what, outcome] of [["the put", put], ["the transaction", transaction]] as const) {
      assert.equal(outcome.status, "rejected", `${what} went in while the other process held the write lock`);
      const reason = (outcome as PromiseRejectedResult).reason as Error;
      assert.ok(isStowageError(reason, "BACKEND_UNAVAILABLE"), `${what}: expected BACKEND_UNAVAILABLE, got ${String(reason)}`);
      assert.match(reason.message, /locked/);
    }
    assert.ok(elapsed >= busyTimeoutMs - 50, `gave up after ${elapsed} ms, before the ${busyTimeoutMs} ms busy timeout`);
    assert.ok(elapsed < busyTimeoutMs + 4_000, `gave up only after ${elapsed} ms`);
    assert.ok(ticks.count >= 10, `only ${ticks.count} ticks of ${TICK_MS} ms in ${elapsed} ms`);

    await release(child, "rollback");
    const kv = store.kv("held", { codec: utf8 });
    assert.deepEqual(await Promise.all(["never-committed", "parent-put", "parent-tx"].map((key) => kv.get(key))), [undefined, undefined, undefined]);
    await kv.put("after", "the lock is free again");
    assert.equal(await kv.get("after"), "the lock is free again");
    child.send("exit");
    assert.equal((await child.finish(10_000)).code, 0, child.describe());
  });
});

test("openStore on a file whose write lock another process holds opens at once (no migration needed) and reads work", async (t) => {
  await inScene("open", async (scene) => {
    const first = await scene.open(3_000);
    await first.kv("k", { codec: utf8 }).put("before", "committed before the lock");
    await first.close();
    const child = await scene.holder();
    await hold(child, "child-key");

    const ticks = scene.startTicks();
    const opened = await track(scene.open(3_000)).outcome;
    ticks.assertNeverBlocked(t, "while the store opened");
    const store = assertFulfilled(opened, "openStore while another process holds the write lock");
    // Still held: the child commits only when told to.
    assert.equal(child.lines.includes("committed"), false);
    assert.equal(await store.kv("k", { codec: utf8 }).get("before"), "committed before the lock");
    assert.equal(await store.kv("held", { codec: utf8 }).get("child-key"), undefined);
    assert.equal((await store.info()).schemaVersion, SCHEMA_VERSION);

    await release(child, "commit");
    assert.equal(await store.kv("held", { codec: utf8 }).get("child-key"), "held by the child");
    child.send("exit");
    assert.equal((await child.finish(10_000)).code, 0, child.describe());
  });
});

test("openStore on a file that must be migrated waits for the write lock asynchronously and migrates once it is free", async (t) => {
  const tmp = tempDir("lock-migrate");
  const path = join(tmp.dir, "old.db");
  const other = new Database(path, { timeout: 0 });
  let store: Store | undefined;
  let ticks: Ticks | undefined;
  try {
    // A file of schema version 1, held by another connection's write transaction.
    other.pragma("journal_mode = WAL");
    other.exec(MIGRATIONS[0] as string);
    other.pragma(`application_id = ${APPLICATION_ID}`);
    other.pragma("user_version = 1");
    other.exec("BEGIN IMMEDIATE");
    other.prepare("INSERT INTO stowage_kv (ns, key, value, expires_at) VALUES ('k', 'old', ?, NULL)").run(Buffer.from("from version 1"));

    ticks = new Ticks();
    const started = Date.now();
    // The holder lets go from a timer of this process: only an open that leaves the event loop running gets there.
    let releasedAt = 0;
    const releaser = setTimeout(() => {
      other.exec("COMMIT");
      releasedAt = Date.now();
    }, 300);
    const opened = await track(openStore(sqlite(path, 5_000))).outcome;
    clearTimeout(releaser);
    const elapsed = Date.now() - started;
    ticks.assertNeverBlocked(t, "while the store waited to migrate");
    store = assertFulfilled(opened, "openStore waiting for the lock to migrate");
    assert.ok(releasedAt > 0, "the store opened before the other connection released its lock");
    assert.ok(elapsed < 4_000, `took ${elapsed} ms, close to the 5 s busy timeout`);
    assert.equal((await store.info()).schemaVersion, SCHEMA_VERSION);
    assert.equal(await store.kv("k", { codec: utf8 }).get("old"), "from version 1");
  } finally {
    ticks?.stop();
    if (other.inTransaction) other.exec("ROLLBACK");
    other.close();
    await closeAll([store]);
    tmp.remove();
  }
});
