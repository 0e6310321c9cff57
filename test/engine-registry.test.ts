/**
 * The engine registry: built-in engines are descriptors like any other, and an engine registered by a third party
 * opens from openStore, a config file, STOWAGE_STORAGE_* variables and --storage-* flags (in process and through the
 * `stowage` binary), with its options checked and documented like the built-ins'.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { runCli } from "../src/cli/run-cli.js";
import { usageText } from "../src/cli/usage.js";
import { loadConfig, resolveConfig } from "../src/config/index.js";
import { MemoryEngine } from "../src/engines/memory/memory-engine.js";
import {
  engineDescriptors,
  findEngine,
  openStore,
  pathField,
  registerEngine,
  StowageError,
  textField,
  type EngineDescriptor,
  type EngineField,
  type OpenStoreOptions,
  type RoutedStoreOptions,
} from "../src/index.js";
import { fixturePath, tempDir } from "./helpers/child.js";
import { TAGGED_ENGINE, TAGGED_ENGINE_NAME, type TaggedStoreOptions } from "./helpers/tagged-engine.js";

// How a third-party engine's options become part of OpenStoreOptions (README, "Adding an engine").
declare module "../src/index.js" {
  interface StowageEngines {
    [TAGGED_ENGINE_NAME]: TaggedStoreOptions;
  }
}

const MAIN = fileURLToPath(new URL("../src/cli/main.js", import.meta.url));
const CWD = resolve("/srv/app");

registerEngine(TAGGED_ENGINE);

/** Opens the options, returns the store's engine and location, and closes it. */
async function openedAs(options: OpenStoreOptions | RoutedStoreOptions): Promise<{ engine: string; location: string }> {
  const store = await openStore(options);
  try {
    const info = await store.info();
    return { engine: info.engine, location: info.location };
  } finally {
    await store.close();
  }
}

async function cli(args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const code = await runCli(args, { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t), env: {}, cwd });
  return { code, stdout, stderr };
}

function assertInvalid(error: unknown, ...fragments: string[]): true {
  assert.ok(error instanceof StowageError, `expected a StowageError, got ${String(error)}`);
  assert.equal(error.code, "INVALID_ARGUMENT");
  for (const fragment of fragments) assert.ok(error.message.includes(fragment), `${JSON.stringify(error.message)} lacks ${JSON.stringify(fragment)}`);
  return true;
}

/** A minimal engine descriptor on the memory engine, with these fields. */
function memoryDescriptor(name: string, fields: EngineField[], open?: (options: Record<string, unknown>) => void): EngineDescriptor {
  return {
    name,
    summary: `test engine ${name}`,
    supports: MemoryEngine.supports,
    fields,
    open: async (options) => {
      open?.(options);
      return new MemoryEngine();
    },
  };
}

describe("the built-in engines", () => {
  test("are registered descriptors, in the order of messages and usage", () => {
    assert.deepEqual(engineDescriptors().slice(0, 3).map((engine) => engine.name), ["memory", "sqlite", "postgres"]);
    assert.deepEqual(findEngine("sqlite")?.fields.map((field) => field.option), ["path", "durability", "busyTimeoutMs"]);
    assert.deepEqual(findEngine("postgres")?.fields.map((field) => field.option), ["dsn", "schema", "poolSize", "readPoolSize", "workPoolSize", "connectTimeoutMs", "statementTimeoutMs"]);
    assert.deepEqual(findEngine("memory")?.fields.map((field) => field.option), ["snapshotPath", "snapshotIntervalMs"]);
    assert.equal(findEngine("mongo"), undefined);
    assert.equal(findEngine(42), undefined);
  });

  test("each field's names follow its option name", () => {
    const busy = findEngine("sqlite")?.fields.find((field) => field.option === "busyTimeoutMs");
    assert.deepEqual(
      { file: busy?.file, env: busy?.env, flag: busy?.flag, default: busy?.default },
      { file: "busyTimeoutMs", env: "STOWAGE_STORAGE_BUSY_TIMEOUT_MS", flag: "storage-busy-timeout-ms", default: 5000 },
    );
  });

  test("TypeScript keeps their options exact", async () => {
    // @ts-expect-error: a misspelt option of a built-in engine does not type-check, and openStore refuses it too.
    await assert.rejects(openStore({ backend: "sqlite", pth: "x.db" }), (error) => assertInvalid(error, 'openStore option "pth" is not an option of the sqlite backend'));
    // @ts-expect-error: postgres needs its DSN.
    await assert.rejects(openStore({ backend: "postgres" }), (error) => assertInvalid(error, "dsn must be a postgres://"));
  });
});

