import { flagOption, numberOption, stringOption } from "./args.js";
import { type Command, takeArgs } from "./command.js";
import { NegativeAnswer } from "./errors.js";
import { displayText, displayValue, inputValue, jsonValue } from "./values.js";

/** `kv get <ns> <key>`: prints the value; an absent (or expired) key is exit 3 with NOT_FOUND. */
export const kvGet: Command = {
  words: ["kv", "get"],
  synopsis: "<ns> <key>",
  summary: "Print the value under <key>. Absent or expired: nothing on stdout, NOT_FOUND, exit 3.",
  options: ["json"],
  prepare({ args }) {
    const { ns, key } = takeArgs(this, args, ["ns", "key"]);
    return async (store, out) => {
      const value = await store.kv(ns).get(key);
      if (value === undefined) {
        if (out.json) out.result(null, []);
        throw new NegativeAnswer("NOT_FOUND", `no live value under key ${JSON.stringify(key)} in kv namespace "${ns}"`);
      }
      out.result({ key, ...jsonValue(value) }, displayValue(value));
    };
  },
};

/** `kv put <ns> <key> <value> [--ttl-ms N]`: stores the value; silent in text mode. */
export const kvPut: Command = {
  words: ["kv", "put"],
  synopsis: "<ns> <key> <value> [--ttl-ms N]",
  summary: "Store <value> under <key>, replacing any previous value; with --ttl-ms it expires after N ms. Prints nothing.",
  options: ["json", "file", "ttl-ms"],
  prepare({ args, options, cwd }) {
    const { ns, key, value } = takeArgs(this, args, ["ns", "key"], ["value"]);
    const bytes = inputValue(value, stringOption(options, "file"), cwd);
    const ttlMs = numberOption(options, "ttl-ms");
    return async (store, out) => {
      await store.kv(ns).put(key, bytes, ttlMs === undefined ? undefined : { ttlMs });
      out.result({ ok: true }, []);
    };
  },
};

/** `kv delete <ns> <key>`: prints `deleted` or `absent`; both exit 0, as deleting is idempotent. */
export const kvDelete: Command = {
  words: ["kv", "delete"],
  synopsis: "<ns> <key>",
  summary: 'Delete <key>. Prints "deleted", or "absent" if there was no live value (exit 0 either way).',
  options: ["json"],
  prepare({ args }) {
    const { ns, key } = takeArgs(this, args, ["ns", "key"]);
    return async (store, out) => {
      const deleted = await store.kv(ns).delete(key);
      out.result({ deleted }, deleted ? "deleted" : "absent");
    };
  },
};

/** `kv list <ns> [...]`: one page of entries; the next page's cursor goes to stderr so stdout stays data. */
export const kvList: Command = {
  words: ["kv", "list"],
  synopsis: "<ns> [--prefix P] [--start K] [--end K] [--limit N] [--cursor C] [--reverse] [--keys-only]",
  summary:
    'List live entries in key byte order, one "<key><TAB><value>" a line (just "<key>" with --keys-only). ' +
    "--start is inclusive, --end exclusive; --limit defaults to 1000. When more entries follow, the cursor for " +
    'the next page is printed on stderr ("more: --cursor C").',
  options: ["json", "prefix", "start", "end", "limit", "cursor", "reverse", "keys-only"],
  prepare({ args, options }) {
    const { ns } = takeArgs(this, args, ["ns"]);
    const list = {
      prefix: stringOption(options, "prefix"),
      start: stringOption(options, "start"),
      end: stringOption(options, "end"),
      limit: numberOption(options, "limit"),
      cursor: stringOption(options, "cursor"),
      reverse: flagOption(options, "reverse"),
      keysOnly: flagOption(options, "keys-only"),
    };
    return async (store, out) => {
      const page = await store.kv(ns).list(list);
      const entries = page.entries.map((entry) =>
        list.keysOnly || entry.value === undefined ? { key: entry.key } : { key: entry.key, ...jsonValue(entry.value) },
      );
      const text = page.entries.map((entry) =>
        list.keysOnly || entry.value === undefined ? displayText(entry.key) : `${displayText(entry.key)}\t${displayValue(entry.value)}`,
      );
      out.result(page.cursor === undefined ? { entries } : { entries, cursor: page.cursor }, text);
      if (!out.json && page.cursor !== undefined) out.note(`more: --cursor ${page.cursor}`);
    };
  },
};

/** The KV commands, in usage order. */
export const KV_COMMANDS: readonly Command[] = [kvGet, kvPut, kvDelete, kvList];
