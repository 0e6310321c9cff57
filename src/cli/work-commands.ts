import { StowageError } from "../api/errors.js";
import { LIMITS } from "../api/limits.js";
import type { WorkCounts, WorkPushOptions, WorkQueue } from "../api/types.js";
import { flagOption, integerOption, numberOption, stringOption, wholeNumber } from "./args.js";
import { type Command, type CommandText, commandName, takeArgs } from "./command.js";
import { UsageError } from "./errors.js";
import { columns, isoTime, type Output } from "./output.js";
import { displayText, displayValue, inputValue, jsonValue } from "./values.js";

/**
 * Most store calls one command makes in a loop (key pages of `counts`, batches of `requeue` / `purge`): every loop of
 * the CLI ends by itself, and says so when it stopped before the end.
 */
const MAX_CALLS = 10_000;

const STATES = ["ready", "delayed", "leased", "dead"] as const;

/** `work counts <ns> [<key>]`: items by state, of one queue key or of every key of the namespace. */
export const workCounts: Command = {
  words: ["work", "counts"],
  synopsis: "<ns> [<key>]",
  summary:
    "Print the items of work queue <key> by state (ready, delayed, leased, dead; an expired lease counts as ready), " +
    "one row a key under a header; without <key>, of every key holding items, in key order (each key counted on its own).",
  options: ["json"],
  prepare({ args }) {
    const { ns, key } = takeArgs(this, args, ["ns"], ["key"]);
    return async (store, out) => {
      const queue = store.workQueue(ns);
      const keys = key === undefined ? await allKeys(queue) : [key];
      const rows: Array<{ key: string } & WorkCounts> = [];
      for (const each of keys) rows.push({ key: each, ...(await queue.counts(each)) });
      const cells = rows.map((row) => [displayText(row.key), ...STATES.map((state) => String(row[state]))]);
      const table = rows.length === 0 ? [] : columns([["key", ...STATES], ...cells]);
      out.result({ counts: rows }, table);
      if (!out.json && rows.length === 0) out.note(`no work queue holds items in namespace "${ns}"`);
    };
  },
};

/** Every key of the namespace's work queues, page by page. */
async function allKeys(queue: WorkQueue): Promise<string[]> {
  const ns = queue.namespace;
  const keys: string[] = [];
  for (let calls = 0; calls < MAX_CALLS; calls += 1) {
    const page = await queue.keys({ after: keys.at(-1), limit: LIMITS.maxPageSize });
    keys.push(...page);
    if (page.length < LIMITS.maxPageSize) return keys;
  }
  throw new StowageError("LIMIT_EXCEEDED", `namespace "${ns}" has more than ${MAX_CALLS * LIMITS.maxPageSize} work queue keys: name one`, { namespace: ns });
}

/** `work push <ns> <key> <value> [--delay-ms N] [--priority N] [--dedup K]`: prints the item's id. */
export const workPush: Command = {
  words: ["work", "push"],
  synopsis: "<ns> <key> <value> [--delay-ms N] [--priority N] [--dedup K]",
  summary:
    "Add <value> to work queue <key>, claimable after --delay-ms (default now), higher --priority first (default 0; " +
    "a negative one as --priority=-5). Prints its id. With --dedup, while a live item holds key K nothing is pushed: " +
    'that item\'s id prints, and "duplicate" on stderr (exit 0).',
  options: ["json", "file", "delay-ms", "priority", "dedup"],
  prepare({ args, options, cwd }) {
    const { ns, key, value } = takeArgs(this, args, ["ns", "key"], ["value"]);
    const bytes = inputValue(value, stringOption(options, "file"), cwd);
    const push: WorkPushOptions = {};
    const delayMs = numberOption(options, "delay-ms");
    const priority = integerOption(options, "priority");
    const dedupKey = stringOption(options, "dedup");
    if (delayMs !== undefined) push.delayMs = delayMs;
    if (priority !== undefined) push.priority = priority;
    if (dedupKey !== undefined) push.dedupKey = dedupKey;
    return async (store, out) => {
      const pushed = await store.workQueue(ns).push(key, bytes, push);
      out.result(pushed, String(pushed.id));
      if (!out.json && pushed.duplicate) out.note(`duplicate: item ${pushed.id} holds dedup key ${JSON.stringify(dedupKey)}; nothing was pushed`);
    };
  },
};

/** `work dead <ns> <key> [--limit N] [--after ID]`: dead letters, a page at a time. */
export const workDead: Command = {
  words: ["work", "dead"],
  synopsis: "<ns> <key> [--limit N] [--after ID]",
  summary:
    'Print up to N (default 1,000) dead letters of work queue <key> in id order, after item ID if given, one ' +
    '"<id><TAB><attempts><TAB><deadAt><TAB><lastError><TAB><value>" a line; the next page\'s option on stderr.',
  options: ["json", "limit", "after"],
  prepare({ args, options }) {
    const { ns, key } = takeArgs(this, args, ["ns", "key"]);
    const limit = numberOption(options, "limit") ?? LIMITS.defaultPageSize;
    const afterId = numberOption(options, "after") ?? 0;
    return async (store, out) => {
      // One item more than asked, when the library allows it, tells whether another page follows.
      const probe = limit >= 1 && limit < LIMITS.maxPageSize ? limit + 1 : limit;
      const found = await store.workQueue(ns).dead(key, { afterId, limit: probe });
      const items = found.slice(0, limit);
      const last = items.at(-1);
      const next = found.length > limit || (probe === limit && found.length === limit) ? last?.id : undefined;
      out.result(
        {
          items: items.map(({ value, ...item }) => ({ ...item, ...jsonValue(value) })),
          ...(next === undefined ? {} : { after: next }),
        },
        items.map((item) => [item.id, item.attempts, isoTime(item.deadAt), displayText(item.lastError), displayValue(item.value)].join("\t")),
      );
      if (!out.json && next !== undefined) out.note(`more: --after ${next}`);
    };
  },
};

