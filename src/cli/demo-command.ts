import { json, utf8 } from "../api/codec.js";
import { isStowageError } from "../api/errors.js";
import type { Store } from "../api/types.js";
import { type Command, takeArgs } from "./command.js";
import { formatInfo } from "./info-command.js";
import type { Output } from "./output.js";

/** The namespace the demo writes to, in every primitive. */
export const DEMO_NAMESPACE = "demo";

interface Checkpoint {
  offset: number;
  at: string;
}

/**
 * `demo`: a short tour that writes to every primitive on the configured store, then prints `info`. It leaves the store
 * as a service would after a run (checkpoint advanced, events appended, job acked), so running it again works and
 * shows the state growing.
 */
export const demo: Command = {
  words: ["demo"],
  synopsis: "",
  summary: `Tour every primitive in namespace "${DEMO_NAMESPACE}" (kv, log, slot, queue, a transaction), printing each step, then print info. Re-runnable.`,
  options: [],
  prepare({ args }) {
    takeArgs(this, args, []);
    return (store, out) => runDemo(store, out);
  },
};

async function runDemo(store: Store, out: Output): Promise<void> {
  const ns = DEMO_NAMESPACE;
  const now = () => new Date().toISOString();
  out.line(`stowage demo: namespace "${ns}" on the ${store.engine} store`);

  out.line();
  out.line("kv: a pipeline checkpoint, overwritten on every run");
  const checkpoints = store.kv(ns, { codec: json<Checkpoint>() });
  const previous = await checkpoints.get("checkpoint/orders");
  out.line(`  get  checkpoint/orders -> ${previous === undefined ? "absent (first run)" : JSON.stringify(previous)}`);
  const checkpoint: Checkpoint = { offset: (previous?.offset ?? 0) + 100, at: now() };
  await checkpoints.put("checkpoint/orders", checkpoint);
  out.line(`  put  checkpoint/orders = ${JSON.stringify(checkpoint)}`);
  out.line(`  get  checkpoint/orders -> ${JSON.stringify(await checkpoints.get("checkpoint/orders"))}`);

  out.line();
  out.line("log: append-only events; since(seq) reads what came after a remembered position");
  const events = store.log(ns, { codec: utf8 });
  const mark = await events.lastSeq();
  const first = await events.append("orders", `run started at offset ${checkpoint.offset}`);
  const second = await events.append("orders", "run finished");
  out.line(`  append orders -> seq ${first}, seq ${second}`);
  for (const entry of await events.since("orders", mark)) {
    out.line(`  since ${mark} -> seq ${entry.seq}: ${entry.value}`);
  }

  out.line();
  out.line("slot: a versioned value; cas writes only if nobody else wrote since we read");
  const leader = store.slot(ns, { codec: utf8 });
  const version = await leader.upsert("leader", `demo pid ${process.pid}`);
  out.line(`  upsert leader -> version ${version}`);
  const won = await leader.cas("leader", version, `demo pid ${process.pid}, renewed`);
  out.line(`  cas leader expecting ${version} -> ${won ? `won, now version ${version + 1}` : "lost"}`);
  const stale = await leader.cas("leader", version, "a stale writer");
  out.line(`  cas leader expecting ${version} again (stale) -> ${stale ? "won (unexpected)" : "lost, as it should"}`);

  out.line();
  out.line("queue: ordered work items, removed only when acknowledged");
  const jobs = store.queue(ns, { codec: json<{ job: string }>(), maxLen: 100, overflow: "drop-oldest" });
  const ids = [await jobs.push("jobs", { job: "reindex" }), await jobs.push("jobs", { job: "compact" })];
  out.line(`  push jobs -> id ${ids.join(", id ")}`);
  // The head may hold the job the previous run left; the newest job is left for the next run, so the queue stays at one.
  const head = await jobs.peek("jobs", 100);
  out.line(`  peek jobs -> ${head.map((item) => `#${item.id} ${JSON.stringify(item.value)}`).join(", ")}`);
  for (const item of head.slice(0, -1)) {
    out.line(`  ack  jobs #${item.id} -> ${(await jobs.ack("jobs", item.id)) ? "acked" : "absent"}`);
  }
  out.line(`  len  jobs -> ${await jobs.len("jobs")} (left for the next run)`);

  out.line();
  out.line("transaction: writes to several primitives commit together, or not at all");
  const committed: Checkpoint = { offset: checkpoint.offset + 1, at: now() };
  const seq = await store.transaction(async (tx) => {
    await tx.kv(ns, { codec: json<Checkpoint>() }).put("checkpoint/orders", committed);
    return tx.log(ns, { codec: utf8 }).append("orders", `checkpoint moved to ${committed.offset}`);
  });
  out.line(`  committed: checkpoint/orders offset ${committed.offset} and log seq ${seq}`);
  try {
    await store.transaction(async (tx) => {
      await tx.kv(ns, { codec: utf8 }).put("never-written", "rolled back");
      // A deliberate failure: everything the body wrote is discarded.
      throw new Error("demo rollback");
    });
  } catch (error) {
    if (isStowageError(error) || (error as Error).message !== "demo rollback") throw error;
  }
  const rolledBack = (await store.kv(ns).get("never-written")) === undefined;
  out.line(`  a transaction that throws -> rolled back; never-written is ${rolledBack ? "absent" : "present (unexpected)"}`);

  out.line();
  out.line("info:");
  for (const line of formatInfo(await store.info())) out.line(`  ${line}`);
}
