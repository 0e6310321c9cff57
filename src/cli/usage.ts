import { CONFIG_FILE_ENV } from "../config/config-file.js";
import { STORAGE_FIELDS } from "../config/fields.js";
import { POSTGRES_DEFAULTS } from "../engines/postgres/postgres-engine.js";
import { DEFAULT_BUSY_TIMEOUT_MS } from "../engines/sqlite/sqlite-engine.js";
import { DEFAULT_SQLITE_PATH } from "../open-store.js";
import { type Command, commandName } from "./command.js";
import { COMMANDS } from "./command-table.js";
import { BASE64_MARKER } from "./values.js";

/** Usage lines wrap at this width. */
const WIDTH = 100;
const INDENT = "      ";

/** The full usage text: every command, option, configuration source and exit status. */
export function usageText(): string {
  const commands = COMMANDS.flatMap((command) => [
    `  stowage ${[commandName(command), command.synopsis].filter(Boolean).join(" ")}`,
    ...wrap(command.summary, WIDTH - INDENT.length).map((line) => INDENT + line),
  ]);
  const env = (field: keyof typeof STORAGE_FIELDS) => STORAGE_FIELDS[field].env;
  return `Usage: stowage <command> [arguments] [options]

Reads and writes a stowage store (KV, log, slot, queue) from the shell.
<ns> is a namespace: 1 to 64 characters of A-Z a-z 0-9 . _ -, starting with a letter or digit.

Commands:
${commands.join("\n")}
  stowage help, stowage --help
      Print this text.

Values:
  <value> is stored as the UTF-8 bytes of the argument; --file <path> instead of <value> stores the
  file's bytes (kv put, log append, slot upsert, slot cas, queue push). Values and keys print as text
  when they are valid UTF-8 without control characters and start with neither '"' nor "${BASE64_MARKER}";
  other text prints as a JSON string ("a\\tb"), and bytes that are not UTF-8 as "${BASE64_MARKER}" and
  their base64, so every entry is one line. Put "--" before an argument that starts with "-":
  stowage kv put ns key -- -1

Options:
  --json                            Print the result as one line of JSON; values carry
                                    "encoding": "utf8" or "base64" (every command but demo)
  --config <file>                   YAML or JSON config file (else $${CONFIG_FILE_ENV}; no default file)
  --storage-backend <name>          sqlite (default), postgres, or memory (gone when the command exits)
  --storage-path <file>             SQLite database file (default ${DEFAULT_SQLITE_PATH}; created if absent)
  --storage-durability <mode>       full (default: fsync every commit) or process
  --storage-busy-timeout-ms <n>     How long a write waits for another process's lock (default ${DEFAULT_BUSY_TIMEOUT_MS})
  --storage-dsn <url>               PostgreSQL: postgres://user:password@host:port/database (required)
  --storage-schema <name>           PostgreSQL: schema of the store's tables (default ${POSTGRES_DEFAULTS.schema})
  --storage-pool-size <n>           PostgreSQL: most connections (default ${POSTGRES_DEFAULTS.poolSize})
  --storage-connect-timeout-ms <n>  PostgreSQL: how long to wait for a connection (default ${POSTGRES_DEFAULTS.connectTimeoutMs})
  --storage-statement-timeout-ms <n>  PostgreSQL: the longest a statement may run (default ${POSTGRES_DEFAULTS.statementTimeoutMs})
  -h, --help                        Print this text

Configuration, highest precedence first, field by field:
  1. flags (--storage-*, above)
  2. environment: ${env("backend")}, ${env("path")},
     ${env("durability")}, ${env("busyTimeoutMs")}, ${env("dsn")}, … (empty counts as unset)
  3. config file from --config or $${CONFIG_FILE_ENV}, YAML (or JSON for *.json); unknown fields are errors:
       storage:
         backend: sqlite            # or memory
         path: ./data/stowage.db    # relative to the config file's folder
         durability: full           # or process
         busyTimeoutMs: ${DEFAULT_BUSY_TIMEOUT_MS}
  4. defaults: backend sqlite, path ${DEFAULT_SQLITE_PATH} (relative to the working folder)

Exit status:
  0  success
  1  stowage error, including bad configuration: "error CODE: message" on stderr, where CODE is
     INVALID_ARGUMENT, LIMIT_EXCEEDED, CONFLICT, CLOSED, BACKEND_UNAVAILABLE, CORRUPT, INCOMPATIBLE or INTERNAL
  2  usage error: "error USAGE: message" and this text on stderr
  3  a negative answer, not a failure: kv get / slot get of an absent key ("error NOT_FOUND: ...") or a
     lost slot cas ("error CONFLICT: ..."); with --json, stdout still has the result (null, or swapped: false)

Examples:
  stowage kv put checkpoints pipe1 '{"offset":42}' --ttl-ms 60000
  stowage kv list checkpoints --prefix pipe --json
  stowage log since events orders 17
  stowage slot cas leases leader 3 worker-2
  stowage queue push jobs reindex --file ./job.json --max-len 1000 --overflow drop-oldest
  stowage --storage-path /var/lib/app/state.db info
`;
}

/**
 * The short usage printed after a usage error: the command's own synopsis when the command is known, else the list
 * of synopses. The full text is one `--help` away; repeating a hundred lines after every typo would bury the error.
 */
export function shortUsage(command?: Command): string {
  const synopsis = (c: Command) => `stowage ${[commandName(c), c.synopsis].filter(Boolean).join(" ")}`;
  const body =
    command === undefined
      ? `Usage: stowage <command> [arguments] [options]

Commands:
${COMMANDS.map((c) => `  ${synopsis(c)}`).join("\n")}
`
      : `Usage: ${synopsis(command)}
${wrap(command.summary, WIDTH - 2).map((line) => `  ${line}`).join("\n")}
`;
  return `${body}\nRun "stowage --help" for every command, option, configuration source and exit status.\n`;
}

/** Splits text into lines of at most `width` characters at spaces. */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line !== "" && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line === "" ? word : `${line} ${word}`;
    }
  }
  if (line !== "") lines.push(line);
  return lines;
}
