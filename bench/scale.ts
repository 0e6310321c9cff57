/**
 * Scale: the cost of a KV put and get with 10^3, 10^5 and 10^6 keys already stored (memory, SQLite, LMDB, LevelDB), and
 * the memory engine's bytes per key at the largest size.
 */
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { openStore, type Store } from "../src/index.js";
import { measure, type RunLimits, type Summary } from "./harness.js";
import { makeTempDir, pad, preload, randomInts, removeTempDir, VALUE } from "./fixtures.js";

/** The engines the scale section runs on (the ordered-KV family's too: LMDB and LevelDB). */
export const SCALE_ENGINES = ["memory", "sqlite", "lmdb", "leveldb"] as const;
export type ScaleEngine = (typeof SCALE_ENGINES)[number];

export interface ScaleRow {
  engine: ScaleEngine;
  keys: number;
  op: string;
  concurrency: number;
  summary: Summary;
}

export interface ScalePreload {
  engine: ScaleEngine;
  keys: number;
  seconds: number;
}

export interface MemoryFootprint {
  keys: number;
  gc: boolean;
  /** Per key: V8 heap (heapUsed) and off-heap value buffers (arrayBuffers) of the memory engine. */
  storeHeap: number;
  storeBuffers: number;
  /** The same for a plain Map holding the same keys and a copy of each value. */
  mapHeap: number;
  mapBuffers: number;
}

export interface ScaleResults {
  rows: ScaleRow[];
  preloads: ScalePreload[];
  footprint?: MemoryFootprint;
  errors: string[];
}

const NS = "scale";
/** The baseline row of the memory engine's scale section. */
export const MAP_GET = "Map.get (random key), baseline";
export const MAP_SET = "Map.set (new key, copied value), baseline";
const CHUNK = 10_000;
const keyOf = (j: number): string => `key:${pad(j)}`;
const gc = (globalThis as { gc?: () => void }).gc;

function heap(): { heap: number; buffers: number } {
  if (gc !== undefined) {
    gc();
    gc();
  }
  const usage = process.memoryUsage();
  return { heap: usage.heapUsed, buffers: usage.arrayBuffers };
}

async function mapFootprint(keys: number): Promise<{ heap: number; buffers: number }> {
  const before = heap();
  const map = new Map<string, Uint8Array>();
  for (let j = 0; j < keys; j++) map.set(keyOf(j), VALUE.slice());
  const after = heap();
  if (map.size !== keys) throw new Error("map lost keys");
  return { heap: (after.heap - before.heap) / keys, buffers: (after.buffers - before.buffers) / keys };
}

async function openFor(engine: ScaleEngine): Promise<{ store: Store; close(): Promise<void> }> {
  if (engine === "memory") {
    const store = await openStore({ backend: "memory" });
    return { store, close: () => store.close() };
  }
  const dir = makeTempDir("scale");
  const store =
    engine === "sqlite"
      ? await openStore({ backend: "sqlite", path: join(dir, "scale.db"), durability: "full" })
      : await openStore({ backend: engine, path: join(dir, `scale.${engine}`) });
  return {
    store,
    close: async () => {
      await store.close();
      removeTempDir(dir);
    },
  };
}

export async function runScale(
  engines: readonly ScaleEngine[],
  sizes: readonly number[],
  limits: Omit<RunLimits, "concurrency">,
  progress: (line: string) => void,
): Promise<ScaleResults> {
  const out: ScaleResults = { rows: [], preloads: [], errors: [] };
  const largest = Math.max(...sizes);
  for (const engine of engines) {
    for (const keys of sizes) {
      let opened: { store: Store; close(): Promise<void> } | undefined;
      try {
        const footprintHere = engine === "memory" && keys === largest;
        const before = footprintHere ? heap() : undefined;
        opened = await openFor(engine);
        const { store } = opened;
        const t0 = performance.now();
        await preload(store, keys, CHUNK, (tx, j) => tx.kv(NS).put(keyOf(j), VALUE));
        const seconds = (performance.now() - t0) / 1000;
        out.preloads.push({ engine, keys, seconds });
        progress(`scale ${engine} ${keys} keys preloaded in ${seconds.toFixed(1)} s`);
        if (before !== undefined) {
          const after = heap();
          const map = await mapFootprint(keys);
          out.footprint = {
            keys,
            gc: gc !== undefined,
            storeHeap: (after.heap - before.heap) / keys,
            storeBuffers: (after.buffers - before.buffers) / keys,
            mapHeap: map.heap,
            mapBuffers: map.buffers,
          };
        }
        const kv = store.kv(NS);
        const random = randomInts(keys);
        const cases: Array<{ op: string; concurrency: number; run: (i: number) => Promise<unknown> }> = [
          // A new key that sorts right after a random stored key: an insert in the middle of the key order.
          { op: "kv.put (new key)", concurrency: 1, run: (i) => kv.put(`${keyOf(random() % keys)}+${i}`, VALUE) },
          { op: "kv.put (new key)", concurrency: 16, run: (i) => kv.put(`${keyOf(random() % keys)}-${i}`, VALUE) },
          { op: "kv.get (random key)", concurrency: 1, run: () => kv.get(keyOf(random() % keys)) },
        ];
        if (engine === "memory") {
          // The same keys in a bare Map: how much of the growth is the memory hierarchy rather than the engine.
          const map = new Map<string, Uint8Array>();
          for (let j = 0; j < keys; j++) map.set(keyOf(j), VALUE.slice());
          const mapGet = async (key: string) => map.get(key);
          const mapSet = async (key: string) => map.set(key, VALUE.slice());
          cases.push(
            { op: MAP_GET, concurrency: 1, run: () => mapGet(keyOf(random() % keys)) },
            { op: MAP_SET, concurrency: 1, run: (i) => mapSet(`${keyOf(random() % keys)}+${i}`) },
          );
        }
        for (const c of cases) {
          const summary = await measure({ op: c.run }, { ...limits, concurrency: c.concurrency });
          out.rows.push({ engine, keys, op: c.op, concurrency: c.concurrency, summary });
          progress(`scale ${engine} ${keys} ${c.op} c=${c.concurrency}: ${Math.round(summary.opsPerSec)} ops/s`);
        }
      } catch (error) {
        out.errors.push(`scale ${engine} ${keys}: ${(error as Error).message}`);
        progress(`scale ${engine} ${keys} FAILED: ${(error as Error).message}`);
      } finally {
        await opened?.close().catch(() => undefined);
      }
    }
  }
  return out;
}
