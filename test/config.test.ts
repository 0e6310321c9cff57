import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, before, describe, test } from "node:test";
import { parseArgs } from "node:util";
import { isStowageError, StowageError } from "../src/api/errors.js";
import {
  CONFIG_FLAG_OPTIONS,
  configFlagOptions,
  type ConfigFile,
  loadConfig,
  parseConfigText,
  resolveConfig,
  STORAGE_FIELD_NAMES,
  STORAGE_FIELDS,
  type StorageField,
  storageSettings,
} from "../src/config/index.js";
import { describeValue } from "../src/config/sources.js";
import { engineDescriptors } from "../src/engines/registry.js";
import { DEFAULT_SQLITE_PATH, openStore } from "../src/open-store.js";

const CWD = resolve("/srv/app");

/** A parsed config file as if read from `/etc/stowage/<name>`. */
function file(contents: unknown, name = "stowage.yaml"): ConfigFile {
  return { path: `./${name}`, absolutePath: resolve("/etc/stowage", name), contents };
}

/** Asserts an INVALID_ARGUMENT whose message contains every fragment. */
function assertInvalid(run: () => unknown, ...fragments: string[]): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof StowageError, `expected a StowageError, got ${String(error)}`);
    assert.equal(error.code, "INVALID_ARGUMENT");
    for (const fragment of fragments) assert.ok(error.message.includes(fragment), `${JSON.stringify(error.message)} lacks ${JSON.stringify(fragment)}`);
    return true;
  });
}

describe("resolveConfig: defaults and precedence", () => {
  test("with nothing configured: sqlite at the default path under cwd", () => {
    assert.deepEqual(resolveConfig({ cwd: CWD }), { backend: "sqlite", path: resolve(CWD, DEFAULT_SQLITE_PATH) });
  });

  test("file over defaults; a relative path in the file is relative to the file's folder", () => {
    const options = resolveConfig({
      cwd: CWD,
      file: file({ storage: { backend: "sqlite", path: "./state.db", durability: "process", busyTimeoutMs: 250 } }),
    });
    assert.deepEqual(options, { backend: "sqlite", path: resolve("/etc/stowage/state.db"), durability: "process", busyTimeoutMs: 250 });
  });

  test("env over file, field by field; a relative env path is relative to cwd", () => {
    const options = resolveConfig({
      cwd: CWD,
      env: { STOWAGE_STORAGE_PATH: "env.db", STOWAGE_STORAGE_BUSY_TIMEOUT_MS: "900" },
      file: file({ storage: { path: "/file.db", durability: "process", busyTimeoutMs: 250 } }),
    });
    assert.deepEqual(options, { backend: "sqlite", path: resolve(CWD, "env.db"), durability: "process", busyTimeoutMs: 900 });
  });

  test("flags over env over file over defaults", () => {
    const options = resolveConfig({
      cwd: CWD,
      argvFlags: { "storage-path": "/flag.db", "storage-durability": "full" },
      env: { STOWAGE_STORAGE_PATH: "/env.db", STOWAGE_STORAGE_DURABILITY: "process", STOWAGE_STORAGE_BUSY_TIMEOUT_MS: "7" },
      file: file({ storage: { path: "/file.db", durability: "process", busyTimeoutMs: 1 } }),
    });
    assert.deepEqual(options, { backend: "sqlite", path: resolve("/flag.db"), durability: "full", busyTimeoutMs: 7 });
  });

  test("each source can choose the backend, the higher one winning", () => {
    const memoryFile = file({ storage: { backend: "memory" } });
    assert.deepEqual(resolveConfig({ cwd: CWD, file: memoryFile }), { backend: "memory" });
    assert.deepEqual(resolveConfig({ cwd: CWD, file: memoryFile, env: { STOWAGE_STORAGE_BACKEND: "sqlite" } }), { backend: "sqlite", path: resolve(CWD, DEFAULT_SQLITE_PATH) });
    assert.deepEqual(
      resolveConfig({ cwd: CWD, env: { STOWAGE_STORAGE_BACKEND: "sqlite" }, argvFlags: { "storage-backend": "memory" } }),
      { backend: "memory" },
    );
  });

  test("memory drops the sqlite settings of lower layers instead of refusing them", () => {
    const options = resolveConfig({
      cwd: CWD,
      env: { STOWAGE_STORAGE_BACKEND: "memory" },
      file: file({ storage: { path: "./state.db", durability: "process", busyTimeoutMs: 10 } }),
    });
    assert.deepEqual(options, { backend: "memory" });
  });

  test("empty environment variables count as unset; other variables and flags are ignored", () => {
    const options = resolveConfig({
      cwd: CWD,
      env: { STOWAGE_STORAGE_BACKEND: "", STOWAGE_STORAGE_PATH: "", HOME: "/root", STOWAGE_OTHER: "x" },
      argvFlags: { json: true, limit: "3" },
    });
    assert.deepEqual(options, { backend: "sqlite", path: resolve(CWD, DEFAULT_SQLITE_PATH) });
  });

  test("an empty file, or an empty storage section, configures nothing", () => {
    const defaults = resolveConfig({ cwd: CWD });
    assert.deepEqual(resolveConfig({ cwd: CWD, file: file(null) }), defaults);
    assert.deepEqual(resolveConfig({ cwd: CWD, file: file({ storage: null }) }), defaults);
    assert.deepEqual(resolveConfig({ cwd: CWD, file: file({}) }), defaults);
  });

  test("CONFIG_FLAG_OPTIONS parses the flags resolveConfig reads", () => {
    const { values } = parseArgs({
      args: ["--storage-backend", "sqlite", "--storage-path=x.db", "--storage-busy-timeout-ms", "12", "--config", "c.yaml"],
      options: CONFIG_FLAG_OPTIONS,
    });
    assert.deepEqual(resolveConfig({ cwd: CWD, argvFlags: values }), { backend: "sqlite", path: resolve(CWD, "x.db"), busyTimeoutMs: 12 });
  });
});

