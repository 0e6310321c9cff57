import { json, type Codec } from "../api/codec.js";
import { isStowageError, StowageError } from "../api/errors.js";
import { compareKeys } from "../api/key-order.js";
import type { Kv, Log, LogEntry, Store, TransactionScope } from "../api/types.js";
import { openStore } from "../open-store.js";
import { canonicalSchema, fingerprintOf, type JsonValue } from "./schema-fingerprint.js";

export { canonicalSchema, schemaFingerprint, MAX_SCHEMA_DEPTH, type JsonValue } from "./schema-fingerprint.js";

/** The namespace of the registry: its Log (every registration, the source of truth) and its KV index (each table's latest). */
export const SCHEMAS_NAMESPACE = "schemas";

/** Index entries read per page when the index is checked against the log at open. */
const INDEX_PAGE = 1_000;
/** Index repairs written per transaction (well under the transaction write limit). */
const REPAIR_BATCH = 500;
/** Pause before the live feed starts again after a failed read (the store unreachable for a moment, say). */
const FEED_RETRY_MS = 1_000;

/** Which table a schema belongs to. Each part is any non-empty string (`/` included). */
export interface TableRef {
  tenant: string;
  db: string;
  table: string;
}

/** One registered version of a table's schema. Returned objects are frozen: they are the registry's cache. */
export interface SchemaVersion extends TableRef {
  /** 1 for the table's first schema, then +1 per new structure. */
  version: number;
  /** Hex SHA-256 of the schema's canonical form (see `canonicalSchema`). */
  fingerprint: string;
  /** The sequence of the registration in the `schemas` log: global across tables, it orders all registrations. */
  sequence: number;
  /** The store clock's time of the registration, in ms since the epoch. */
  timestamp: number;
  /** The schema as first registered with this structure (keys in the order it was given). */
  schema: JsonValue;
  /** The source position given with the registration (for instance the binlog offset of the DDL), if any. */
  checkpoint?: string;
}

/** Options of `register`. */
export interface RegisterOptions {
  /**
   * Where the source stood when it saw this schema (a binlog offset, an LSN, …), kept with the version. A string:
   * positions are tokens, and a structured one is stored as its JSON text. Kept only when a new version is made.
   */
  checkpoint?: string;
}

/** Options of `SchemaRegistry.open`. */
export interface SchemaRegistryOptions {
  /**
   * Follow the log live (default true): other registries' registrations, in this process or others, reach the cache
   * as they commit. With false, the cache learns of them only through `refresh()` (and this registry's own `register`).
   */
  live?: boolean;
}

/** A registration as the log stores it; the log entry adds its sequence and timestamp. */
interface StoredRegistration extends TableRef {
  version: number;
  fingerprint: string;
  schema: JsonValue;
  checkpoint?: string;
}

/** A table's entry in the KV index: a pointer to its latest registration in the log. */
interface IndexEntry {
  version: number;
  fingerprint: string;
  sequence: number;
}

/**
 * The versions of every table's schema, per tenant and database, in the `schemas` namespace of one store.
 *
 * `register` gives a schema a version: the same structure as the table's latest (whatever its key order) returns that
 * version; a new one gets the next version, appended to the `schemas` Log, whose sequence orders registrations across
 * all tables. `atSequence` answers which version was current when an event stamped with a log sequence was produced.
 *
 * The log is the source of truth. The `schemas` KV index holds each table's latest version and is what `register`
 * reads inside its transaction, so that registrations from several processes get consecutive versions; it can be
 * deleted and is rebuilt from the log at the next open. Reads (`latest`, `version`, `history`, `atSequence`, `tables`)
 * are synchronous, from an in-memory cache the registry fills by replaying the log at open and keeps current by
 * following the log live (`refresh()` catches up on demand).
 *
 * @example
 * ```ts
 * const registry = await SchemaRegistry.open(store);
 * const { version, sequence } = await registry.register("acme", "shop", "orders", { id: "int", total: "decimal" });
 * registry.atSequence("acme", "shop", "orders", eventSeq)?.schema; // the schema an event was produced under
 * await registry.close(); // stops following; the store stays open
 * ```
 */
