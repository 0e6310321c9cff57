import type { TableClient } from "@azure/data-tables";
import { StowageError } from "../../api/errors.js";
import { loadDriver } from "../load-driver.js";
import { Mutex } from "../mutex.js";
import { sameEntries, sameValue } from "../recorded-reads.js";
import type { OrderedCheck, OrderedCommit, OrderedEntry, OrderedLimits, OrderedRangeOptions, OrderedSnapshot, OrderedStore, OrderedWrite } from "../ordered/ordered-store.js";
import { CHUNK_BYTES, headRow, lowerRow, parseRow, upperRow, VERSION_ROW } from "./azure-table-keys.js";
import { BATCH_OPERATIONS, batchOf, type Entity, lastWritePerKey, PARTITION, RangeRows, rowCount, rowsOfChecked, valueOf } from "./azure-table-rows.js";
import { mapAzureError, statusOf } from "./azure-table-errors.js";

/** The table a store uses unless told otherwise. */
export const DEFAULT_AZURE_TABLE = "stowage";
/** How long one call (with its retries) may take before it fails BACKEND_UNAVAILABLE, unless told otherwise. */
export const DEFAULT_AZURE_REQUEST_TIMEOUT_MS = 5_000;
/** How often a watched store reads the commit version entity, for other processes' commits. */
export const AZURE_WATCH_INTERVAL_MS = 100;

export interface AzureTableStoreOptions {
  /** An Azure Storage connection string (account and key, or a SAS); never shown in errors or `info`. */
  connectionString: string;
  /** The table (3–63 letters and digits, starting with a letter), created when missing; default {@link DEFAULT_AZURE_TABLE}. */
  table?: string;
  /** Bound of one call with its retries, in ms (default {@link DEFAULT_AZURE_REQUEST_TIMEOUT_MS}). */
  requestTimeoutMs?: number;
}

/** Bytes of keys and values one commit takes: base64 in the batch's body stays well under its 4 MiB. */
const MAX_COMMIT_BYTES = 2_359_296;
/** Rounds of one commit that found the version entity changed under it, before it answers false (the family retries). */
const COMMIT_ROUNDS = 20;
/** Most rows one query answers (Azure Table's own page size). */
const MAX_PAGE_ROWS = 1_000;
/** Checks read at once while a commit validates them. */
const PARALLEL_READS = 16;

/**
 * One commit is one batch: 99 operations beside the version entity's, less the continuation rows values over
 * {@link CHUNK_BYTES} may take within {@link MAX_COMMIT_BYTES}. Keys of any length fit (long ones in buckets, see
 * `azure-table-keys.ts`); 2 KiB is beyond the family's longest.
 */
export const AZURE_TABLE_LIMITS: OrderedLimits = Object.freeze({
  maxKeyBytes: 2048,
  maxValueBytes: MAX_COMMIT_BYTES,
  maxWritesPerCommit: BATCH_OPERATIONS - 1 - Math.floor(MAX_COMMIT_BYTES / CHUNK_BYTES),
  maxBytesPerCommit: MAX_COMMIT_BYTES,
});

/**
 * Opens a store on one table of Azure Table storage (or azurite), creating the table and its version entity when
 * missing. Fails BACKEND_UNAVAILABLE, naming the endpoint and table, when the service does not answer in time.
 *
 * @example
 * ```ts
 * const store = await openAzureTableStore({ connectionString: process.env.AZURE_TABLES!, table: "orders" });
 * ```
 */
