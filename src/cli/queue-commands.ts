import type { OverflowPolicy } from "../api/types.js";
import { numberOption, stringOption, wholeNumber } from "./args.js";
import { type Command, takeArgs } from "./command.js";
import { UsageError } from "./errors.js";
import { isoTime } from "./output.js";
import { displayValue, inputValue, jsonValue } from "./values.js";

const OVERFLOWS: readonly OverflowPolicy[] = ["reject", "drop-oldest"];

/**
 * `queue push <ns> <key> <value> [--max-len N [--overflow reject|drop-oldest]]`: prints the item's id. A queue's
 * bound is an option of the handle, not stored, so it applies to this push only.
 */
export const queuePush: Command = {
  words: ["queue", "push"],
  synopsis: "<ns> <key> <value> [--max-len N [--overflow reject|drop-oldest]]",
  summary:
    "Add <value> at the tail of queue <key>. Prints its id. --max-len bounds the queue for this push: a full queue " +
    'fails with LIMIT_EXCEEDED (--overflow reject, the default) or drops its oldest items ("drop-oldest").',
  options: ["json", "file", "max-len", "overflow"],
  prepare({ args, options, cwd }) {
    const { ns, key, value } = takeArgs(this, args, ["ns", "key"], ["value"]);
    const bytes = inputValue(value, stringOption(options, "file"), cwd);
    const maxLen = numberOption(options, "max-len");
    const overflow = stringOption(options, "overflow");
    if (overflow !== undefined && !(OVERFLOWS as readonly string[]).includes(overflow)) {
      throw new UsageError(`--overflow must be ${OVERFLOWS.join(" or ")}, got ${JSON.stringify(overflow)}`);
    }
    // Without a bound the policy never applies; accepting it would suggest a limit that is not there.
    if (overflow !== undefined && maxLen === undefined) throw new UsageError("--overflow needs --max-len");
    return async (store, out) => {
      const queue = store.queue(ns, maxLen === undefined ? undefined : { maxLen, overflow: overflow as OverflowPolicy | undefined });
      const id = await queue.push(key, bytes);
      out.result({ id }, String(id));
    };
  },
};

/** `queue peek <ns> <key> [--limit N]`: the head items, not removed. */
export const queuePeek: Command = {
  words: ["queue", "peek"],
  synopsis: "<ns> <key> [--limit N]",
  summary: 'Print up to N items (default 1) from the head, oldest first, one "<id><TAB><pushedAt><TAB><value>" a line. Removes nothing.',
  options: ["json", "limit"],
  prepare({ args, options }) {
    const { ns, key } = takeArgs(this, args, ["ns", "key"]);
    const limit = numberOption(options, "limit");
    return async (store, out) => {
      const items = await store.queue(ns).peek(key, limit);
      out.result(
        { items: items.map((item) => ({ id: item.id, pushedAt: item.pushedAt, ...jsonValue(item.value) })) },
        items.map((item) => `${item.id}\t${isoTime(item.pushedAt)}\t${displayValue(item.value)}`),
      );
    };
  },
};

/** `queue ack <ns> <key> <id>`: prints `acked` or `absent`; both exit 0, as acking is idempotent. */
export const queueAck: Command = {
  words: ["queue", "ack"],
  synopsis: "<ns> <key> <id>",
  summary: 'Remove item <id> wherever it is in the queue. Prints "acked", or "absent" if it was not queued (exit 0 either way).',
  options: ["json"],
  prepare({ args }) {
    const { ns, key, id } = takeArgs(this, args, ["ns", "key", "id"]);
    const itemId = wholeNumber(id, "<id>");
    return async (store, out) => {
      const acked = await store.queue(ns).ack(key, itemId);
      out.result({ acked }, acked ? "acked" : "absent");
    };
  },
};

/** `queue len <ns> <key>`. */
export const queueLen: Command = {
  words: ["queue", "len"],
  synopsis: "<ns> <key>",
  summary: "Print the number of items in queue <key>.",
  options: ["json"],
  prepare({ args }) {
    const { ns, key } = takeArgs(this, args, ["ns", "key"]);
    return async (store, out) => {
      const len = await store.queue(ns).len(key);
      out.result({ len }, String(len));
    };
  },
};

/** The queue commands, in usage order. */
export const QUEUE_COMMANDS: readonly Command[] = [queuePush, queuePeek, queueAck, queueLen];