describe("a registered engine", () => {
  let temp: ReturnType<typeof tempDir>;
  before(() => (temp = tempDir("registry")));
  after(() => temp.remove());

  test("opens from openStore, with its options and its defaults", async () => {
    assert.deepEqual(await openedAs({ backend: TAGGED_ENGINE_NAME, tag: "alpha", shards: 3 }), { engine: TAGGED_ENGINE_NAME, location: "memory tagged alpha, 3 shards" });
    assert.deepEqual(await openedAs({ backend: TAGGED_ENGINE_NAME }), { engine: TAGGED_ENGINE_NAME, location: "memory tagged none, 1 shards" });
    const store = await openStore({ backend: TAGGED_ENGINE_NAME, sweepIntervalMs: 0 });
    try {
      await store.kv("ns").put("k", new Uint8Array([1, 2]));
      assert.deepEqual(await store.kv("ns").get("k"), new Uint8Array([1, 2]));
    } finally {
      await store.close();
    }
  });

  test("opens from a config file, taking only its own settings", async () => {
    const file = { path: "./stowage.yaml", absolutePath: "/etc/stowage/stowage.yaml", contents: { storage: { backend: TAGGED_ENGINE_NAME, tag: "beta", shards: 2, path: "./other.db" } } };
    const options = resolveConfig({ cwd: CWD, file });
    assert.deepEqual(options, { backend: TAGGED_ENGINE_NAME, tag: "beta", shards: 2 });
    assert.deepEqual(await openedAs(options), { engine: TAGGED_ENGINE_NAME, location: "memory tagged beta, 2 shards" });

    writeFileSync(join(temp.dir, "tagged.yaml"), `storage:\n  backend: ${TAGGED_ENGINE_NAME}\n  tag: yaml\n`);
    assert.deepEqual(loadConfig({ cwd: temp.dir, env: {}, argvFlags: { config: "tagged.yaml" } }), { backend: TAGGED_ENGINE_NAME, tag: "yaml" });
    const info = await cli(["info", "--json", "--config", "tagged.yaml"], temp.dir);
    assert.equal(info.code, 0, info.stderr);
    assert.equal(JSON.parse(info.stdout).location, "memory tagged yaml, 1 shards");
  });

  test("opens from STOWAGE_STORAGE_* variables", async () => {
    const options = resolveConfig({ cwd: CWD, env: { STOWAGE_STORAGE_BACKEND: TAGGED_ENGINE_NAME, STOWAGE_STORAGE_TAG: "gamma", STOWAGE_STORAGE_SHARDS: "4" } });
    assert.deepEqual(options, { backend: TAGGED_ENGINE_NAME, tag: "gamma", shards: 4 });
    assert.deepEqual(await openedAs(options), { engine: TAGGED_ENGINE_NAME, location: "memory tagged gamma, 4 shards" });
  });

  test("opens from --storage-* flags of the CLI, flags over variables", async () => {
    let stdout = "";
    const code = await runCli(["info", "--json", "--storage-backend", TAGGED_ENGINE_NAME, "--storage-tag", "delta", "--storage-shards", "5"], {
      stdout: (t) => void (stdout += t),
      stderr: (t) => assert.fail(t),
      env: { STOWAGE_STORAGE_TAG: "ignored", STOWAGE_STORAGE_SHARDS: "6" },
      cwd: temp.dir,
    });
    assert.equal(code, 0);
    assert.equal(JSON.parse(stdout).location, "memory tagged delta, 5 shards");
  });

  test("works from the stowage binary when registered by a module given to node --import", async () => {
    const args = ["--import", fixturePath("register-tagged-engine"), MAIN, "info", "--json", "--storage-backend", TAGGED_ENGINE_NAME, "--storage-tag", "epsilon"];
    const stdout = await new Promise<string>((done, fail) => {
      execFile(process.execPath, args, { cwd: temp.dir, encoding: "utf8", timeout: 60_000 }, (error, out, err) => (error === null ? done(out) : fail(new Error(`${error.message}\n${err}`))));
    });
    assert.equal(JSON.parse(stdout).location, "memory tagged epsilon, 1 shards");
  });

  test("has its options checked in every source, with the messages of the built-in ones", async () => {
    await assert.rejects(openStore({ backend: TAGGED_ENGINE_NAME, tag: "BAD" }), (error) => assertInvalid(error, 'tag must be 1 to 16 letters a-z, got "BAD"'));
    await assert.rejects(openStore({ backend: TAGGED_ENGINE_NAME, shards: 65 }), (error) => assertInvalid(error, "shards must be a whole number from 1 to 64, got 65"));
    await assert.rejects(openStore({ backend: TAGGED_ENGINE_NAME, path: "x.db" } as OpenStoreOptions), (error) =>
      assertInvalid(error, `openStore option "path" is not an option of the ${TAGGED_ENGINE_NAME} backend; it takes backend, clock, sweepIntervalMs, tag, shards`),
    );
    assert.throws(() => resolveConfig({ cwd: CWD, argvFlags: { "storage-tag": "BAD" } }), (error) => assertInvalid(error, '--storage-tag must be 1 to 16 letters a-z; got "BAD"'));
    assert.throws(() => resolveConfig({ cwd: CWD, env: { STOWAGE_STORAGE_SHARDS: "1e3" } }), (error) => assertInvalid(error, "STOWAGE_STORAGE_SHARDS must be a whole number from 1 to 64"));
    const file = { path: "./s.json", absolutePath: "/s.json", contents: { storage: { shards: 0 } } };
    assert.throws(() => resolveConfig({ cwd: CWD, file }), (error) => assertInvalid(error, "storage.shards in ./s.json must be a whole number from 1 to 64; got 0"));
    const unknown = { path: "./s.json", absolutePath: "/s.json", contents: { storage: { tga: "x" } } };
    assert.throws(() => resolveConfig({ cwd: CWD, file: unknown }), (error) => assertInvalid(error, "unknown field storage.tga", "statementTimeoutMs, endpoints, prefix, requestTimeoutMs, username, password, tlsCaFile, tlsCertFile, tlsKeyFile, url, connectionString, table, primary, standby, mode, replicateIntervalMs, probeIntervalMs, failAfter, failback, maxPendingBatches, tag, shards"));
    await assert.rejects(openStore({ backend: "mongo" } as never), (error) => assertInvalid(error, `backend must be one of memory, sqlite, postgres, lmdb, leveldb, etcd, redis, azure-table, composite, ${TAGGED_ENGINE_NAME}`));
    const flag = await cli(["info", "--storage-backend", "mongo"], temp.dir);
    assert.match(flag.stderr, new RegExp(`--storage-backend must be one of memory, sqlite, postgres, lmdb, leveldb, etcd, redis, azure-table, composite, ${TAGGED_ENGINE_NAME}[,;]`));
  });

  test("is in the CLI's usage text with its options", () => {
    const usage = usageText();
    assert.match(usage, new RegExp(`^  ${TAGGED_ENGINE_NAME}: The memory engine with a tag, for tests$`, "m"));
    assert.match(usage, /^ {4}--storage-tag <text> +A name shown in the location \(default none\)$/m);
    assert.match(usage, /^ {4}--storage-shards <n> +A number shown in the location \(default 1\)$/m);
    assert.match(usage, new RegExp(`The engine: memory, sqlite \\(default\\), postgres, lmdb, leveldb,\\s+etcd,\\s+redis,\\s+azure-table,\\s+composite,\\s+${TAGGED_ENGINE_NAME}`));
  });
});