export async function openAzureTableStore(options: AzureTableStoreOptions): Promise<AzureTableStore> {
  if (typeof options.connectionString !== "string" || options.connectionString.length === 0) {
    throw new StowageError("INVALID_ARGUMENT", "the azure-table engine needs connectionString (an Azure Storage connection string)");
  }
  const table = options.table ?? DEFAULT_AZURE_TABLE;
  if (!/^[A-Za-z][A-Za-z0-9]{2,62}$/.test(table)) {
    throw new StowageError("INVALID_ARGUMENT", `table must be 3 to 63 letters and digits starting with a letter, got ${JSON.stringify(table)}`);
  }
  const { TableClient } = await loadDriver<typeof import("@azure/data-tables")>("@azure/data-tables", "azure-table");
  let client: TableClient;
  let batches: TableClient;
  try {
    const insecure = /TableEndpoint=http:|DefaultEndpointsProtocol=http;|UseDevelopmentStorage=true/i.test(options.connectionString);
    // Few, short retries: a service that does not answer fails within the request timeout instead of after minutes.
    client = TableClient.fromConnectionString(options.connectionString, table, { allowInsecureConnection: insecure, retryOptions: { maxRetries: 2, retryDelayInMs: 100, maxRetryDelayInMs: 500 } });
    // None for commits: the SDK resends a request whose connection failed, and a batch that applied before its reply
    // was lost would meet its own version update (412), so the work would run again and apply twice.
    batches = TableClient.fromConnectionString(options.connectionString, table, { allowInsecureConnection: insecure, retryOptions: { maxRetries: 0 } });
  } catch (error) {
    throw new StowageError("INVALID_ARGUMENT", `connectionString is not an Azure Storage connection string: ${(error as Error).message}`);
  }
  // The endpoint and table only: a SAS in the URL's query stays out of errors and info.
  const url = new URL(client.url);
  url.search = "";
  const store = new AzureTableStore(client, batches, `${url.toString().replace(/\/$/, "")}/${table}`, options.requestTimeoutMs ?? DEFAULT_AZURE_REQUEST_TIMEOUT_MS);
  await store.prepare();
  return store;
}

/**
 * An {@link OrderedStore} on one partition of one table. Table storage has no snapshot reads and no read checks inside
 * a batch, so every commit changes one version entity, conditionally on its ETag:
 *
 * - commit: read the version's ETag E; read what the checks read (and the rows of the keys deleted) as they are now;
 *   then one entity group transaction with the writes and an update of the version entity If-Match E. It applies only
 *   if no commit landed since E, so the checks held at the moment it applied; if one landed, it starts again.
 * - snapshot: reads see the latest data. A snapshot reads the version's ETag before its first read; it is consistent
 *   while the ETag stays the same (`consistent()`): else the family validates what it read, or reads again. A commit
 *   whose checks come from one snapshot first tries its batch If-Match that snapshot's ETag, without reading again.
 *
 * Commits of this store take turns (a lock), so they apply in call order.
 */
export class AzureTableStore implements OrderedStore {
  readonly name = "azure-table";
  readonly limits = AZURE_TABLE_LIMITS;
  readonly singleWriter = false;
  private readonly writer = new Mutex();
  private closed = false;
  /**
   * The version entity's ETag as this store last saw it (read, or set by its own commit): it held at a moment before
   * any snapshot taken since, so such a snapshot starts from it without a request (see `AzureTableSnapshot`). A stale
   * one only costs a commit that fails its If-Match and reads again, or a snapshot found torn.
   */
  known: string | undefined;
  /** When {@link known} was last learnt (host ms): a watch tick within an interval of it takes it instead of asking. */
  private knownAt = 0;

  constructor(
    private readonly client: TableClient,
    /** The same table without the SDK's retries, for commits (see `openAzureTableStore`). */
    private readonly batches: TableClient,
    readonly location: string,
    private readonly timeoutMs: number,
  ) {}

  /** Creates the table and the version entity when missing. */
  async prepare(): Promise<void> {
    await this.call(() => this.client.createTable({ abortSignal: this.signal() }));
    try {
      const created = await this.client.createEntity({ partitionKey: PARTITION, rowKey: VERSION_ROW, at: Date.now() }, { abortSignal: this.signal() });
      if (created.etag !== undefined) this.learn(created.etag);
    } catch (error) {
      if (statusOf(error) !== 409) throw mapAzureError(error, this.location);
      await this.version();
    }
  }