export class SchemaRegistry {
  /** Each table's versions in sequence order, by log key. */
  private readonly tablesByKey = new Map<string, SchemaVersion[]>();
  private applied = 0;
  private readonly stop = new AbortController();
  private following: Promise<void> | undefined;
  private catchingUp: Promise<void> | undefined;
  private closed = false;

  private constructor(
    /** The store the registry reads and writes (its own in-memory one for `forTesting()`). */
    readonly store: Store,
    private readonly ownsStore: boolean,
  ) {}

  /**
   * Opens the registry of `store`: replays the `schemas` log into the cache, brings the KV index up to the log where
   * it is missing or behind, and (unless `live: false`) starts following the log. `close()` leaves the store open.
   */
  static async open(store: Store, options?: SchemaRegistryOptions): Promise<SchemaRegistry> {
    return SchemaRegistry.start(store, false, options);
  }

  /** An empty registry over a fresh in-memory store of its own, which `close()` closes. */
  static async forTesting(options?: SchemaRegistryOptions): Promise<SchemaRegistry> {
    return SchemaRegistry.start(await openStore({ backend: "memory", sweepIntervalMs: 0 }), true, options);
  }

  private static async start(store: Store, ownsStore: boolean, options: SchemaRegistryOptions | undefined): Promise<SchemaRegistry> {
    const registry = new SchemaRegistry(store, ownsStore);
    try {
      const live = checkLive(options);
      await registry.catchUp(await registry.log(store).lastSeq());
      await registry.repairIndex();
      if (live) registry.following = registry.follow();
      return registry;
    } catch (error) {
      await registry.close();
      throw error;
    }
  }

  /** The highest log sequence the cache has taken in: every registration up to it is visible to the reads. */
  get position(): number {
    return this.applied;
  }

  /**
   * Registers `schema` (any JSON value) as the current schema of the table. When its fingerprint is the table's
   * latest, that version is returned and nothing is written; otherwise the table gets the next version, with the
   * log's next sequence. Concurrent registrations, across processes too, get consecutive versions. The returned
   * version is visible to this registry's reads when the call resolves.
   */
  async register(tenant: string, db: string, table: string, schema: unknown, options?: RegisterOptions): Promise<SchemaVersion> {
    this.checkOpen();
    const ref = checkTable(tenant, db, table);
    const key = keyOf(ref);
    const checkpoint = checkRegisterOptions(options, key);
    const canonical = canonicalSchema(schema, { namespace: SCHEMAS_NAMESPACE, key });
    const fingerprint = fingerprintOf(canonical);
    const stored = copyOfSchema(schema, canonical, key);
    const entry = await this.store.transaction((tx) => this.registerIn(tx, key, ref, fingerprint, stored, checkpoint));
    try {
      await this.learn(entry);
    } catch (error) {
      // Closed after the registration committed: it happened, so say so; the closed registry has no reads to update.
      if (this.closed) return versionOf(entry);
      throw error;
    }
    const found = this.versionsOf(key).find((v) => v.sequence === entry.seq);
    if (found === undefined) throw new StowageError("INTERNAL", `registration ${entry.seq} is missing from the cache after catching up`, { namespace: SCHEMAS_NAMESPACE, key });
    return found;
  }

  /** The table's current version, or `undefined` when it has none. No I/O. */
  latest(tenant: string, db: string, table: string): SchemaVersion | undefined {
    return this.read(tenant, db, table).at(-1);
  }

  /** The table's version `n` (≥ 1), or `undefined`. No I/O. */
  version(tenant: string, db: string, table: string, n: number): SchemaVersion | undefined {
    const versions = this.read(tenant, db, table);
    checkWhole("version", n, 1, keyOf({ tenant, db, table }));
    // Versions are 1, 2, 3… in order, so the n-th is at n - 1; the search is a guard, not the usual path.
    const guess = versions[n - 1];
    return guess?.version === n ? guess : versions.find((v) => v.version === n);
  }

