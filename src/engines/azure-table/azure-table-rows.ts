import type { TableEntityResult, TransactionAction } from "@azure/data-tables";
import { asBuffer } from "../ordered/key-layout.js";
import type { OrderedCheck, OrderedEntry, OrderedWrite } from "../ordered/ordered-store.js";
import { CHUNK_BYTES, continuationRow, headRow, keyOfRow, parseRow, PROPERTY_BYTES } from "./azure-table-keys.js";

/** The one partition every entity of a store lives in, so that every commit is one entity group transaction. */
export const PARTITION = "stowage";
/** An entity group transaction's operations (Azure: 100). */
export const BATCH_OPERATIONS = 100;

export type Entity = TableEntityResult<Record<string, unknown>>;

/**
 * A range's entries from its rows in RowKey order: a head row and its continuation rows make one entry; a bucket's
 * entries (keys over `SHORT_KEY_BYTES`) are sorted by their whole keys once the bucket ends; entries outside
 * [start, end) (a bucket holds keys on both sides of a bound) are left out.
 */
export class RangeRows {
  private readonly found: OrderedEntry[] = [];
  private group: Entity[] = [];
  private bucket: { name: string; entries: Array<[Uint8Array, Uint8Array]> } | undefined;

  constructor(
    private readonly start: Uint8Array,
    private readonly end: Uint8Array,
  ) {}

  /** The entries complete so far, in order. */
  get entries(): readonly OrderedEntry[] {
    return this.found;
  }

  /** Adds the next row; true when the rows before it made whole entries (the range may stop before this row). */
  add(entity: Entity): boolean {
    const row = parseRow(entity.rowKey as string);
    let boundary = false;
    if (this.group.length > 0 && parseRow(this.group[0]!.rowKey as string).head !== row.head) {
      this.finishGroup();
      if (this.bucket !== undefined && row.bucket !== this.bucket.name) this.flushBucket();
      boundary = this.bucket === undefined;
    }
    this.group.push(entity);
    return boundary;
  }

  /** Every entry, once the last row was added. */
  finish(): OrderedEntry[] {
    this.finishGroup();
    this.flushBucket();
    return this.found;
  }

  private emit(key: Uint8Array, value: Uint8Array): void {
    if (Buffer.compare(key, this.start) >= 0 && Buffer.compare(key, this.end) < 0) this.found.push([key, value]);
  }

  private flushBucket(): void {
    for (const [key, value] of this.bucket?.entries.sort((a, b) => Buffer.compare(a[0], b[0])) ?? []) this.emit(key, value);
    this.bucket = undefined;
  }

  private finishGroup(): void {
    const head = this.group[0];
    const parsed = head === undefined ? undefined : parseRow(head.rowKey as string);
    const rows = head === undefined ? 0 : rowCount(head);
    // Continuation rows without their head, or past its count, are left over from an older value: skipped.
    if (head !== undefined && parsed !== undefined && parsed.chunk === 0 && this.group.length >= rows) {
      const value = valueOf(this.group.slice(0, rows));
      if (parsed.bucket === undefined) {
        this.flushBucket();
        this.emit(keyOfRow(parsed.head), value);
      } else {
        if (this.bucket?.name !== parsed.bucket) this.flushBucket();
        (this.bucket ??= { name: parsed.bucket, entries: [] }).entries.push([head.k as Uint8Array, value]);
      }
    }
    this.group = [];
  }
}

/** Rows of the keys `checks` read (0: absent), as the checks say they are. */
export function rowsOfChecked(checks: readonly OrderedCheck[]): Map<string, number> {
  const rows = new Map<string, number>();
  for (const check of checks) {
    if (check.kind === "get") rows.set(headRow(check.key), check.value === undefined ? 0 : Math.max(1, Math.ceil(check.value.length / CHUNK_BYTES)));
  }
  return rows;
}

/** The writes, the last one of each key only (a batch takes one operation per entity), in their order. */
export function lastWritePerKey(writes: readonly OrderedWrite[]): OrderedWrite[] {
  const last = new Map<string, OrderedWrite>();
  for (const write of writes) {
    const id = Buffer.from(write.key.buffer, write.key.byteOffset, write.key.byteLength).toString("latin1");
    last.delete(id);
    const copy: OrderedWrite = { key: new Uint8Array(write.key), value: write.value === undefined ? undefined : new Uint8Array(write.value) };
    last.set(id, write.present === true ? { ...copy, present: true } : copy);
  }
  return [...last.values()];
}

/**
 * The batch of `writes`, given how many rows each key has now where that is known (`existing`: from the commit's
 * checks, which its condition keeps current, and from reading the keys it deletes). A put replaces its rows and
 * removes the continuation rows a longer old value had beyond them; a delete removes the rows that exist. Those
 * removals go in only while the batch has room; rows left over (or past an unknown old value) are skipped by reads
 * (the head row counts its value's rows) and overwritten by the key's next long value. Through stowage's API no
 * record needs a second row (values stay under {@link CHUNK_BYTES}), so only direct `OrderedStore` users meet them.
 */
export function batchOf(writes: readonly OrderedWrite[], existing: Map<string, number>): TransactionAction[] {
  const actions: TransactionAction[] = [];
  const extra: TransactionAction[] = [];
  for (const { key, value } of writes) {
    const head = headRow(key);
    const rows = existing.get(head) ?? 0;
    if (value === undefined) {
      if (rows > 0) actions.push(["delete", { partitionKey: PARTITION, rowKey: head }]);
      for (let i = 1; i < rows; i++) extra.push(["delete", { partitionKey: PARTITION, rowKey: continuationRow(head, i) }]);
      continue;
    }
    const chunks = Math.max(1, Math.ceil(value.length / CHUNK_BYTES));
    for (let i = chunks; i < rows; i++) extra.push(["delete", { partitionKey: PARTITION, rowKey: continuationRow(head, i) }]);
    for (let i = 0; i < chunks; i++) {
      const entity: Record<string, unknown> & { partitionKey: string; rowKey: string } = { partitionKey: PARTITION, rowKey: i === 0 ? head : continuationRow(head, i) };
      if (i === 0 && chunks > 1) entity.n = chunks;
      // Buffers, not other Uint8Array views: @azure/data-tables 13 encodes a plain Uint8Array's whole ArrayBuffer.
      if (i === 0 && head.includes("~")) entity.k = asBuffer(key);
      const chunk = value.subarray(i * CHUNK_BYTES, (i + 1) * CHUNK_BYTES);
      for (let p = 0; p * PROPERTY_BYTES < chunk.length; p++) entity[`v${p}`] = asBuffer(chunk.subarray(p * PROPERTY_BYTES, (p + 1) * PROPERTY_BYTES));
      actions.push(["upsert", entity, "Replace"]);
    }
  }
  return [...actions, ...extra.slice(0, Math.max(0, BATCH_OPERATIONS - 1 - actions.length))];
}

export function rowCount(entity: Record<string, unknown>): number {
  return typeof entity.n === "number" ? entity.n : 1;
}

/** A value from its rows in order: each row's v0, v1, … properties. */
export function valueOf(rows: readonly Record<string, unknown>[]): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const row of rows) for (let p = 0; row[`v${p}`] instanceof Uint8Array; p++) parts.push(row[`v${p}`] as Uint8Array);
  return parts.length === 1 ? (parts[0] as Uint8Array) : new Uint8Array(Buffer.concat(parts));
}
