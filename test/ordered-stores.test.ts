/**
 * The OrderedStore contract (src/engines/ordered/ordered-store-cases.ts) on LMDB and LevelDB, and what is specific to
 * each: LMDB shared by processes, LevelDB refusing a second opener, the default locations, foreign files.
 * Child processes run the compiled fixture test/fixtures/ordered-store-client.ts and are stopped by each test.
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it, test } from "node:test";
import { isStowageError } from "../src/api/errors.js";
import { DEFAULT_LEVELDB_PATH, openLevelDbStore } from "../src/engines/leveldb/leveldb-store.js";
import { DEFAULT_LMDB_PATH, openLmdbStore } from "../src/engines/lmdb/lmdb-store.js";
import { runOrderedStoreCases } from "../src/engines/ordered/ordered-store-cases.js";
import type { OrderedStore } from "../src/engines/ordered/ordered-store.js";
import { Child, tempDir } from "./helpers/child.js";

const READY_MS = 15_000;
const REPLY_MS = 10_000;

const bytes = (word: string): Uint8Array => new Uint8Array(Buffer.from(word, "latin1"));
const word = (value: Uint8Array | undefined): string | undefined => (value === undefined ? undefined : Buffer.from(value).toString("latin1"));

runOrderedStoreCases("lmdb", { describe, it }, async () => {
  const { dir, remove } = tempDir("lmdb");
  const open = () => openLmdbStore({ path: join(dir, "data.lmdb") });
  return { store: await open(), reopen: open, dispose: async () => remove() };
});

runOrderedStoreCases("leveldb", { describe, it }, async () => {
  const { dir, remove } = tempDir("leveldb");
  const open = () => openLevelDbStore({ path: join(dir, "data.leveldb") });
  return { store: await open(), reopen: open, dispose: async () => remove() };
});

/** Starts the client fixture on `path` and waits for its first line (`ready` or `refused <code>`). */
async function startClient(engine: "lmdb" | "leveldb", path: string): Promise<Child> {
  const child = new Child("ordered-store-client", [engine, path]);
  assert.ok(await child.waitFor((lines) => lines.length > 0, READY_MS), `the child did not start: ${child.describe()}`);
  return child;
}

/** Sends `command` and waits for the child's next line. */
async function ask(child: Child, command: string): Promise<string> {
  const seen = child.lines.length;
  child.send(command);
  assert.ok(await child.waitFor((lines) => lines.length > seen, REPLY_MS), `no reply to ${command}: ${child.describe()}`);
  return child.lines[seen]!;
}

async function stop(child: Child): Promise<void> {
  child.send("exit");
  await child.finish(REPLY_MS);
}

async function getWord(store: OrderedStore, key: string): Promise<string | undefined> {
  const snapshot = await store.snapshot();
  try {
    return word(await snapshot.get(bytes(key)));
  } finally {
    snapshot.release();
  }
}

/** Opens a store with the working directory at `dir`, for the default location (relative to it). */
async function inDir<T>(dir: string, body: () => Promise<T>): Promise<T> {
  const before = process.cwd();
  process.chdir(dir);
  try {
    return await body();
  } finally {
    process.chdir(before);
  }
}