  /** A promise, though nothing is read yet: the family validates only snapshots it got as promises (see `consistent`). */
  async snapshot(): Promise<OrderedSnapshot> {
    this.refuseClosed();
    return new AzureTableSnapshot(this);
  }

  async commit(commit: OrderedCommit): Promise<boolean> {
    this.refuseClosed();
    // Nothing to check or write (a read that checked nothing, as `counts` reads): nothing to ask the service.
    if (commit.checks.length === 0 && commit.writes.length === 0) return true;
    return this.writer.run(async () => {
      const writes = lastWritePerKey(commit.writes);
      const known = rowsOfChecked(commit.checks);
      // The checks were all read from one snapshot of this store: when no commit landed since its first read, they
      // hold, and one batch conditional on that version applies the writes without reading them again.
      const point = commit.snapshot instanceof AzureTableSnapshot && commit.snapshot.store === this ? await commit.snapshot.point() : undefined;
      // Deletes the family marks as of present keys are sent without reading them, until a batch finds a row missing.
      let hints = true;
      if (point !== undefined && writes.length > 0) {
        const outcome = await this.applied(writes, await this.existingRows(writes, known, hints), point);
        if (outcome === "applied") return true;
        hints = outcome !== "missing";
      }
      for (let round = 1; round <= COMMIT_ROUNDS; round++) {
        const version = await this.version();
        const held = await this.checksHold(commit.checks);
        if (!held || writes.length === 0) {
          // Read at one point, version E, only if no commit landed since: then the answer stands.
          if ((await this.version()) === version) return held;
          continue;
        }
        const outcome = await this.applied(writes, await this.existingRows(writes, known, hints), version);
        if (outcome === "applied") return true;
        if (outcome === "missing") hints = false;
      }
      return false;
    });
  }

  /**
   * One batch of `writes` and the version entity's update If-Match `version`: applied, or not because another commit
   * came first (`conflict`: the version changed) or a row it deletes is missing (`missing`: changed by another commit,
   * or a `present` hint was wrong).
   */
  private async applied(writes: readonly OrderedWrite[], existing: Map<string, number>, version: string): Promise<"applied" | "conflict" | "missing"> {
    const actions = batchOf(writes, existing);
    actions.push(["update", { partitionKey: PARTITION, rowKey: VERSION_ROW, at: Date.now() }, "Replace", { etag: version }]);
    try {
      const answer = await this.batches.submitTransaction(actions, { abortSignal: this.signal(4) });
      // The version entity's update is the batch's last operation, and sub-responses come in the operations' order.
      const etag = answer.subResponses.length === actions.length ? answer.subResponses[actions.length - 1]?.etag : undefined;
      if (etag !== undefined) this.learn(etag);
      return "applied";
    } catch (error) {
      // 412: the version changed (another commit landed); 404/409: a row read as present or absent changed with it.
      const status = statusOf(error) ?? 0;
      if (status === 404) return "missing";
      if (status === 409 || status === 412) return "conflict";
      throw mapAzureError(error, this.location);
    }
  }

  private learn(etag: string): void {
    this.known = etag;
    this.knownAt = Date.now();
  }

  /**
   * Looks at the version entity every {@link AZURE_WATCH_INTERVAL_MS} ms while watched; a new ETag is a commit. A
   * store that learnt the ETag within the interval (its commits and snapshots read it) takes that one: under load the
   * watch then costs no request of its own.
   */
  watchCommits(notify: () => void): () => void {
    let last: string | undefined;
    let busy = false;
    const timer = setInterval(() => {
      if (this.closed || busy) return;
      busy = true;
      const recent = this.known !== undefined && Date.now() - this.knownAt < AZURE_WATCH_INTERVAL_MS ? Promise.resolve(this.known) : undefined;
      (recent ?? this.version())
        .then((now) => {
          if (last !== undefined && now !== last) notify();
          last = now;
        })
        .catch(() => undefined)
        .finally(() => (busy = false));
    }, AZURE_WATCH_INTERVAL_MS);
    timer.unref();
    return () => clearInterval(timer);
  }