  /** Every version of the table, oldest first (version and sequence order). No I/O. */
  history(tenant: string, db: string, table: string): SchemaVersion[] {
    return [...this.read(tenant, db, table)];
  }

  /**
   * The version that was current when an event with log sequence `seq` was produced: the one with the greatest
   * registration sequence not above `seq`; `undefined` before the table's first. No I/O: it answers from what the
   * cache has taken in (see `position`; `refresh()` first when `seq` may be beyond it).
   */
  atSequence(tenant: string, db: string, table: string, seq: number): SchemaVersion | undefined {
    const versions = this.read(tenant, db, table);
    checkWhole("seq", seq, 0, keyOf({ tenant, db, table }));
    let low = 0;
    let high = versions.length; // the answer is versions[low - 1]: the last with sequence ≤ seq
    while (low < high) {
      const middle = (low + high) >>> 1;
      if ((versions[middle] as SchemaVersion).sequence <= seq) low = middle + 1;
      else high = middle;
    }
    return low === 0 ? undefined : versions[low - 1];
  }

  /** Every table with at least one version, ordered by tenant, then db, then table (each in key order). No I/O. */
  tables(): TableRef[] {
    this.checkOpen();
    const refs = [...this.tablesByKey.values()].map((versions) => {
      const { tenant, db, table } = versions[0] as SchemaVersion;
      return { tenant, db, table };
    });
    return refs.sort((a, b) => compareKeys(a.tenant, b.tenant) || compareKeys(a.db, b.db) || compareKeys(a.table, b.table));
  }

  /** Takes in every registration committed so far (by any process); resolves to the new `position`. */
  async refresh(): Promise<number> {
    this.checkOpen();
    await this.catchUp(await this.log(this.store).lastSeq());
    return this.applied;
  }

  /** Stops following the log and, for `forTesting()` registries, closes their store. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stop.abort();
    await this.following;
    await this.catchingUp?.catch(() => undefined);
    if (this.ownsStore) await this.store.close();
  }

  /**
   * The transaction body of `register`: the log entry of the table's latest version, found or appended. It may run
   * more than once (PostgreSQL retries conflicts), so its effects stay in `tx`.
   */
  private async registerIn(tx: TransactionScope, key: string, ref: TableRef, fingerprint: string, schema: JsonValue, checkpoint: string | undefined): Promise<LogEntry<StoredRegistration>> {
    const index = tx.kv<unknown>(SCHEMAS_NAMESPACE, { codec: lenientJson });
    const log = this.log(tx);
    const pointer = indexEntryOf(await index.get(key));
    // The index names the latest registration; reading the log from it confirms that (and fetches the record). An
    // index that is missing, behind or wrong is passed over for the table's whole log, and put right below.
    let recent = pointer === undefined ? [] : await log.since(key, pointer.sequence - 1);
    const head = recent[0];
    const trusted = pointer !== undefined && head !== undefined && head.seq === pointer.sequence && head.value.version === pointer.version && head.value.fingerprint === pointer.fingerprint;
    if (!trusted) recent = await log.since(key, 0);
    const latest = recent.at(-1);
    if (latest !== undefined && latest.value.fingerprint === fingerprint) {
      if (!trusted || recent.length > 1) await index.put(key, pointerTo(latest));
      return latest;
    }
    const record: StoredRegistration = { ...ref, version: (latest?.value.version ?? 0) + 1, fingerprint, schema };
    if (checkpoint !== undefined) record.checkpoint = checkpoint;
    const sequence = await log.append(key, record);
    await index.put(key, { version: record.version, fingerprint, sequence } satisfies IndexEntry);
    // Read back for the timestamp the store stamped on the entry (its clock, not ours).
    const [entry] = await log.since(key, sequence - 1, { limit: 1 });
    if (entry === undefined) throw new StowageError("INTERNAL", `the registration appended at ${sequence} cannot be read back`, { namespace: SCHEMAS_NAMESPACE, key });
    return entry;
  }

