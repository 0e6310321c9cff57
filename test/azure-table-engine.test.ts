/**
 * The Azure Table engine on a real emulator (azurite, test/helpers/azurite-server.ts, started for this file and
 * stopped after it; an emulator that cannot start fails the tests): the OrderedStore contract, the whole conformance
 * suite, two stores on one table, BACKEND_UNAVAILABLE while the emulator is down, and resolved writes kept across a
 * restart. Each store gets a table of its own, so every case starts empty on the one emulator.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isStowageError } from "../src/api/errors.js";
import { runConformance } from "../src/conformance/index.js";
import { AZURE_TABLE_ENGINE } from "../src/engines/azure-table/descriptor.js";
import { openAzureTableStore } from "../src/engines/azure-table/azure-table-store.js";
import { runOrderedStoreCases } from "../src/engines/ordered/ordered-store-cases.js";
import type { OrderedStore } from "../src/engines/ordered/ordered-store.js";
import { json, openStore } from "../src/index.js";
import { AZURITE_KEY, useAzurite } from "./helpers/azurite-server.js";

const azurite = useAzurite();
let tables = 0;
const freshTable = (what: string) => `${what}${++tables}`;

const text = (value: string): Uint8Array => new Uint8Array(Buffer.from(value, "latin1"));
const word = (value: Uint8Array | undefined): string | undefined => (value === undefined ? undefined : Buffer.from(value).toString("latin1"));

async function getWord(store: OrderedStore, key: string): Promise<string | undefined> {
  const snapshot = await store.snapshot();
  try {
    return word(await snapshot.get(text(key)));
  } finally {
    snapshot.release();
  }
}

runOrderedStoreCases("azure-table", { describe, it }, async () => {
  const table = freshTable("contract");
  const open = () => openAzureTableStore({ connectionString: azurite().connectionString, table });
  return { store: await open(), reopen: open, dispose: async () => undefined };
});

runConformance("azure-table", (options) => openStore({ backend: "azure-table", connectionString: azurite().connectionString, table: freshTable("conformance"), ...options }), {
  supports: AZURE_TABLE_ENGINE.supports,
});
