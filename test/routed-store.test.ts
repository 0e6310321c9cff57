/**
 * A store over named providers (`openStore({ providers, routes, defaultProvider })`): the conformance suite through
 * the routing engine, namespaces landing on the provider their route names (read back from each provider's own file),
 * `info()` with the routing, transactions inside one provider and refused across two before any write, live feeds
 * woken by either provider, and bad configurations refused before anything opens.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { isStowageError } from "../src/api/errors.js";
import { runConformance } from "../src/conformance/index.js";
import { SqliteEngine } from "../src/engines/sqlite/sqlite-engine.js";
import { runCli } from "../src/cli/run-cli.js";
import { loadConfig, resolveConfig } from "../src/config/index.js";
import { openStore, utf8, type RoutedStoreOptions, type Store } from "../src/index.js";

const dir = mkdtempSync(join(tmpdir(), "stowage-routed-"));
after(() => rmSync(dir, { recursive: true, force: true }));
let stores = 0;

/** Two SQLite files: `local` holds everything but what the routes send to `coord`. */
function twoFiles(): RoutedStoreOptions & { local: string; coord: string } {
  const n = ++stores;
  const local = join(dir, `local-${n}.db`);
  const coord = join(dir, `coord-${n}.db`);
  return {
    local,
    coord,
    providers: { local: { backend: "sqlite", path: local }, coord: { backend: "sqlite", path: coord } },
    routes: { leases: "coord", "members.*": "coord", "members.archive": "local" },
    defaultProvider: "local",
  };
}

const open = ({ local: _l, coord: _c, ...options }: ReturnType<typeof twoFiles>): Promise<Store> => openStore(options);

// Every conformance namespace lands on the default provider; the suite's own checks go through the routing engine.
runConformance("routed (sqlite providers)", (options) => openStore({ ...twoFilesOptions(), ...options }), { supports: SqliteEngine.supports });

function twoFilesOptions(): RoutedStoreOptions {
  const { local: _l, coord: _c, ...options } = twoFiles();
  return options;
}

async function namespacesIn(path: string): Promise<string[]> {
  const store = await openStore({ backend: "sqlite", path });
  try {
    return (await store.info()).namespaces.map((info) => `${info.primitive}:${info.namespace}`);
  } finally {
    await store.close();
  }
}