describe("the settings come from the engine descriptors", () => {
  test("each engine option has its config-file field, variable and flag, and nothing else is read", () => {
    const fields = engineDescriptors().flatMap((engine) => engine.fields);
    assert.deepEqual(STORAGE_FIELD_NAMES, ["backend", ...new Set(fields.map((field) => field.file))]);
    for (const field of fields) {
      assert.deepEqual({ env: STORAGE_FIELDS[field.file as StorageField].env, flag: STORAGE_FIELDS[field.file as StorageField].flag }, { env: field.env, flag: field.flag });
    }
    assert.deepEqual(storageSettings().map((setting) => setting.file), STORAGE_FIELD_NAMES);
    assert.deepEqual(configFlagOptions(), CONFIG_FLAG_OPTIONS);
    assert.deepEqual(Object.keys(CONFIG_FLAG_OPTIONS), ["config", ...STORAGE_FIELD_NAMES.map((field) => STORAGE_FIELDS[field].flag), "provider", "route", "default-provider"]);
  });

  test("a missing required setting names every place it can be set", () => {
    assertInvalid(
      () => resolveConfig({ cwd: CWD, argvFlags: { "storage-backend": "postgres" } }),
      "the postgres backend needs a DSN: set --storage-dsn, STOWAGE_STORAGE_DSN or storage.dsn in the config file",
    );
  });

  test("only a path's default is filled in (resolved against cwd); other defaults are left to openStore", () => {
    assert.deepEqual(resolveConfig({ cwd: CWD, argvFlags: { "storage-backend": "postgres", "storage-dsn": "postgres://u@h/db" } }), {
      backend: "postgres",
      dsn: "postgres://u@h/db",
    });
    assert.deepEqual(resolveConfig({ cwd: "/elsewhere" }), { backend: "sqlite", path: resolve("/elsewhere", DEFAULT_SQLITE_PATH) });
  });
});