  /** Makes a committed registration visible to the reads: at once when it is the next entry, else by catching up. */
  private async learn(entry: LogEntry<StoredRegistration>): Promise<void> {
    if (entry.seq === this.applied + 1) this.apply(entry);
    else await this.catchUp(entry.seq);
  }

  /**
   * Reads the log after `position` until the cache has taken in `target`. Concurrent calls share one read. The log has
   * no cross-key read other than its feed, so this is a feed from `position` that stops at `target`.
   */
  private async catchUp(target: number): Promise<void> {
    while (this.applied < target) {
      this.catchingUp ??= this.readUpTo(target).finally(() => {
        this.catchingUp = undefined;
      });
      await this.catchingUp;
    }
  }

  private async readUpTo(target: number): Promise<void> {
    for await (const entry of this.log(this.store).tail({ all: true }, { since: this.applied, signal: this.stop.signal })) {
      this.apply(entry);
      if (entry.seq >= target) break;
    }
    // The feed ended before the target: the registry or its store closed under it.
    if (this.applied < target) throw new StowageError("CLOSED", `the schema registry closed while reading the log up to ${target}`, { namespace: SCHEMAS_NAMESPACE });
  }

  /** The live feed: from the cache's position on, until `close()` or the store closes; a failed read starts it again. */
  private async follow(): Promise<void> {
    while (!this.stop.signal.aborted) {
      try {
        for await (const entry of this.log(this.store).tail({ all: true }, { since: this.applied, signal: this.stop.signal })) this.apply(entry);
        return;
      } catch (error) {
        // Only an outage passes: anything else (a foreign entry in the log, an engine without feeds) would fail the
        // same way every second. The feed stops; `refresh()` reads for itself and reports the error to its caller.
        if (!isStowageError(error, "BACKEND_UNAVAILABLE")) return;
        await pause(FEED_RETRY_MS, this.stop.signal);
      }
    }
  }

  /**
   * Takes one log entry into the cache. Every reader of the log (the live feed, a catch-up, `register`) starts at the
   * cache's position and reads without gaps, so an entry at or below the position has been taken in already, and one
   * above it is the next.
   */
  private apply(entry: LogEntry<StoredRegistration>): void {
    if (entry.seq <= this.applied) return;
    const version = versionOf(entry);
    const versions = this.tablesByKey.get(entry.key);
    if (versions === undefined) this.tablesByKey.set(entry.key, [version]);
    else versions.push(version);
    this.applied = entry.seq;
  }

  /**
   * Puts the KV index right where it is missing, behind or wrong for the log up to the cache's position, and drops
   * entries of tables the log does not have. Each fix re-reads the entry in its transaction and leaves it alone if a
   * registration after the position has moved it on meanwhile.
   */
  private async repairIndex(): Promise<void> {
    const index = this.store.kv<unknown>(SCHEMAS_NAMESPACE, { codec: lenientJson });
    const indexed = new Map<string, IndexEntry | undefined>();
    let cursor: string | undefined;
    for (;;) {
      const page = await index.list(cursor === undefined ? { limit: INDEX_PAGE } : { limit: INDEX_PAGE, cursor });
      for (const { key, value } of page.entries) indexed.set(key, indexEntryOf(value));
      if (page.cursor === undefined) break;
      cursor = page.cursor;
    }
    const position = this.applied;
    const fixes: Array<[string, IndexEntry | undefined]> = [];
    for (const [key, versions] of this.tablesByKey) {
      const want = pointerOf(versions.at(-1) as SchemaVersion);
      const have = indexed.get(key);
      if (have === undefined || (have.sequence <= position && !samePointer(have, want))) fixes.push([key, want]);
    }
    for (const [key, have] of indexed) {
      if (!this.tablesByKey.has(key) && (have === undefined || have.sequence <= position)) fixes.push([key, undefined]);
    }
    for (let i = 0; i < fixes.length; i += REPAIR_BATCH) {
      const batch = fixes.slice(i, i + REPAIR_BATCH);
      await this.store.transaction(async (tx) => {
        const kv = tx.kv<unknown>(SCHEMAS_NAMESPACE, { codec: lenientJson });
        for (const [key, want] of batch) await fixEntry(kv, key, want, position);
      });
    }
  }

