/**
 * Azure Table baselines on the same azurite server as the stowage case, through @azure/data-tables: an upsert
 * (replace) and a point get of one entity holding the 100-byte value as a binary property, in the stowage store's
 * table, in partitions of their own. On azurite a point read scans its partition (2.4–3.2 ms at 1,000 rows, 8–12 ms
 * at 30,000 here), and the store keeps all of its rows in one partition (a batch takes one), which holds every
 * case's rows by the time kv.get runs: the raw rows' partitions stay small, so these rows overstate the gap.
 */
import type { TableClient } from "@azure/data-tables";
import type { BaselineCase } from "./baseline.js";
import { kvGetKeys, pad, VALUE, valueFor, getKeyOf } from "./fixtures.js";

const KV_KEYS = 10_000;
/** Entities per preload batch (an entity group transaction takes 100). */
const PRELOAD_BATCH = 100;

export const RAW_AZURE_TABLE = "raw @azure/data-tables";

async function openTable(connectionString: string, table: string): Promise<TableClient> {
  const { TableClient } = await import("@azure/data-tables");
  const client = TableClient.fromConnectionString(connectionString, table, { allowInsecureConnection: true });
  await client.createTable();
  return client;
}

/** `table`: the stowage store's table. */
export function rawAzureTableBaselines(connectionString: string, table: string): BaselineCase[] {
  return [
    {
      subject: RAW_AZURE_TABLE,
      op: "kv.put",
      describe: "upsertEntity(entity, \"Replace\"), keys cycling over 10,000",
      async build(c) {
        const client = await openTable(connectionString, table);
        const partition = `raw-put-c${c}`;
        return {
          body: { op: (i) => client.upsertEntity({ partitionKey: partition, rowKey: `k${pad(i % KV_KEYS, 6)}`, v: valueFor(i) }, "Replace") },
          close: async () => undefined,
        };
      },
    },
    {
      subject: RAW_AZURE_TABLE,
      op: "kv.get",
      describe: `getEntity(partition, row) of a present key among ${kvGetKeys("azure-table")}`,
      async build(c) {
        const client = await openTable(connectionString, table);
        const partition = `raw-get-c${c}`;
        const keys = kvGetKeys("azure-table");
        const value = Buffer.from(VALUE);
        for (let start = 0; start < keys; start += PRELOAD_BATCH) {
          const count = Math.min(PRELOAD_BATCH, keys - start);
          await client.submitTransaction(Array.from({ length: count }, (_, j) => ["upsert", { partitionKey: partition, rowKey: `k${pad(start + j, 6)}`, v: value }, "Replace"] as const));
        }
        const sample = await client.getEntity<{ v: Uint8Array }>(partition, `k${pad(7, 6)}`);
        if (sample.v?.length !== VALUE.length) throw new Error("bench sanity check failed: raw @azure/data-tables returns the value put");
        const keyOf = getKeyOf(keys);
        return { body: { op: (i) => client.getEntity(partition, keyOf(i)) }, close: async () => undefined };
      },
    },
  ];
}
