import { StowageError } from "../../api/errors.js";
import { LIMITS } from "../../api/limits.js";
import type { EngineDescriptor } from "../descriptor.js";
import { durationField, textField } from "../engine-fields.js";
import { OrderedEngine, orderedSupports } from "../ordered/ordered-engine.js";
import { AZURE_TABLE_LIMITS, DEFAULT_AZURE_REQUEST_TIMEOUT_MS, DEFAULT_AZURE_TABLE, openAzureTableStore, type AzureTableStoreOptions } from "./azure-table-store.js";

/** The Azure Table engine: the ordered-KV family on one table of Azure Table storage; its driver, @azure/data-tables, is loaded when it opens. */
export const AZURE_TABLE_ENGINE: EngineDescriptor<AzureTableStoreOptions> = {
  name: "azure-table",
  summary: "Azure Table storage (or azurite): one table shared by many processes and machines",
  supports: orderedSupports({ singleWriter: false, limits: AZURE_TABLE_LIMITS }),
  fields: [
    // Secret: it may carry a password (or an account key), so a configuration error never quotes it.
    {
      ...textField({
        option: "connectionString",
        doc: "The Azure Storage connection string (account and key, or a SAS); never shown in errors or info",
        placeholder: "<connection-string>",
        required: "a connection string",
        accepts: "an Azure Storage connection string",
        check: (value) => {
          if (typeof value !== "string" || value.length === 0) {
            throw new StowageError("INVALID_ARGUMENT", "connectionString must be an Azure Storage connection string (AccountName=…;AccountKey=…;TableEndpoint=…)");
          }
        },
      }),
      secret: true,
    },
    textField({
      option: "table",
      doc: "The table of the store, created when missing; stores on other tables share the account safely",
      placeholder: "<name>",
      default: DEFAULT_AZURE_TABLE,
      accepts: "3 to 63 letters and digits, starting with a letter",
      check: (table) => {
        if (typeof table !== "string" || !/^[A-Za-z][A-Za-z0-9]{2,62}$/.test(table)) {
          throw new StowageError("INVALID_ARGUMENT", `table must be 3 to 63 letters and digits starting with a letter, got ${JSON.stringify(table)}`);
        }
      },
    }),
    durationField({
      option: "requestTimeoutMs",
      doc: "How long one call to Azure Table storage (with its retries) may take before BACKEND_UNAVAILABLE, in ms",
      min: 1,
      max: LIMITS.maxTimerMs,
      default: DEFAULT_AZURE_REQUEST_TIMEOUT_MS,
    }),
  ],
  open: async (options) => OrderedEngine.open(await openAzureTableStore(options)),
};