describe("LMDB store", () => {
  test("two processes on one file: another process's commit is seen by a new snapshot, not an older one, and watchCommits hears of it", async () => {
    const tmp = tempDir("lmdb-procs");
    const path = join(tmp.dir, "shared.lmdb");
    const store = await openLmdbStore({ path });
    const child = await startClient("lmdb", path);
    let notified = 0;
    const unwatch = store.watchCommits(() => (notified += 1));
    try {
      assert.equal(child.lines[0], "ready");
      const before = store.snapshot();
      assert.equal(await ask(child, "put colour blue"), "committed");
      assert.equal(word(await before.get(bytes("colour"))), undefined, "the older snapshot keeps its point in time");
      before.release();
      assert.equal(await getWord(store, "colour"), "blue", "a snapshot taken after the child's commit resolved sees it");
      assert.equal(store.pointRead(bytes("colour"), word, undefined), "blue", "so does a point read");
      for (let i = 0; i < 100 && notified === 0; i++) await new Promise((resolve) => setTimeout(resolve, 20));
      assert.ok(notified > 0, "watchCommits notified of the other process's commit");
      // And the other way round.
      await store.commit({ checks: [], writes: [{ key: bytes("shape"), value: bytes("round") }] });
      assert.equal(await ask(child, "get shape"), "round");
    } finally {
      unwatch();
      await stop(child);
      await store.close();
      tmp.remove();
    }
  });

  test("two processes claiming the same keys at the same moment: exactly one wins each", async () => {
    const tmp = tempDir("lmdb-race");
    const path = join(tmp.dir, "race.lmdb");
    const store = await openLmdbStore({ path });
    const child = await startClient("lmdb", path);
    try {
      for (let round = 0; round < 30; round++) {
        const key = `seat-${round}`;
        const [childSays, parentWon] = await Promise.all([
          ask(child, `claim ${key} child`),
          store.commit({ checks: [{ kind: "get", key: bytes(key), value: undefined }], writes: [{ key: bytes(key), value: bytes("parent") }] }),
        ]);
        assert.ok(childSays === "won" || childSays === "lost", childSays);
        assert.notEqual(childSays === "won", parentWon, `round ${round}: exactly one of the two claims wins`);
        assert.equal(await getWord(store, key), parentWon ? "parent" : "child");
      }
    } finally {
      await stop(child);
      await store.close();
      tmp.remove();
    }
  });

  test("the default location is ./data/stowage.lmdb, its folders created", async () => {
    const tmp = tempDir("lmdb-default");
    try {
      const store = await inDir(tmp.dir, () => openLmdbStore());
      try {
        assert.equal(store.location, join(tmp.dir, DEFAULT_LMDB_PATH));
        await store.commit({ checks: [], writes: [{ key: bytes("k"), value: bytes("v") }] });
      } finally {
        await store.close();
      }
      assert.ok(existsSync(join(tmp.dir, "data", "stowage.lmdb")));
      const nested = await openLmdbStore({ path: join(tmp.dir, "a", "b", "c", "x.lmdb") });
      await nested.close();
      assert.ok(existsSync(join(tmp.dir, "a", "b", "c", "x.lmdb")));
    } finally {
      tmp.remove();
    }
  });

  test("a file of another program is refused INCOMPATIBLE and left untouched", async () => {
    const tmp = tempDir("lmdb-foreign");
    try {
      const path = join(tmp.dir, "notes.lmdb");
      const content = "not an LMDB file\n".repeat(1000);
      writeFileSync(path, content);
      await assert.rejects(openLmdbStore({ path }), (error: unknown) => isStowageError(error, "INCOMPATIBLE") && error.message.includes(path));
      writeFileSync(join(tmp.dir, "short.lmdb"), "hi");
      await assert.rejects(openLmdbStore({ path: join(tmp.dir, "short.lmdb") }), (error: unknown) => isStowageError(error, "INCOMPATIBLE"));
      mkdirSync(join(tmp.dir, "folder.lmdb"));
      await assert.rejects(openLmdbStore({ path: join(tmp.dir, "folder.lmdb") }), (error: unknown) => isStowageError(error, "INCOMPATIBLE"));
      assert.equal(readFileSync(path, "utf8"), content);
    } finally {
      tmp.remove();
    }
  });

  test("facts report the map and the pages used", async () => {
    const tmp = tempDir("lmdb-facts");
    const store = await openLmdbStore({ path: join(tmp.dir, "f.lmdb") });
    try {
      await store.commit({ checks: [], writes: Array.from({ length: 100 }, (_, i) => ({ key: bytes(`k${i}`), value: new Uint8Array(100) })) });
      const facts = store.facts();
      assert.ok((facts.mapBytes as number) > 0);
      assert.ok((facts.usedPages as number) > 1);
      assert.equal(facts.entries, 100);
    } finally {
      await store.close();
      tmp.remove();
    }
  });

  test("snapshots reuse a few read transactions: reader slots stay bounded, and each renewed snapshot sees the latest commit", async () => {
    const tmp = tempDir("lmdb-readers");
    const store = await openLmdbStore({ path: join(tmp.dir, "r.lmdb") });
    try {
      const readersAtStart = store.facts().readers as number;
      // Twenty open at once, then released: at most a few of their transactions are kept.
      const open = Array.from({ length: 20 }, () => store.snapshot());
      for (const snapshot of open) snapshot.release();
      for (let round = 0; round < 200; round++) {
        // lmdb-js's statistics read through its own current read transaction, renewing it: never one of the store's.
        store.facts();
        await store.commit({ checks: [], writes: [{ key: bytes("n"), value: bytes(String(round)) }] });
        const snapshot = store.snapshot();
        try {
          assert.equal(word(await snapshot.get(bytes("n"))), String(round), `round ${round}: a renewed snapshot reads the commit before it`);
          assert.equal(word(await snapshot.peek?.(bytes("n"))), String(round));
        } finally {
          snapshot.release();
        }
      }
      const readers = store.facts().readers as number;
      assert.ok(readers <= readersAtStart + 5, `${readers} reader slots in use after 220 snapshots (${readersAtStart} at the start)`);
    } finally {
      await store.close();
      tmp.remove();
    }
  });
});