  private read(tenant: string, db: string, table: string): readonly SchemaVersion[] {
    this.checkOpen();
    return this.versionsOf(keyOf(checkTable(tenant, db, table)));
  }

  private versionsOf(key: string): readonly SchemaVersion[] {
    return this.tablesByKey.get(key) ?? [];
  }

  private log(scope: Pick<TransactionScope, "log">): Log<StoredRegistration> {
    return scope.log<StoredRegistration>(SCHEMAS_NAMESPACE, { codec: json<StoredRegistration>() });
  }

  private checkOpen(): void {
    if (this.closed) throw new StowageError("CLOSED", "the schema registry is closed", { namespace: SCHEMAS_NAMESPACE });
  }
}

/** The frozen version a registration's log entry stands for (CORRUPT when it is not one). */
function versionOf(entry: LogEntry<StoredRegistration>): SchemaVersion {
  const record = checkRecord(entry);
  const version: SchemaVersion = { tenant: record.tenant, db: record.db, table: record.table, version: record.version, fingerprint: record.fingerprint, sequence: entry.seq, timestamp: entry.timestamp, schema: deepFreeze(record.schema) };
  if (record.checkpoint !== undefined) version.checkpoint = record.checkpoint;
  return Object.freeze(version);
}

/**
 * A copy of `schema` taken now (the caller may change its object while the transaction waits for its turn), in the
 * key order it was given. It is read a second time for it, so a getter that throws or answers differently now is
 * INVALID_ARGUMENT, never a plain error or a record that disagrees with its fingerprint.
 */
function copyOfSchema(schema: unknown, canonical: string, key: string): JsonValue {
  let copy: JsonValue;
  try {
    copy = JSON.parse(JSON.stringify(schema)) as JsonValue;
  } catch (cause) {
    throw new StowageError("INVALID_ARGUMENT", `the schema could not be copied: ${cause instanceof Error ? cause.message : String(cause)}`, { namespace: SCHEMAS_NAMESPACE, key, cause });
  }
  if (canonicalSchema(copy, { namespace: SCHEMAS_NAMESPACE, key }) !== canonical) {
    throw new StowageError("INVALID_ARGUMENT", "the schema changed while it was being read (a getter answering differently each time?)", { namespace: SCHEMAS_NAMESPACE, key });
  }
  return copy;
}

/** Writes `want` (or deletes, when undefined) unless the entry now points past `position`. */
async function fixEntry(kv: Kv<unknown>, key: string, want: IndexEntry | undefined, position: number): Promise<void> {
  const now = indexEntryOf(await kv.get(key));
  if (now !== undefined && now.sequence > position) return;
  if (want === undefined) await kv.delete(key);
  else if (now === undefined || !samePointer(now, want)) await kv.put(key, want);
}

/**
 * The log and index key of a table: its three parts joined by `/`, with `%` and `/` inside a part written `%25` and
 * `%2F`, so that any names map to distinct keys and ordinary ones read as themselves (`acme/shop/orders`).
 */
function keyOf(ref: TableRef): string {
  return [ref.tenant, ref.db, ref.table].map((part) => part.replaceAll("%", "%25").replaceAll("/", "%2F")).join("/");
}

function checkTable(tenant: unknown, db: unknown, table: unknown): TableRef {
  return { tenant: checkName("tenant", tenant), db: checkName("db", db), table: checkName("table", table) };
}

function checkName(argument: string, value: unknown): string {
  const problem =
    typeof value !== "string"
      ? `must be a string, got ${value === null ? "null" : typeof value}`
      : value.length === 0
        ? "must not be empty"
        : !value.isWellFormed()
          ? "contains a lone surrogate (not valid Unicode)"
          : value.includes("\u0000")
            ? "must not contain U+0000"
            : undefined;
  if (problem !== undefined) throw new StowageError("INVALID_ARGUMENT", `${argument} ${problem}`, { namespace: SCHEMAS_NAMESPACE });
  return value as string;
}