  facts(): Record<string, number | string | boolean> {
    return { partition: PARTITION, requestTimeoutMs: this.timeoutMs };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.writer.run(() => undefined);
  }

  /** The version entity's ETag: it changes with every commit. */
  async version(): Promise<string> {
    this.refuseClosed();
    const entity = await this.call(() => this.client.getEntity(PARTITION, VERSION_ROW, { abortSignal: this.signal() }));
    this.learn(entity.etag);
    return entity.etag;
  }

  /** The value of `key`; `requests` counts the requests it took (a value over one row takes two). */
  async readKey(key: Uint8Array, requests?: { count: number }): Promise<Uint8Array | undefined> {
    const head = headRow(key);
    if (requests !== undefined) requests.count += 1;
    let entity: Entity;
    try {
      entity = await this.client.getEntity<Record<string, unknown>>(PARTITION, head, { abortSignal: this.signal() });
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw mapAzureError(error, this.location);
    }
    if (entity.k instanceof Uint8Array && Buffer.compare(entity.k, key) !== 0) return undefined;
    const rows = rowCount(entity);
    if (rows === 1) return valueOf([entity]);
    // Continuation rows `head-i` lie between `head-` and `head.` ("." follows "-").
    if (requests !== undefined) requests.count += 1;
    const more = await this.list(`RowKey ge '${head}-' and RowKey lt '${head}.'`);
    return valueOf([entity, ...more.filter((row) => parseRow(row.rowKey as string).chunk < rows)]);
  }

  async readRange(start: Uint8Array, end: Uint8Array, options: OrderedRangeOptions = {}): Promise<OrderedEntry[]> {
    if (Buffer.compare(start, end) >= 0 || options.limit === 0) return [];
    const rows = new RangeRows(start, end);
    const wanted = options.reverse ? undefined : options.limit;
    const filter = `PartitionKey eq '${PARTITION}' and RowKey ge '${lowerRow(start)}' and RowKey lt '${upperRow(end)}'`;
    // Forward with a limit: pages of as many rows as make the entries wanted (each a row, and the row after them that
    // ends the last), not the service's 1,000; a claim wants a few entries of an index that may hold thousands.
    const pages = this.client
      .listEntities<Record<string, unknown>>({ queryOptions: { filter }, abortSignal: this.signal(6) })
      .byPage(wanted === undefined ? undefined : { maxPageSize: Math.min(MAX_PAGE_ROWS, wanted + 1) });
    try {
      read: for await (const page of pages) {
        for (const entity of page) {
          // Stop at the first row past enough whole entries.
          if (rows.add(entity) && wanted !== undefined && rows.entries.length >= wanted) break read;
        }
      }
    } catch (error) {
      throw mapAzureError(error, this.location);
    }
    const entries = rows.finish();
    if (options.reverse) entries.reverse();
    return options.limit === undefined ? entries : entries.slice(0, options.limit);
  }

  /** Whether every check holds in the data as it is now (read in parallel, a few at a time). */
  private async checksHold(checks: readonly OrderedCheck[]): Promise<boolean> {
    for (let i = 0; i < checks.length; i += PARALLEL_READS) {
      const results = await Promise.all(
        checks.slice(i, i + PARALLEL_READS).map(async (check) =>
          check.kind === "get" ? sameValue(await this.readKey(check.key), check.value) : sameEntries(await this.readRange(check.start, check.end, check.options), check.entries),
        ),
      );
      if (results.includes(false)) return false;
    }
    return true;
  }