describe("LevelDB store", () => {
  test("a second open in this process is refused BACKEND_UNAVAILABLE, saying the store is open elsewhere; the first stays usable", async () => {
    const tmp = tempDir("leveldb-twice");
    const path = join(tmp.dir, "once.leveldb");
    const first = await openLevelDbStore({ path });
    try {
      await assert.rejects(openLevelDbStore({ path }), (error: unknown) => isStowageError(error, "BACKEND_UNAVAILABLE") && /open elsewhere/.test(error.message));
      await first.commit({ checks: [], writes: [{ key: bytes("still"), value: bytes("works") }] });
      assert.equal(await getWord(first, "still"), "works");
    } finally {
      await first.close();
    }
    // Once closed, the folder opens again.
    const again = await openLevelDbStore({ path });
    try {
      assert.equal(await getWord(again, "still"), "works");
    } finally {
      await again.close();
      tmp.remove();
    }
  });

  test("another process is refused while this one has the store open, and this one while the other has it", async () => {
    const tmp = tempDir("leveldb-procs");
    const path = join(tmp.dir, "owned.leveldb");
    const store = await openLevelDbStore({ path });
    let child = await startClient("leveldb", path);
    try {
      assert.equal(child.lines[0], "refused BACKEND_UNAVAILABLE");
      assert.equal((await child.finish(REPLY_MS)).code, 0);
      await store.close();
      child = await startClient("leveldb", path);
      assert.equal(child.lines[0], "ready");
      await assert.rejects(openLevelDbStore({ path }), (error: unknown) => isStowageError(error, "BACKEND_UNAVAILABLE") && /open elsewhere/.test(error.message));
      assert.equal(await ask(child, "put owner child"), "committed");
    } finally {
      await stop(child);
      await store.close();
    }
    const after = await openLevelDbStore({ path });
    try {
      assert.equal(await getWord(after, "owner"), "child");
    } finally {
      await after.close();
      tmp.remove();
    }
  });

  test("the default location is ./data/stowage.leveldb, its folders created", async () => {
    const tmp = tempDir("leveldb-default");
    try {
      const store = await inDir(tmp.dir, () => openLevelDbStore());
      try {
        assert.equal(store.location, join(tmp.dir, DEFAULT_LEVELDB_PATH));
      } finally {
        await store.close();
      }
      assert.ok(existsSync(join(tmp.dir, "data", "stowage.leveldb", "CURRENT")));
      const nested = await openLevelDbStore({ path: join(tmp.dir, "a", "b", "x.leveldb") });
      await nested.close();
      assert.ok(existsSync(join(tmp.dir, "a", "b", "x.leveldb", "CURRENT")));
    } finally {
      tmp.remove();
    }
  });

  test("a file, or a folder of other files, is refused INCOMPATIBLE and left untouched", async () => {
    const tmp = tempDir("leveldb-foreign");
    try {
      const file = join(tmp.dir, "file.leveldb");
      writeFileSync(file, "a file");
      await assert.rejects(openLevelDbStore({ path: file }), (error: unknown) => isStowageError(error, "INCOMPATIBLE"));
      const folder = join(tmp.dir, "photos");
      mkdirSync(folder);
      writeFileSync(join(folder, "cat.jpg"), "meow");
      await assert.rejects(openLevelDbStore({ path: folder }), (error: unknown) => isStowageError(error, "INCOMPATIBLE") && error.message.includes(folder));
      assert.equal(existsSync(join(folder, "CURRENT")), false);
      assert.equal(readFileSync(file, "utf8"), "a file");
    } finally {
      tmp.remove();
    }
  });
});