function checkWhole(argument: string, value: unknown, min: number, key: string): void {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min) {
    throw new StowageError("INVALID_ARGUMENT", `${argument} must be a whole number ≥ ${min}, got ${typeof value === "number" ? value : typeof value}`, { namespace: SCHEMAS_NAMESPACE, key });
  }
}

function checkRegisterOptions(options: unknown, key: string): string | undefined {
  if (options === undefined) return undefined;
  if (typeof options !== "object" || options === null || Array.isArray(options) || Object.keys(options).some((field) => field !== "checkpoint")) {
    throw new StowageError("INVALID_ARGUMENT", "register options must be an object with at most a checkpoint", { namespace: SCHEMAS_NAMESPACE, key });
  }
  const { checkpoint } = options as { checkpoint?: unknown };
  if (checkpoint !== undefined && typeof checkpoint !== "string") {
    throw new StowageError("INVALID_ARGUMENT", `checkpoint must be a string, got ${checkpoint === null ? "null" : typeof checkpoint}`, { namespace: SCHEMAS_NAMESPACE, key });
  }
  return checkpoint;
}

function checkLive(options: unknown): boolean {
  if (options === undefined) return true;
  const shapeOk = typeof options === "object" && options !== null && !Array.isArray(options) && Object.keys(options).every((field) => field === "live");
  const live = shapeOk ? (options as { live?: unknown }).live : null;
  if (live !== undefined && typeof live !== "boolean") {
    throw new StowageError("INVALID_ARGUMENT", "registry options must be an object with at most live: boolean", { namespace: SCHEMAS_NAMESPACE });
  }
  return live ?? true;
}

/** A log entry's record, checked: a record that is not a registration is CORRUPT (the namespace is the registry's). */
function checkRecord(entry: LogEntry<StoredRegistration>): StoredRegistration {
  const record = entry.value as Partial<StoredRegistration> | null;
  const valid =
    typeof record === "object" &&
    record !== null &&
    typeof record.tenant === "string" &&
    typeof record.db === "string" &&
    typeof record.table === "string" &&
    Number.isSafeInteger(record.version) &&
    typeof record.fingerprint === "string" &&
    "schema" in record &&
    (record.checkpoint === undefined || typeof record.checkpoint === "string") &&
    keyOf(record as TableRef) === entry.key;
  if (!valid) throw new StowageError("CORRUPT", `log entry ${entry.seq} is not a schema registration of this table`, { namespace: SCHEMAS_NAMESPACE, key: entry.key });
  return record as StoredRegistration;
}

/** An index value as an entry, or `undefined` when it is not one (it is then rebuilt from the log, never trusted). */
function indexEntryOf(value: unknown): IndexEntry | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const { version, fingerprint, sequence } = value as Partial<IndexEntry>;
  if (!Number.isSafeInteger(version) || typeof fingerprint !== "string" || !Number.isSafeInteger(sequence) || (sequence as number) < 1) return undefined;
  return { version: version as number, fingerprint, sequence: sequence as number };
}

function pointerTo(entry: LogEntry<StoredRegistration>): IndexEntry {
  return { version: entry.value.version, fingerprint: entry.value.fingerprint, sequence: entry.seq };
}

function pointerOf(version: SchemaVersion): IndexEntry {
  return { version: version.version, fingerprint: version.fingerprint, sequence: version.sequence };
}

function samePointer(a: IndexEntry, b: IndexEntry): boolean {
  return a.version === b.version && a.fingerprint === b.fingerprint && a.sequence === b.sequence;
}

/** JSON that decodes bytes it cannot parse to `undefined`: a damaged index entry is rebuilt from the log, not fatal. */
const lenientJson: Codec<unknown> = {
  encode: (value) => json.encode(value),
  decode: (bytes) => {
    try {
      return json.decode(bytes);
    } catch {
      return undefined;
    }
  },
};

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const member of Object.values(value)) deepFreeze(member);
  }
  return value;
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
  });
}
