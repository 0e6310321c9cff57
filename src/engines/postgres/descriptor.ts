import { StowageError } from "../../api/errors.js";
import { LIMITS } from "../../api/limits.js";
import type { EngineDescriptor } from "../descriptor.js";
import { durationField, textField, wholeNumberField } from "../engine-fields.js";
import { CLIENT_TIMEOUT_MARGIN_MS, POSTGRES_DEFAULTS, PostgresEngine, type PostgresEngineOptions } from "./postgres-engine.js";

/** What a PostgreSQL DSN must look like. */
const PG_DSN_PATTERN = /^postgres(ql)?:\/\//;
/** A PostgreSQL schema name stowage accepts (unquoted-identifier rules, lower case). */
const PG_SCHEMA_PATTERN = /^[a-z_][a-z0-9_]{0,62}$/;

/** The PostgreSQL engine; its driver, pg, is loaded when it opens. */
export const POSTGRES_ENGINE: EngineDescriptor<PostgresEngineOptions> = {
  name: "postgres",
  summary: "PostgreSQL: state shared by many processes and machines",
  supports: PostgresEngine.supports,
  fields: [
    // Secret: it may carry a password (or an account key), so a configuration error never quotes it.
    {
      ...textField({
        option: "dsn",
        doc: "postgres://user:password@host:port/database",
        placeholder: "<url>",
        required: "a DSN",
        accepts: "a postgres:// connection string",
        check: (dsn) => {
          if (typeof dsn !== "string" || !PG_DSN_PATTERN.test(dsn)) {
            throw new StowageError("INVALID_ARGUMENT", "dsn must be a postgres:// (or postgresql://) connection string");
          }
        },
      }),
      secret: true,
    },
    textField({
      option: "schema",
      doc: "The PostgreSQL schema of the store's tables; stores in other schemas share a database safely",
      placeholder: "<name>",
      default: POSTGRES_DEFAULTS.schema,
      accepts: "a PostgreSQL schema name of a-z 0-9 _ (1 to 63 characters, not starting with a digit)",
      check: (schema) => {
        if (typeof schema !== "string" || !PG_SCHEMA_PATTERN.test(schema)) {
          throw new StowageError("INVALID_ARGUMENT", `schema must be 1 to 63 characters of a-z 0-9 _, not starting with a digit, got ${JSON.stringify(schema)}`);
        }
      },
    }),
    wholeNumberField({ option: "poolSize", doc: "Most connections", min: 1, accepts: "a whole number ≥ 1", default: POSTGRES_DEFAULTS.poolSize }),
    wholeNumberField({
      option: "readPoolSize",
      doc: "Most connections of the read pool, where plain reads run, opened as reads need them (default poolSize)",
      min: 1,
      accepts: "a whole number ≥ 1",
    }),
    wholeNumberField({
      option: "workPoolSize",
      doc: "Most connections of the work pool, opened by the first work-queue call outside a transaction (default poolSize)",
      min: 1,
      accepts: "a whole number ≥ 1",
    }),
    durationField({
      option: "connectTimeoutMs",
      doc: "How long to wait for a connection before BACKEND_UNAVAILABLE, in ms",
      min: 1,
      max: LIMITS.maxTimerMs,
      default: POSTGRES_DEFAULTS.connectTimeoutMs,
    }),
    durationField({
      option: "statementTimeoutMs",
      doc: "The longest a statement may run, in ms",
      // Room for the client-side timeout, which is 1 s longer and must stay a valid timer.
      min: 1,
      max: LIMITS.maxTimerMs - CLIENT_TIMEOUT_MARGIN_MS,
      default: POSTGRES_DEFAULTS.statementTimeoutMs,
    }),
  ],
  open: (options) => PostgresEngine.open(options),
};