describe("registration", () => {
  /** Asserts that registering the descriptor is refused, and that nothing was registered. */
  function assertRefused(descriptor: EngineDescriptor, ...fragments: string[]): void {
    const before = engineDescriptors().length;
    assert.throws(() => registerEngine(descriptor), (error) => assertInvalid(error, ...fragments));
    assert.equal(engineDescriptors().length, before);
  }
  const field = (option: string, overrides: Partial<EngineField> = {}): EngineField => ({
    ...textField({ option, doc: "a test option", accepts: "any text", check: () => undefined }),
    ...overrides,
  });

  test("refuses a name that is taken, or not a name", () => {
    assertRefused(memoryDescriptor("memory", []), 'an engine named "memory" is registered already');
    assertRefused(memoryDescriptor(TAGGED_ENGINE_NAME, []), `an engine named "${TAGGED_ENGINE_NAME}" is registered already`);
    assertRefused(memoryDescriptor("Bad Name", []), "its name must be 1 to 32 characters of a-z 0-9 -");
    assertRefused({ ...memoryDescriptor("no-open", []), open: undefined } as never, "open must be a function");
  });

  test("refuses a field whose environment name or flag another engine's field uses", () => {
    assertRefused(memoryDescriptor("env-clash", [field("file", { env: "STOWAGE_STORAGE_PATH" })]), 'its field "file" has the environment name STOWAGE_STORAGE_PATH, which the sqlite engine\'s field "path" uses');
    assertRefused(memoryDescriptor("flag-clash", [field("url", { flag: "storage-dsn" })]), 'its field "url" has the flag storage-dsn, which the postgres engine\'s field "dsn" uses');
    assertRefused(memoryDescriptor("option-clash", [field("tag")]), `its field "tag" has the option name tag, which the ${TAGGED_ENGINE_NAME} engine's field "tag" uses`);
    // The same names but read differently (text, not a path) are not the same setting.
    assertRefused(memoryDescriptor("type-clash", [field("path")]), "which the sqlite engine's field \"path\" uses");
  });

  test("refuses the backend setting's names, store options and names outside STOWAGE_STORAGE_* / --storage-*", () => {
    assertRefused(memoryDescriptor("backend-env", [field("engine", { env: "STOWAGE_STORAGE_BACKEND" })]), "has the environment name STOWAGE_STORAGE_BACKEND, which is the backend setting's");
    assertRefused(memoryDescriptor("backend-flag", [field("engine", { flag: "storage-backend" })]), "has the flag storage-backend, which is the backend setting's");
    assertRefused(memoryDescriptor("store-option", [field("clock")]), 'its field "clock" is an option of every store');
    assertRefused(memoryDescriptor("config-env", [field("config", { env: "STOWAGE_CONFIG" })]), "needs an environment name STOWAGE_STORAGE_*");
    assertRefused(memoryDescriptor("json-flag", [field("json", { flag: "json" })]), "needs a flag storage-*");
  });

  test("refuses a field declared twice, a bad type, and a default its own check refuses", () => {
    assertRefused(memoryDescriptor("twice", [field("a"), field("a")]), 'declares the field "a" twice');
    assertRefused(memoryDescriptor("bad-type", [field("a", { type: "boolean" as never })]), 'has type "boolean"');
    const strict = field("level", { default: "high", check: () => { throw new StowageError("INVALID_ARGUMENT", "level must be low"); } });
    assertRefused(memoryDescriptor("bad-default", [strict]), "has a default its own check refuses: INVALID_ARGUMENT: level must be low");
  });

  test("lets engines share a setting (the same names, read the same way), each with its own default", async () => {
    const opened: Array<Record<string, unknown>> = [];
    registerEngine(memoryDescriptor("second-file", [pathField({ option: "path", doc: "its file", default: "./data/second.db" })], (options) => opened.push(options)));
    assert.deepEqual(resolveConfig({ cwd: CWD, env: { STOWAGE_STORAGE_BACKEND: "second-file" } }), { backend: "second-file", path: resolve(CWD, "data/second.db") });
    assert.deepEqual(resolveConfig({ cwd: CWD, env: { STOWAGE_STORAGE_BACKEND: "second-file", STOWAGE_STORAGE_PATH: "x.db" } }), { backend: "second-file", path: resolve(CWD, "x.db") });
    assert.deepEqual(resolveConfig({ cwd: CWD }), { backend: "sqlite", path: resolve(CWD, "data/stowage.db") }, "the sqlite default is unchanged");
    await (await openStore({ backend: "second-file" })).close();
    await (await openStore({ backend: "second-file", path: "y.db" })).close();
    assert.deepEqual(opened, [{ path: "./data/second.db" }, { path: "y.db" }]);
  });
});
