import { after, before } from "node:test";
import { runConformance } from "../src/conformance/index.js";
import { PostgresEngine } from "../src/engines/postgres/postgres-engine.js";
import { openStore } from "../src/index.js";
import { startPostgres, type PostgresServer } from "./helpers/postgres-server.js";

// A real server, started for this file and stopped when it ends; if it cannot start, the tests fail rather than skip.
let server: PostgresServer | undefined;
before(async () => {
  server = await startPostgres();
});
after(() => server?.destroy());

let schemas = 0;
runConformance("postgres", (options) => {
  if (server === undefined) throw new Error("the PostgreSQL test server did not start");
  // A schema per store: every case starts empty, as the suite requires, on one server.
  return openStore({ backend: "postgres", dsn: server.dsn, schema: `conformance_${++schemas}`, ...options });
}, { supports: PostgresEngine.supports }); // its own manifest decides what runs: everything