  /**
   * How many rows keys the commit writes have now (0: absent), since a batch may delete only what exists: every key a
   * check read is known from it (the batch's condition makes it current); with `hints`, a delete marked `present`
   * has one row (a small value); other keys deleted without a check are read now.
   */
  private async existingRows(writes: readonly OrderedWrite[], known: Map<string, number>, hints: boolean): Promise<Map<string, number>> {
    const rows = new Map(known);
    if (hints) for (const write of writes) if (write.value === undefined && write.present === true && !rows.has(headRow(write.key))) rows.set(headRow(write.key), 1);
    const deletes = writes.filter((write) => write.value === undefined && !rows.has(headRow(write.key)));
    for (let i = 0; i < deletes.length; i += PARALLEL_READS) {
      await Promise.all(
        deletes.slice(i, i + PARALLEL_READS).map(async ({ key }) => {
          const head = headRow(key);
          try {
            rows.set(head, rowCount(await this.client.getEntity(PARTITION, head, { abortSignal: this.signal() })));
          } catch (error) {
            if (statusOf(error) !== 404) throw mapAzureError(error, this.location);
            rows.set(head, 0);
          }
        }),
      );
    }
    return rows;
  }

  private async list(filter: string): Promise<Entity[]> {
    const rows: Entity[] = [];
    try {
      for await (const entity of this.client.listEntities<Record<string, unknown>>({ queryOptions: { filter: `PartitionKey eq '${PARTITION}' and ${filter}` }, abortSignal: this.signal(6) })) rows.push(entity);
    } catch (error) {
      throw mapAzureError(error, this.location);
    }
    return rows;
  }

  private async call<T>(body: () => Promise<T>): Promise<T> {
    try {
      return await body();
    } catch (error) {
      throw mapAzureError(error, this.location);
    }
  }

  private signal(times = 1): AbortSignal {
    return AbortSignal.timeout(this.timeoutMs * times);
  }

  private refuseClosed(): void {
    if (this.closed) throw new StowageError("CLOSED", `the azure-table store at ${this.location} is closed`);
  }
}

/**
 * Reads of the latest data. The version entity's ETag as it was before the first read (the store's last known one
 * at that moment, else read first): the snapshot is consistent while it stays the same (see {@link AzureTableStore}). A snapshot whose
 * only read was one request is consistent without asking: that read saw one point in time.
 */
class AzureTableSnapshot implements OrderedSnapshot {
  private first: Promise<string> | undefined;
  /** Requests its reads made, point reads apart from the others: one point read of one request needs no version. */
  private readonly requests = { count: 0 };
  private ranges = 0;
  /**
   * Values this snapshot got, by key: a key read again answers the first read (one point, as a snapshot should),
   * without a request. A transaction reads its namespace's state records once per write.
   */
  private readonly got = new Map<string, Promise<Uint8Array | undefined>>();

  constructor(readonly store: AzureTableStore) {}

  async get(key: Uint8Array): Promise<Uint8Array | undefined> {
    const id = Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString("latin1");
    let read = this.got.get(id);
    if (read === undefined) {
      read = this.afterFirst(() => this.store.readKey(key, this.requests));
      this.got.set(id, read);
      // A failed read is not remembered: the next one asks again.
      read.catch(() => this.got.delete(id));
    }
    const value = await read;
    // Each caller gets its own copy.
    return value === undefined ? undefined : new Uint8Array(value);
  }

  range(start: Uint8Array, end: Uint8Array, options?: OrderedRangeOptions): Promise<OrderedEntry[]> {
    this.ranges += 1;
    return this.afterFirst(() => this.store.readRange(start, end, options));
  }

  /** Whether no commit landed since this snapshot's first read (one read of the version entity). */
  async consistent(): Promise<boolean> {
    if (this.first === undefined || (this.ranges === 0 && this.requests.count <= 1)) return true;
    return (await this.first) === (await this.store.version());
  }

  /** The version's ETag before the first read, or undefined when nothing was read. */
  point(): Promise<string> | undefined {
    return this.first;
  }

  release(): void {}

  private async afterFirst<T>(read: () => Promise<T>): Promise<T> {
    // The store's last known version held before this read: no request needed (see `AzureTableStore.known`).
    await (this.first ??= this.store.known === undefined ? this.store.version() : Promise.resolve(this.store.known));
    return read();
  }
}