describe("routed store", () => {
  it("each namespace lives on the provider its route names: exact names first, then the longest prefix, else the default", async () => {
    const options = twoFiles();
    const store = await open(options);
    try {
      await store.kv("leases").put("leader", utf8.encode("a"));
      await store.kv("members.eu").put("n1", utf8.encode("up"));
      await store.kv("members.archive").put("n0", utf8.encode("gone"));
      await store.log("orders").append("o1", utf8.encode("created"));
      const info = await store.info();
      assert.equal(info.engine, "routed");
      assert.match(info.location, /^local=sqlite:.*local-\d+\.db, coord=sqlite:.*coord-\d+\.db$/);
      assert.deepEqual(
        info.namespaces.map(({ primitive, namespace, provider, count }) => `${primitive}:${namespace}@${provider}=${count}`),
        ["kv:leases@coord=1", "kv:members.archive@local=1", "kv:members.eu@coord=1", "log:orders@local=1"],
      );
      assert.deepEqual(info.routing, {
        routes: [
          { match: "leases", provider: "coord" },
          { match: "members.archive", provider: "local" },
          { match: "members.*", provider: "coord" },
        ],
        defaultProvider: "local",
      });
      const health = await store.health();
      assert.equal(health.status, "healthy", health.reasons.join("; "));
      assert.equal(health.facts["coord.engine"], "sqlite");
      assert.ok(typeof health.facts["local.fileBytes"] === "number" || Object.keys(health.facts).some((fact) => fact.startsWith("local.")));
      assert.deepEqual(await store.check(), { ok: true, problems: [] });
    } finally {
      await store.close();
    }
    assert.deepEqual(await namespacesIn(options.coord), ["kv:leases", "kv:members.eu"]);
    assert.deepEqual(await namespacesIn(options.local), ["kv:members.archive", "log:orders"]);
  });

  it("a transaction inside one provider commits across its namespaces; one that takes another provider's namespace is refused before any write", async () => {
    const options = twoFiles();
    const store = await open(options);
    try {
      await store.transaction(async (tx) => {
        await tx.kv("leases").put("leader", utf8.encode("a"));
        await tx.slot("members.eu").upsert("epoch", utf8.encode("1"));
      });
      assert.deepEqual(utf8.decode((await store.kv("leases").get("leader"))!), "a");
      await assert.rejects(
        store.transaction(async (tx) => {
          await tx.kv("leases").put("leader", utf8.encode("b"));
          tx.log("orders");
        }),
        (error: unknown) => isStowageError(error, "NOT_SUPPORTED") && /span providers/.test(error.message) && /"orders"/.test(error.message) && /"local"/.test(error.message),
      );
      assert.deepEqual(utf8.decode((await store.kv("leases").get("leader"))!), "a", "the refused transaction wrote nothing");
    } finally {
      await store.close();
    }
  });

  it("live feeds wake on either provider's commits", async () => {
    const store = await open(twoFiles());
    const abort = new AbortController();
    try {
      const seen: string[] = [];
      const tails = [store.log("orders"), store.log("leases")].map(async (log) => {
        for await (const entry of log.tail({ all: true }, { signal: abort.signal })) {
          seen.push(utf8.decode(entry.value));
          if (seen.length === 2) abort.abort();
        }
      });
      await store.log("leases").append("k", utf8.encode("coord"));
      await store.log("orders").append("k", utf8.encode("local"));
      await Promise.all(tails.map((tail) => tail.catch((error: unknown) => (abort.signal.aborted ? undefined : Promise.reject(error)))));
      assert.deepEqual(seen.sort(), ["coord", "local"]);
    } finally {
      abort.abort();
      await store.close();
    }
  });

  it("bad configurations are INVALID_ARGUMENT naming the problem, and open nothing", async () => {
    const path = join(dir, "never.db");
    const sqlite = { backend: "sqlite", path } as const;
    const refused = async (options: unknown, pattern: RegExp) =>
      assert.rejects(openStore(options as RoutedStoreOptions), (error: unknown) => isStowageError(error, "INVALID_ARGUMENT") && pattern.test(error.message));
    await refused({ providers: {} }, /at least one provider/);
    await refused({ providers: { a: sqlite, b: { backend: "memory" } } }, /defaultProvider is needed/);
    await refused({ providers: { a: sqlite }, defaultProvider: "b" }, /defaultProvider "b" is not one of the providers \(a\)/);
    await refused({ providers: { a: sqlite }, routes: { leases: "coord" } }, /route "leases" names provider "coord"/);
    await refused({ providers: { a: sqlite }, routes: { "*": "a" } }, /matches every namespace/);
    await refused({ providers: { "1st": sqlite } }, /provider names/);
    await refused({ providers: { a: { ...sqlite, sweepIntervalMs: 0 } } }, /provider a sets sweepIntervalMs: store options go at the top level/);
    await refused({ providers: { a: { ...sqlite, pth: "x" } } }, /provider a's option "pth" is not an option of the sqlite backend/);
    await refused({ providers: { a: sqlite }, route: {} }, /"route" is not an option of a store over providers/);
    assert.equal(existsSync(path), false, "no provider opened");
  });

  it("a provider that fails to open fails the open with its error, and the providers opened before it are closed", async () => {
    const local = join(dir, "opened-first.db");
    const broken = join(dir, "not-lmdb");
    writeFileSync(broken, "this is not an LMDB file, and it is long enough to be looked at as one".repeat(100));
    await assert.rejects(
      openStore({ providers: { local: { backend: "sqlite", path: local }, broken: { backend: "lmdb", path: broken } }, defaultProvider: "local" }),
      (error: unknown) => isStowageError(error, "INCOMPATIBLE"),
    );
    // Closed: the file opens again at once for another store, with nothing written.
    assert.deepEqual(await namespacesIn(local), []);
  });

  it("one provider needs no defaultProvider; routes may still name it", async () => {
    const store = await openStore({ providers: { only: { backend: "memory" } }, routes: { leases: "only" }, sweepIntervalMs: 0 });
    try {
      await store.kv("anything").put("k", utf8.encode("v"));
      assert.deepEqual((await store.info()).namespaces.map((info) => info.provider), ["only"]);
    } finally {
      await store.close();
    }
  });
});

describe("routed store configuration", () => {
  const yaml = (local: string) =>
    [
      "providers:",
      "  local:",
      "    backend: sqlite",
      `    path: ${local}`,
      "  coord:",
      "    backend: memory",
      "routes:",
      "  leases: coord",
      '  "members.*": coord',
      "defaultProvider: local",
      "",
    ].join("\n");

  it("a config file names providers, routes and the default; a provider's variables and STOWAGE_ROUTES override it", () => {
    writeFileSync(join(dir, "providers.yaml"), yaml("./state/local.db"));
    assert.deepEqual(loadConfig({ cwd: "/", env: { STOWAGE_CONFIG: join(dir, "providers.yaml") } }), {
      providers: { local: { backend: "sqlite", path: join(dir, "state", "local.db") }, coord: { backend: "memory" } },
      routes: { leases: "coord", "members.*": "coord" },
      defaultProvider: "local",
    });
    const env = {
      STOWAGE_CONFIG: join(dir, "providers.yaml"),
      STOWAGE_PROVIDERS_LOCAL_BUSY_TIMEOUT_MS: "9000",
      STOWAGE_PROVIDERS_COORD_BACKEND: "sqlite",
      STOWAGE_PROVIDERS_COORD_PATH: "coord.db",
      STOWAGE_ROUTES: "leases=local, jobs.*=coord",
      STOWAGE_DEFAULT_PROVIDER: "coord",
    };
    assert.deepEqual(loadConfig({ cwd: dir, env }), {
      providers: { local: { backend: "sqlite", path: join(dir, "state", "local.db"), busyTimeoutMs: 9000 }, coord: { backend: "sqlite", path: join(dir, "coord.db") } },
      routes: { leases: "local", "jobs.*": "coord" },
      defaultProvider: "coord",
    });
    writeFileSync(join(dir, "providers.toml"), '[providers.local]\nbackend = "memory"\n\n[routes]\n"members.*" = "local"\n');
    assert.deepEqual(loadConfig({ cwd: dir, env: {}, argvFlags: { config: "providers.toml" } }), { providers: { local: { backend: "memory" } }, routes: { "members.*": "local" } });
  });

  it("providers, routes and the default from variables and repeatable flags alone, flags over variables over the file", () => {
    assert.deepEqual(
      resolveConfig({
        cwd: dir,
        env: { STOWAGE_PROVIDERS_LOCAL_BACKEND: "sqlite", STOWAGE_PROVIDERS_LOCAL_PATH: "l.db", STOWAGE_PROVIDERS_COORD_TLS_CA_FILE: "ca.pem", STOWAGE_ROUTES: "leases=local" },
        argvFlags: { provider: ["coord.backend=etcd", "coord.endpoints=https://10.0.0.5:2379", "local.busyTimeoutMs=7000"], route: ["leases=coord", "members.*=coord"], "default-provider": "local" },
      }),
      {
        providers: {
          local: { backend: "sqlite", path: join(dir, "l.db"), busyTimeoutMs: 7000 },
          coord: { backend: "etcd", endpoints: "https://10.0.0.5:2379", tlsCaFile: join(dir, "ca.pem") },
        },
        routes: { leases: "coord", "members.*": "coord" },
        defaultProvider: "local",
      },
    );
  });

  it("mixed or broken provider configurations are INVALID_ARGUMENT naming the field and the file", () => {
    const file = (contents: unknown) => ({ path: "./stowage.yaml", absolutePath: join(dir, "stowage.yaml"), contents });
    const refused = (run: () => unknown, pattern: RegExp) => assert.throws(run, (error: unknown) => isStowageError(error, "INVALID_ARGUMENT") && pattern.test(error.message));
    refused(() => resolveConfig({ cwd: dir, file: file({ storage: { backend: "memory" }, providers: { a: { backend: "memory" } } }) }), /has both storage \(one store\) and providers/);
    refused(() => resolveConfig({ cwd: dir, file: file({ routes: { leases: "a" } }) }), /routes in \.\/stowage\.yaml routes namespaces to providers, but the file names no providers/);
    refused(() => resolveConfig({ cwd: dir, file: file({ providers: { a: { backend: "memory", pth: "x" } } }) }), /unknown field providers\.a\.pth in \.\/stowage\.yaml/);
    refused(() => resolveConfig({ cwd: dir, file: file({ providers: { a: { backend: "postgres" } } }) }), /the postgres backend needs a DSN: set providers\.a\.dsn in the config file/);
    refused(() => resolveConfig({ cwd: dir, file: file({ providers: { a: { backend: "memory" } }, routes: { leases: 3 } }) }), /routes\.leases in \.\/stowage\.yaml must be a provider name/);
    refused(
      () => resolveConfig({ cwd: dir, file: file({ providers: { a: { backend: "memory" } } }), env: { STOWAGE_STORAGE_BACKEND: "sqlite" } }),
      /providers are configured, but STOWAGE_STORAGE_BACKEND configures one store/,
    );
    refused(() => resolveConfig({ cwd: dir, file: file({ providers: { a: { backend: "memory" } } }), env: { STOWAGE_ROUTES: "leases" } }), /STOWAGE_ROUTES takes namespace=provider pairs/);
    refused(() => resolveConfig({ cwd: dir, env: { STOWAGE_PROVIDERS_A_PTH: "x" } }), /STOWAGE_PROVIDERS_A_PTH names no storage field/);
    refused(() => resolveConfig({ cwd: dir, argvFlags: { provider: ["a.pth=x"] } }), /--provider takes <name>\.<field>=<value>/);
    refused(() => resolveConfig({ cwd: dir, argvFlags: { provider: ["a.busyTimeoutMs=soon"] } }), /--provider a\.busyTimeoutMs must be a whole number/);
    refused(() => resolveConfig({ cwd: dir, argvFlags: { provider: ["a.backend=memory"], "storage-backend": "sqlite" } }), /providers are configured, but --storage-backend configures one store/);
  });

  it("stowage info on a providers file shows each namespace's provider and the routes", async () => {
    const local = join(dir, "cli-local.db");
    const config = join(dir, "cli.yaml");
    writeFileSync(config, yaml(local).replace("backend: memory", `backend: sqlite\n    path: ${join(dir, "cli-coord.db")}`));
    const run = async (...args: string[]) => {
      let stdout = "";
      let stderr = "";
      const code = await runCli(args, { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t), env: { STOWAGE_CONFIG: config }, cwd: dir });
      assert.equal(code, 0, stderr);
      return stdout;
    };
    await run("kv", "put", "leases", "leader", "n1");
    await run("kv", "put", "orders", "o1", "new");
    const text = await run("info");
    assert.match(text, /^engine\s+routed$/m);
    assert.match(text, /^ {2}kv\s+leases\s+1\s+coord$/m);
    assert.match(text, /^ {2}kv\s+orders\s+1\s+local$/m);
    assert.match(text, /^routes\n {2}leases\s+coord\n {2}members\.\*\s+coord\n {2}\(default\)\s+local$/m);
    assert.deepEqual(JSON.parse(await run("info", "--json")).routing.defaultProvider, "local");
    assert.deepEqual(await namespacesIn(join(dir, "cli-coord.db")), ["kv:leases"]);
  });
});
