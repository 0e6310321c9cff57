import type { LogEntry } from "../api/types.js";
import { numberOption, stringOption, wholeNumber } from "./args.js";
import { type Command, takeArgs } from "./command.js";
import type { Output } from "./output.js";
import { isoTime } from "./output.js";
import { displayValue, inputValue, jsonValue } from "./values.js";

/** `log append <ns> <key> <value>`: prints the entry's sequence. */
export const logAppend: Command = {
  words: ["log", "append"],
  synopsis: "<ns> <key> <value>",
  summary: "Append <value> to <key>'s log. Prints the entry's sequence (namespace-wide, increasing).",
  options: ["json", "file"],
  prepare({ args, options, cwd }) {
    const { ns, key, value } = takeArgs(this, args, ["ns", "key"], ["value"]);
    const bytes = inputValue(value, stringOption(options, "file"), cwd);
    return async (store, out) => {
      const seq = await store.log(ns).append(key, bytes);
      out.result({ seq }, String(seq));
    };
  },
};

/** `log list <ns> <key> [--limit N]`. */
export const logList: Command = {
  words: ["log", "list"],
  synopsis: "<ns> <key> [--limit N]",
  summary: 'Print <key>\'s entries oldest first, one "<seq><TAB><timestamp><TAB><value>" a line (all, or the first N).',
  options: ["json", "limit"],
  prepare({ args, options }) {
    const { ns, key } = takeArgs(this, args, ["ns", "key"]);
    const limit = numberOption(options, "limit");
    return async (store, out) => {
      printEntries(out, await store.log(ns).list(key, limit === undefined ? undefined : { limit }));
    };
  },
};

/** `log since <ns> <key> <seq> [--limit N]`: entries after `seq`, for catching up from a remembered position. */
export const logSince: Command = {
  words: ["log", "since"],
  synopsis: "<ns> <key> <seq> [--limit N]",
  summary: "Like log list, but only entries with a sequence greater than <seq>.",
  options: ["json", "limit"],
  prepare({ args, options }) {
    const { ns, key, seq } = takeArgs(this, args, ["ns", "key", "seq"]);
    const after = wholeNumber(seq, "<seq>");
    const limit = numberOption(options, "limit");
    return async (store, out) => {
      printEntries(out, await store.log(ns).since(key, after, limit === undefined ? undefined : { limit }));
    };
  },
};

function printEntries(out: Output, entries: LogEntry[]): void {
  out.result(
    { entries: entries.map((e) => ({ seq: e.seq, key: e.key, timestamp: e.timestamp, ...jsonValue(e.value) })) },
    entries.map((e) => `${e.seq}\t${isoTime(e.timestamp)}\t${displayValue(e.value)}`),
  );
}

/** The log commands, in usage order. */
export const LOG_COMMANDS: readonly Command[] = [logAppend, logList, logSince];