/** What one requeue or purge call did, as the loop sees it. */
interface DeadBatch {
  changed: number;
  skipped: readonly number[];
  more: boolean;
}

/** What a whole command did: the sums of its calls. `notDead`: of the ids given, how many were not dead letters. */
interface DeadTotals {
  changed: number;
  skipped: number[];
  notDead?: number;
  more: boolean;
}

/** The `<id>…` of requeue and purge, or null for `--all`: exactly one of the two. */
function chosenIds(command: CommandText, args: readonly string[], all: boolean): { ns: string; key: string; ids: number[] | null } {
  const { ns, key } = takeArgs(command, args.slice(0, 2), ["ns", "key"]);
  const ids = args.slice(2).map((id) => wholeNumber(id, "<id>"));
  if (all && ids.length > 0) throw new UsageError(`${commandName(command)} takes <id>… or --all, not both`);
  if (!all && ids.length === 0) throw new UsageError(`${commandName(command)} needs the <id>… of dead letters, or --all for every one`);
  return { ns, key, ids: all ? null : ids };
}

/**
 * Runs a requeue or purge to the end: for `--all` (`ids` null), calls on every dead letter until none is `more`; for
 * ids, calls on them a library-sized chunk at a time, each until its dead ones are done, leaving skipped ids out of the
 * next call. It stops early, with `more` true, when a call changed nothing (the first dead letters an `--all`
 * requeue meets are all skipped) or after {@link MAX_CALLS} calls.
 */
async function drainDead(ids: readonly number[] | null, call: (ids: number[] | undefined) => Promise<DeadBatch>): Promise<DeadTotals> {
  let changed = 0;
  const skipped = new Set<number>();
  let calls = 0;
  const run = async (chunk: number[] | undefined): Promise<boolean> => {
    let pending = chunk;
    while (calls < MAX_CALLS) {
      calls += 1;
      const batch = await call(pending);
      const fresh = batch.skipped.filter((id) => !skipped.has(id));
      changed += batch.changed;
      for (const id of fresh) skipped.add(id);
      if (!batch.more) return false;
      if (batch.changed === 0 && fresh.length === 0) return true;
      if (pending !== undefined) pending = pending.filter((id) => !skipped.has(id));
    }
    return true;
  };
  if (ids === null) {
    const more = await run(undefined);
    return { changed, skipped: [...skipped], more };
  }
  const unique = [...new Set(ids)];
  let more = false;
  for (let at = 0; at < unique.length && !more; at += LIMITS.maxClaimLimit) more = await run(unique.slice(at, at + LIMITS.maxClaimLimit));
  return { changed, skipped: [...skipped], notDead: more ? undefined : unique.length - changed - skipped.size, more };
}

/** The lines requeue and purge print, and the note when they stopped early. */
function printTotals(out: Output, verb: "requeued" | "purged", totals: DeadTotals): void {
  const { changed, skipped, notDead, more } = totals;
  const json = { [verb]: changed, ...(verb === "requeued" ? { skipped } : {}), ...(notDead === undefined ? {} : { notDead }), more };
  out.result(json, [
    `${verb} ${changed}`,
    ...(skipped.length === 0 ? [] : [`skipped ${skipped.length} (a live item holds their dedup key): ${skipped.join(" ")}`]),
    ...(notDead ? [`not dead letters ${notDead} (absent, or live)`] : []),
  ]);
  if (!out.json && more) out.note(`more dead letters remain (a call changed none of them, or ${MAX_CALLS} calls were made): run it again, or name their ids`);
}

/** `work requeue <ns> <key> [<id>…|--all]`. */
export const workRequeue: Command = {
  words: ["work", "requeue"],
  synopsis: "<ns> <key> [<id>…|--all]",
  summary:
    "Make the dead letters <id>… (or every one, with --all) of work queue <key> ready now, with their attempts reset. " +
    "Prints how many; one whose dedup key a live item holds stays dead and is listed as skipped.",
  options: ["json", "all"],
  prepare({ args, options }) {
    const { ns, key, ids } = chosenIds(this, args, flagOption(options, "all"));
    return async (store, out) => {
      const queue = store.workQueue(ns);
      const totals = await drainDead(ids, async (chunk) => {
        const done = await queue.requeue(key, chunk);
        return { changed: done.requeued, skipped: done.skipped, more: done.more };
      });
      printTotals(out, "requeued", totals);
    };
  },
};

/** `work purge <ns> <key> [<id>…|--all]`. */
export const workPurge: Command = {
  words: ["work", "purge"],
  synopsis: "<ns> <key> [<id>…|--all]",
  summary: "Remove the dead letters <id>… (or every one, with --all) of work queue <key>; live items are never removed. Prints how many.",
  options: ["json", "all"],
  prepare({ args, options }) {
    const { ns, key, ids } = chosenIds(this, args, flagOption(options, "all"));
    return async (store, out) => {
      const queue = store.workQueue(ns);
      const totals = await drainDead(ids, async (chunk) => {
        const done = await queue.purgeDead(key, chunk);
        return { changed: done.purged, skipped: [], more: done.more };
      });
      printTotals(out, "purged", totals);
    };
  },
};

/** The work queue commands, in usage order. */
export const WORK_COMMANDS: readonly Command[] = [workCounts, workPush, workDead, workRequeue, workPurge];
