import { CONFIG_FILE_ENV } from "../config/config-file.js";
import type { EngineDescriptor, EngineField } from "../engines/descriptor.js";
import { engineDescriptors } from "../engines/registry.js";
import { DEFAULT_BACKEND, DEFAULT_SQLITE_PATH } from "../open-store.js";
import { type CommandText, commandName } from "./command.js";
import { COMMANDS } from "./command-table.js";
import { BASE64_MARKER } from "./values.js";

/** Usage lines wrap at this width. */
const WIDTH = 100;
const INDENT = "      ";
/** Where an option's description starts in the options list. */
const OPTION_COLUMN = 36;

/** The full usage text: every command, option, engine, configuration source and exit status. */
export function usageText(): string {
  const commands = COMMANDS.flatMap((command) => [
    `  stowage ${[commandName(command), command.synopsis].filter(Boolean).join(" ")}`,
    ...wrap(command.summary, WIDTH - INDENT.length).map((line) => INDENT + line),
  ]);
  const engines = engineDescriptors();
  const names = engines.map((engine) => (engine.name === DEFAULT_BACKEND ? `${engine.name} (default)` : engine.name));
  return `Usage: stowage <command> [arguments] [options]

Reads and writes a stowage store (KV, log, slot, queue, work queue) from the shell.
<ns> is a namespace: 1 to 64 characters of A-Z a-z 0-9 . _ -, starting with a letter or digit.

Commands:
${commands.join("\n")}
  stowage help, stowage --help
      Print this text.

Values:
  <value> is stored as the UTF-8 bytes of the argument; --file <path> instead of <value> stores the
  file's bytes (kv put, log append, slot upsert, slot cas, queue push, work push). Values and keys print as text
  when they are valid UTF-8 without control characters and start with neither '"' nor "${BASE64_MARKER}";
  other text prints as a JSON string ("a\\tb"), and bytes that are not UTF-8 as "${BASE64_MARKER}" and
  their base64, so every entry is one line. Put "--" before an argument that starts with "-":
  stowage kv put ns key -- -1

Options:
${option("--json", 'Print the result as one line of JSON; values carry "encoding": "utf8" or "base64" (every command but demo)')}
${option("--config <file>", `YAML, JSON or TOML config file (else $${CONFIG_FILE_ENV}; no default file)`)}
${option("--storage-backend <name>", `The engine: ${names.join(", ")}`)}
${option("-h, --help", "Print this text")}

Engines and their options:
${engines.map(engineUsage).join("\n")}

Configuration, highest precedence first, field by field:
  1. flags (--storage-*, above)
  2. environment: each flag as STOWAGE_STORAGE_* (--storage-busy-timeout-ms is
     STOWAGE_STORAGE_BUSY_TIMEOUT_MS); empty counts as unset
  3. config file from --config or $${CONFIG_FILE_ENV}: YAML, JSON for *.json, TOML for
     *.toml; unknown fields are errors; each option by its name (--storage-busy-timeout-ms is busyTimeoutMs):
       storage:
         backend: sqlite            # or ${engines.map((engine) => engine.name).filter((name) => name !== "sqlite").join(", or ")}
         path: ./data/stowage.db    # relative to the config file's folder
         durability: full           # or process
     or several providers in one store (then no --storage-* flags or STOWAGE_STORAGE_* variables):
       providers: { local: { backend: sqlite }, coord: { backend: etcd, endpoints: ... } }
       routes: { leases: coord, "members.*": coord }
       defaultProvider: local
     and scheduled backups while a store is open (also STOWAGE_BACKUP_TO, _INTERVAL_MS, _KEEP, _MAX_AGE_MS):
       backup: { to: "s3://backups/orders/", intervalMs: 3600000, keep: 48 }
     with, over the file, STOWAGE_PROVIDERS_COORD_ENDPOINTS=..., STOWAGE_ROUTES=leases=coord,members.*=coord and
     STOWAGE_DEFAULT_PROVIDER=local, and over those the flags --provider coord.endpoints=... (repeatable),
     --route leases=coord (repeatable; replaces the other layers' routes) and --default-provider local
  4. defaults: backend ${DEFAULT_BACKEND}, path ${DEFAULT_SQLITE_PATH} (relative to the working folder), and each
     option's default above

Exit status:
  0  success
  1  stowage error, including bad configuration: "error CODE: message" on stderr, where CODE is
     INVALID_ARGUMENT, LIMIT_EXCEEDED, CONFLICT, CLOSED, BACKEND_UNAVAILABLE, CORRUPT, INCOMPATIBLE,
     UNAUTHORIZED (credentials or TLS refused),
     NOT_SUPPORTED (such as an engine whose driver package is not installed) or INTERNAL
  2  usage error: "error USAGE: message" and this text on stderr
  3  a negative answer, not a failure: kv get / slot get of an absent key ("error NOT_FOUND: ..."), a
     lost slot cas ("error CONFLICT: ..."), or a validate, migrate or restore that found the two sides
     different ("error DIFFERENT: ..."); with --json, stdout still has the result

Examples:
  stowage kv put checkpoints pipe1 '{"offset":42}' --ttl-ms 60000
  stowage kv list checkpoints --prefix pipe --json
  stowage log since events orders 17
  stowage slot cas leases leader 3 worker-2
  stowage queue push jobs reindex --file ./job.json --max-len 1000 --overflow drop-oldest
  stowage work push jobs email '{"to":"ann"}' --delay-ms 60000 --priority=-1 --dedup welcome-ann
  stowage work dead jobs email --limit 20
  stowage work requeue jobs email --all
  stowage --storage-path /var/lib/app/state.db info
`;
}

/** An engine's summary and its options, one per line: the flag, what it is, and its default (or that it is required). */
function engineUsage(engine: EngineDescriptor<object>): string {
  const fields = engine.fields.map((field) => option(`  --${field.flag} ${field.placeholder}`, `${field.doc} ${defaultNote(field)}`));
  const name = engine.name === DEFAULT_BACKEND ? `${engine.name} (default)` : engine.name;
  return [`  ${name}: ${engine.summary}`, ...fields].join("\n");
}

function defaultNote(field: EngineField): string {
  if (field.required !== undefined) return "(required)";
  return field.default === undefined ? "" : `(default ${field.default})`;
}

/** One option of the list: its name, and its description from {@link OPTION_COLUMN} on, wrapped. */
function option(name: string, description: string): string {
  const lines = wrap(description.trim(), WIDTH - OPTION_COLUMN);
  // A name too long for the column puts its description on the next line.
  const head = `  ${name}`.length < OPTION_COLUMN ? `  ${name}`.padEnd(OPTION_COLUMN) + (lines.shift() ?? "") : `  ${name}`;
  return [head, ...lines.map((line) => " ".repeat(OPTION_COLUMN) + line)].join("\n");
}

/**
 * The short usage printed after a usage error: the command's own synopsis when the command is known, else the list
 * of synopses. The full text is one `--help` away; repeating a hundred lines after every typo would bury the error.
 */
export function shortUsage(command?: CommandText): string {
  const synopsis = (c: CommandText) => `stowage ${[commandName(c), c.synopsis].filter(Boolean).join(" ")}`;
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