describe("resolveConfig: bad values name the field, the source and what it accepts", () => {
  const bad: Record<StorageField, { text: string; file: unknown; accepts: string }> = {
    backend: { text: "mongo", file: "mysql", accepts: "one of memory, sqlite, postgres, lmdb, leveldb, etcd, redis, azure-table, composite" },
    path: { text: "", file: 42, accepts: "a non-empty file path" },
    durability: { text: "FULL", file: true, accepts: "one of full, process" },
    busyTimeoutMs: { text: "5s", file: -1, accepts: "a whole number of milliseconds from 0 to 2147483647" },
    dsn: { text: "mysql://x", file: 5, accepts: "a postgres:// connection string" },
    schema: { text: "Bad-Schema", file: "1abc", accepts: "a PostgreSQL schema name" },
    poolSize: { text: "0", file: 0, accepts: "a whole number ≥ 1" },
    readPoolSize: { text: "0", file: 0, accepts: "a whole number ≥ 1" },
    workPoolSize: { text: "0", file: 0, accepts: "a whole number ≥ 1" },
    connectTimeoutMs: { text: "1s", file: -5, accepts: "a whole number of milliseconds from 1 to 2147483647" },
    statementTimeoutMs: { text: "0", file: 2.5, accepts: "a whole number of milliseconds from 1 to 2147482647" },
    endpoints: { text: "127.0.0.1:2379", file: 2379, accepts: "comma-separated http:// or https:// URLs" },
    prefix: { text: "", file: 7, accepts: "a key prefix of 1 to 256 bytes" },
    requestTimeoutMs: { text: "5s", file: 0, accepts: "a whole number of milliseconds from 1 to 2147483647" },
    url: { text: "http://127.0.0.1:6379", file: 6379, accepts: "a redis:// or rediss:// URL" },
    connectionString: { text: "", file: 7, accepts: "an Azure Storage connection string" },
    table: { text: "my-table", file: "ab", accepts: "3 to 63 letters and digits, starting with a letter" },
    username: { text: "", file: 7, accepts: "a non-empty etcd user name" },
    password: { text: "", file: 314159, accepts: "a non-empty string" },
    tlsCaFile: { text: "", file: 42, accepts: "a non-empty file path" },
    tlsCertFile: { text: "", file: true, accepts: "a non-empty file path" },
    tlsKeyFile: { text: "", file: ["key.pem"], accepts: "a non-empty file path" },
    snapshotPath: { text: "", file: 7, accepts: "a non-empty file path" },
    snapshotIntervalMs: { text: "1m", file: -1, accepts: "a whole number of milliseconds from 0 to 2147483647" },
    primary: { text: "1main", file: 3, accepts: "a provider name" },
    standby: { text: "spare!", file: false, accepts: "a provider name" },
    mode: { text: "SYNC", file: 1, accepts: "one of sync, async" },
    replicateIntervalMs: { text: "1s", file: 0, accepts: "a whole number of milliseconds from 1 to 2147483647" },
    probeIntervalMs: { text: "9", file: 5, accepts: "a whole number of milliseconds from 10 to 2147483647" },
    failAfter: { text: "0", file: 1001, accepts: "a whole number from 1 to 1000" },
    failback: { text: "never", file: true, accepts: "one of manual, auto" },
    maxPendingBatches: { text: "0", file: 0.5, accepts: "a whole number from 1 to 1000000" },
  };
  /** How an error quotes a bad value: a secret's never. */
  const quoted = (field: StorageField, value: unknown) =>
    STORAGE_FIELDS[field].secret === true ? "got a value not shown (a secret)" : `got ${typeof value === "string" ? JSON.stringify(value) : describeValue(value)}`;

  for (const field of STORAGE_FIELD_NAMES) {
    const { flag, env } = STORAGE_FIELDS[field];
    const { text, file: fileValue, accepts } = bad[field];

    test(`--${flag}`, () => {
      assertInvalid(() => resolveConfig({ cwd: CWD, argvFlags: { [flag]: text } }), `--${flag} must be ${accepts}`, quoted(field, text));
    });

    // An empty variable means unset, and any other text is a valid path: the path variable cannot be bad.
    if (text !== "") {
      test(env, () => {
        assertInvalid(() => resolveConfig({ cwd: CWD, env: { [env]: text } }), `${env} must be ${accepts}`, quoted(field, text));
      });
    }

    test(`storage.${field} in a file`, () => {
      assertInvalid(
        () => resolveConfig({ cwd: CWD, file: file({ storage: { [field]: fileValue } }) }),
        `storage.${field} in ./stowage.yaml must be ${accepts}`,
        quoted(field, fileValue),
      );
    });
  }

  test("durations past the longest timer (2^31 − 1 ms; PostgreSQL's statement timeout 1 s less) are refused from every source, naming the bound", () => {
    const past = { busyTimeoutMs: 3_000_000_000, connectTimeoutMs: 2_147_483_648, statementTimeoutMs: 2_147_482_648 } as const;
    for (const [field, value] of Object.entries(past) as Array<[keyof typeof past, number]>) {
      const { flag, env } = STORAGE_FIELDS[field];
      const bound = field === "statementTimeoutMs" ? "2147482647" : "2147483647";
      assertInvalid(() => resolveConfig({ cwd: CWD, argvFlags: { [flag]: String(value) } }), `--${flag} must be`, bound);
      assertInvalid(() => resolveConfig({ cwd: CWD, env: { [env]: String(value) } }), env, bound);
      assertInvalid(() => resolveConfig({ cwd: CWD, file: file({ storage: { [field]: value } }) }), `storage.${field}`, bound);
      // The bound itself is accepted.
      const backend = field === "busyTimeoutMs" ? {} : { "storage-backend": "postgres", "storage-dsn": "postgres://u@127.0.0.1:5432/db" };
      assert.equal((resolveConfig({ cwd: CWD, argvFlags: { ...backend, [flag]: bound } }) as Record<string, unknown>)[field], Number(bound));
    }
  });

  test("the postgres backend needs a DSN from some layer, and takes only its own settings", () => {
    assertInvalid(() => resolveConfig({ cwd: CWD, env: { STOWAGE_STORAGE_BACKEND: "postgres" } }), "STOWAGE_STORAGE_DSN");
    assert.deepEqual(
      resolveConfig({
        cwd: CWD,
        env: { STOWAGE_STORAGE_BACKEND: "postgres", STOWAGE_STORAGE_DSN: "postgres://u@127.0.0.1:5432/db", STOWAGE_STORAGE_PATH: "ignored.db" },
        file: file({ storage: { schema: "tenant_a", poolSize: 4 } }),
        argvFlags: { "storage-statement-timeout-ms": "2000" },
      }),
      { backend: "postgres", dsn: "postgres://u@127.0.0.1:5432/db", schema: "tenant_a", poolSize: 4, statementTimeoutMs: 2000 },
    );
  });

  test("a bad password, or a bad URL, DSN or connection string (which may hold one), is never quoted back, from any source", () => {
    const { flag, env } = STORAGE_FIELDS.password;
    for (const [run, source] of [
      [() => resolveConfig({ cwd: CWD, file: file({ storage: { backend: "etcd", password: 271828 } }) }), "storage.password"],
      [() => resolveConfig({ cwd: CWD, file: file({ storage: { backend: "etcd", password: ["271828"] } }) }), "storage.password"],
      [() => resolveConfig({ cwd: CWD, env: { STOWAGE_STORAGE_URL: "http://app:271828@cache:6379" } }), "STOWAGE_STORAGE_URL"],
      [() => resolveConfig({ cwd: CWD, argvFlags: { "storage-url": "redis//app:271828@cache" } }), "--storage-url"],
      [() => resolveConfig({ cwd: CWD, env: { STOWAGE_STORAGE_DSN: "mysql://app:271828@db/app" } }), "STOWAGE_STORAGE_DSN"],
      [() => resolveConfig({ cwd: CWD, file: file({ storage: { backend: "azure-table", connectionString: ["AccountKey=271828"] } }) }), "storage.connectionString"],
    ] as const) {
      assert.throws(run, (error: Error) => isStowageError(error, "INVALID_ARGUMENT") && error.message.includes(source) && !error.message.includes("271828"));
    }
    for (const field of ["password", "url", "dsn", "connectionString"] as const) assert.equal(STORAGE_FIELDS[field].secret, true, field);
    assert.equal(STORAGE_FIELDS.username.secret, undefined);
    assert.deepEqual([flag, env], ["storage-password", "STOWAGE_STORAGE_PASSWORD"]);
  });

  test("etcd credentials and TLS files come from every source; a relative TLS file is resolved like any path", () => {
    assert.deepEqual(
      resolveConfig({
        cwd: CWD,
        file: file({ storage: { backend: "etcd", endpoints: "https://10.0.0.5:2379", tlsCaFile: "certs/ca.pem", username: "file-user", password: "file-secret" } }),
        env: { STOWAGE_STORAGE_TLS_CERT_FILE: "client.pem", STOWAGE_STORAGE_PASSWORD: "env-secret" },
        argvFlags: { "storage-tls-key-file": "/keys/client.key", "storage-username": "flag-user" },
      }),
      {
        backend: "etcd",
        endpoints: "https://10.0.0.5:2379",
        tlsCaFile: resolve("/etc/stowage/certs/ca.pem"),
        tlsCertFile: resolve(CWD, "client.pem"),
        tlsKeyFile: resolve("/keys/client.key"),
        username: "flag-user",
        password: "env-secret",
      },
    );
  });

  test("redis takes the TLS files (its credentials come with its url), and not the etcd user", () => {
    assert.deepEqual(
      resolveConfig({
        cwd: CWD,
        env: { STOWAGE_STORAGE_BACKEND: "redis", STOWAGE_STORAGE_URL: "rediss://app:pw@cache:6380", STOWAGE_STORAGE_TLS_CA_FILE: "/ca.pem", STOWAGE_STORAGE_USERNAME: "etcd-only" },
      }),
      { backend: "redis", url: "rediss://app:pw@cache:6380", tlsCaFile: resolve("/ca.pem") },
    );
  });

  test("busy timeouts in text must be plain digits", () => {
    for (const text of ["1e3", "0x10", " 5", "-1", "1.5"]) {
      assertInvalid(() => resolveConfig({ cwd: CWD, env: { STOWAGE_STORAGE_BUSY_TIMEOUT_MS: text } }), "STOWAGE_STORAGE_BUSY_TIMEOUT_MS");
    }
    assertInvalid(() => resolveConfig({ cwd: CWD, file: file({ storage: { busyTimeoutMs: "100" } }) }), 'got "100"');
    assertInvalid(() => resolveConfig({ cwd: CWD, file: file({ storage: { busyTimeoutMs: 1.5 } }) }), "got 1.5");
  });

  test("a whitespace-only env path is kept (paths may contain spaces), but a flag without a value is refused", () => {
    assert.equal((resolveConfig({ cwd: CWD, env: { STOWAGE_STORAGE_PATH: " " } }) as { path: string }).path, resolve(CWD, " "));
    assertInvalid(() => resolveConfig({ cwd: CWD, argvFlags: { "storage-backend": true } }), "--storage-backend must be", "got true");
  });

  test("a bad value in a lower layer is reported even when a higher layer overrides it", () => {
    assertInvalid(
      () => resolveConfig({ cwd: CWD, argvFlags: { "storage-backend": "sqlite" }, file: file({ storage: { backend: "mongo" } }) }),
      "storage.backend in ./stowage.yaml",
    );
  });

  test("unknown fields and sections are errors naming the file and what is accepted", () => {
    assertInvalid(
      () => resolveConfig({ cwd: CWD, file: file({ storage: { durabilty: "full" } }) }),
      "unknown field storage.durabilty in ./stowage.yaml",
      "backend, snapshotPath, snapshotIntervalMs, path, durability, busyTimeoutMs",
    );
    assertInvalid(() => resolveConfig({ cwd: CWD, file: file({ store: {} }) }), 'unknown section "store" in ./stowage.yaml', "accepts storage");
  });

  test("a file or storage section that is not a mapping is an error", () => {
    assertInvalid(() => resolveConfig({ cwd: CWD, file: file(["storage"]) }), "config file ./stowage.yaml must be a mapping", "got a list");
    assertInvalid(() => resolveConfig({ cwd: CWD, file: file("sqlite") }), "config file ./stowage.yaml must be a mapping");
    assertInvalid(() => resolveConfig({ cwd: CWD, file: file({ storage: "sqlite" }) }), "storage in ./stowage.yaml must be a mapping");
  });
});

