/**
 * etcd baselines on the same throwaway server as the stowage case (one member, fsync on): the etcd3 client as an
 * application would use it, on keys of its own (`raw/…`, outside the store's prefix). A put and a txn each are one
 * raft commit, fsynced to the write-ahead log before they answer, like a stowage commit.
 */
import type { Etcd3 } from "etcd3";
import type { BaselineCase } from "./baseline.js";
import { kvGetKeys, pad, VALUE, valueFor } from "./fixtures.js";

const KV_KEYS = 10_000;
/** Puts per preload transaction, within etcd's default 128 operations per transaction. */
const PRELOAD_TXN = 100;

export const RAW_ETCD = "raw etcd3";
/** A check-and-set as one txn: the key's mod revision is the one this client last wrote (version 0 when absent). */
export const RAW_ETCD_TXN = "raw etcd3 txn (compare mod revision, put)";

async function connect(endpoint: string): Promise<Etcd3> {
  const { Etcd3 } = await import("etcd3");
  return new Etcd3({ hosts: endpoint });
}

const close = (client: Etcd3) => async () => client.close();

export function rawEtcdBaselines(endpoint: string): BaselineCase[] {
  return [
    {
      subject: RAW_ETCD,
      op: "kv.put",
      describe: "client.put(key).value(value): one etcd put, keys cycling over 10,000",
      async build(c) {
        const client = await connect(endpoint);
        return { body: { op: (i) => client.put(`raw/put-c${c}/k${pad(i % KV_KEYS, 6)}`).value(valueFor(i)).exec() }, close: close(client) };
      },
    },
    {
      subject: RAW_ETCD,
      op: "kv.get",
      describe: `client.get(key).buffer() of a present key among ${kvGetKeys("etcd")} (a linearizable read, as stowage's)`,
      async build(c) {
        const client = await connect(endpoint);
        const keys = kvGetKeys("etcd");
        const key = (i: number) => `raw/get-c${c}/k${pad(i, 6)}`;
        for (let start = 0; start < keys; start += PRELOAD_TXN) {
          const success = Array.from({ length: Math.min(PRELOAD_TXN, keys - start) }, (_, j) => ({ request_put: { key: Buffer.from(key(start + j)), value: Buffer.from(VALUE) } }));
          await client.kv.txn({ compare: [], success, failure: [] });
        }
        if ((await client.get(key(7)).buffer())?.length !== VALUE.length) throw new Error("bench sanity check failed: raw etcd3 returns the value put");
        return { body: { op: (i) => client.get(key((i * 7919) % keys)).buffer() }, close: close(client) };
      },
    },
    {
      subject: RAW_ETCD_TXN,
      op: "kv.put",
      describe: "client.kv.txn: compare the key's mod revision with the one this client last wrote, then put (stowage's commit is such a txn)",
      async build(c) {
        const client = await connect(endpoint);
        const mods = new Map<number, string>();
        return {
          body: {
            op: async (i) => {
              const k = i % KV_KEYS;
              const key = Buffer.from(`raw/txn-c${c}/k${pad(k, 6)}`);
              const mod = mods.get(k);
              const compare = mod === undefined ? { key, target: "Version" as const, result: "Equal" as const, version: 0 } : { key, target: "Mod" as const, result: "Equal" as const, mod_revision: mod };
              const answer = await client.kv.txn({ compare: [compare], success: [{ request_put: { key, value: valueFor(i) } }], failure: [] });
              if (!answer.succeeded) throw new Error("raw etcd3 txn lost its compare (no other writer)");
              mods.set(k, answer.header.revision);
            },
          },
          close: close(client),
        };
      },
    },
  ];
}
