/** The memory engine's baseline: a plain Map, awaited through an async function as a store call would be. */
import type { BaselineCase } from "./baseline.js";
import { pad, VALUE, valueFor, getKeyOf } from "./fixtures.js";

const KV_KEYS = 10_000;

export const MAP_AWAITED = "Map (awaited)";
/** The same get handing out a copy of the value in an ArrayBuffer of its own, as stowage does: the get's floor. */
export const MAP_AWAITED_COPY = "Map (awaited), value copied";

function mapStore(): { put(k: string, v: Uint8Array): Promise<void>; get(k: string): Promise<Uint8Array | undefined>; getCopy(k: string): Promise<Uint8Array | undefined> } {
  const map = new Map<string, Uint8Array>();
  return {
    async put(k, v) {
      map.set(k, v);
    },
    async get(k) {
      return map.get(k);
    },
    async getCopy(k) {
      const v = map.get(k);
      return v === undefined ? undefined : new Uint8Array(v);
    },
  };
}

/** The kv.get case's keys preloaded into a map, each get made by `get`. */
async function getCase(get: (map: ReturnType<typeof mapStore>, key: string) => Promise<unknown>) {
  const map = mapStore();
  for (let i = 0; i < KV_KEYS; i++) await map.put(`k${pad(i, 6)}`, VALUE);
  const keyOf = getKeyOf(KV_KEYS);
  return { body: { op: (i: number) => get(map, keyOf(i)) }, close: async () => undefined };
}

export const MEMORY_BASELINES: readonly BaselineCase[] = [
  {
    subject: MAP_AWAITED,
    op: "kv.put",
    describe: "await of an async function doing map.set(k, v) (no copy, no validation)",
    async build() {
      const map = mapStore();
      return { body: { op: (i) => map.put(`k${pad(i % KV_KEYS, 6)}`, valueFor(i)) }, close: async () => undefined };
    },
  },
  {
    subject: MAP_AWAITED,
    op: "kv.get",
    describe: "await of an async function doing map.get(k)",
    build: async () => getCase((map, key) => map.get(key)),
  },
  {
    subject: MAP_AWAITED_COPY,
    op: "kv.get",
    describe: "await of an async function doing new Uint8Array(map.get(k)): a value of the caller's own, the floor of any get that hands one out",
    build: async () => getCase((map, key) => map.getCopy(key)),
  },
];