describe("loadConfig and config files", () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "stowage-config-"));
    mkdirSync(join(dir, "conf"));
    writeFileSync(join(dir, "conf", "stowage.yaml"), "# comment\nstorage:\n  backend: sqlite\n  path: ./yaml.db\n  durability: process\n");
    writeFileSync(join(dir, "conf", "stowage.json"), '\uFEFF{ "storage": { "path": "json.db", "busyTimeoutMs": 3000 } }');
    writeFileSync(join(dir, "memory.yml"), "storage:\n  backend: memory\n");
    writeFileSync(join(dir, "broken.yaml"), "storage:\n  backend: sqlite\n  backend: memory\n");
    writeFileSync(join(dir, "broken.json"), '{ "storage": { "backend": "sqlite", } }');
    writeFileSync(join(dir, "unknown.yaml"), "storage:\n  backend: sqlite\n  pth: ./x.db\n");
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test("reads a YAML file given by --config, relative to cwd", () => {
    assert.deepEqual(loadConfig({ cwd: dir, env: {}, argvFlags: { config: "conf/stowage.yaml" } }), {
      backend: "sqlite",
      path: join(dir, "conf", "yaml.db"),
      durability: "process",
    });
  });

  test("reads a JSON file given by STOWAGE_CONFIG (a byte-order mark is tolerated)", () => {
    assert.deepEqual(loadConfig({ cwd: dir, env: { STOWAGE_CONFIG: join(dir, "conf", "stowage.json") } }), {
      backend: "sqlite",
      path: join(dir, "conf", "json.db"),
      busyTimeoutMs: 3000,
    });
  });

  test("--config wins over STOWAGE_CONFIG; an empty STOWAGE_CONFIG means no file", () => {
    const options = loadConfig({ cwd: dir, env: { STOWAGE_CONFIG: "conf/stowage.json" }, argvFlags: { config: "memory.yml" } });
    assert.deepEqual(options, { backend: "memory" });
    assert.deepEqual(loadConfig({ cwd: dir, env: { STOWAGE_CONFIG: "" } }), { backend: "sqlite", path: join(dir, DEFAULT_SQLITE_PATH) });
  });

  test("all layers together: flags > env > file > defaults", () => {
    const options = loadConfig({
      cwd: dir,
      env: { STOWAGE_CONFIG: "conf/stowage.yaml", STOWAGE_STORAGE_DURABILITY: "full", STOWAGE_STORAGE_PATH: "env.db" },
      argvFlags: { "storage-path": "flag.db" },
    });
    assert.deepEqual(options, { backend: "sqlite", path: join(dir, "flag.db"), durability: "full" });
  });

  test("a missing config file names the file and where it was named", () => {
    assertInvalid(() => loadConfig({ cwd: dir, env: {}, argvFlags: { config: "nope.yaml" } }), "cannot read config file nope.yaml (from --config): no such file");
    assertInvalid(() => loadConfig({ cwd: dir, env: { STOWAGE_CONFIG: "nope.json" } }), "config file nope.json (from STOWAGE_CONFIG)");
  });

  test("a folder is not a config file", () => {
    assertInvalid(() => loadConfig({ cwd: dir, env: {}, argvFlags: { config: "conf" } }), "cannot read config file conf", "folder");
  });

  test("an empty --config is refused", () => {
    assertInvalid(() => loadConfig({ cwd: dir, env: {}, argvFlags: { config: "" } }), "--config must be the path");
  });

  test("unparsable YAML and JSON name the file and the problem", () => {
    assertInvalid(() => loadConfig({ cwd: dir, env: {}, argvFlags: { config: "broken.yaml" } }), "broken.yaml (from --config) is not valid YAML", "line 3");
    assertInvalid(() => loadConfig({ cwd: dir, env: {}, argvFlags: { config: "broken.json" } }), "broken.json (from --config) is not valid JSON");
    assertInvalid(() => parseConfigText("a: 1\n---\nb: 2\n", "multi.yaml"), "config file multi.yaml is not valid YAML", "multiple documents");
  });

  test("unknown fields in a real file are reported with its path as given", () => {
    assertInvalid(() => loadConfig({ cwd: dir, env: {}, argvFlags: { config: "./unknown.yaml" } }), "unknown field storage.pth in ./unknown.yaml");
  });

  test("the options open a store", async () => {
    const store = await openStore(loadConfig({ cwd: dir, env: {}, argvFlags: { config: "memory.yml" } }));
    try {
      assert.equal(store.engine, "memory");
    } finally {
      await store.close();
    }
  });
});
