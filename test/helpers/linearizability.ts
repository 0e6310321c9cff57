/**
 * A linearizability checker in the Wing & Gong style, with Lowe's memoisation (as Porcupine does): it searches for an
 * order of the operations that respects real time (an operation that returned before another was called comes
 * first) and that a sequential model accepts, backtracking when stuck, and never revisits a (set of linearised
 * operations, model state) pair. Histories are split into independent partitions first (one per key), which keeps
 * the search small: linearizability is compositional.
 */

/** One completed operation as a client saw it: when it was called and when it returned (one clock for all clients). */
export interface Operation<I, O> {
  client: number;
  call: number;
  ret: number;
  input: I;
  output: O;
}

/** A sequential specification: from a state, whether an input may produce an output, and the state after. */
export interface Model<S, I, O> {
  init(): S;
  /** The state after `input` answered `output`, or undefined when the model cannot answer so from `state`. */
  step(state: S, input: I, output: O): S | undefined;
  /** A string that is equal for equal states (the memo key). */
  describe(state: S): string;
  /** Operations of different partitions never affect each other (e.g. one per key). */
  partition(input: I): string;
}

export type Verdict = { ok: true; partitions: number; operations: number } | { ok: false; partition: string; operations: number; explanation: string };

interface Entry {
  kind: "call" | "return";
  id: number;
  time: number;
  prev: Entry | undefined;
  next: Entry | undefined;
  match: Entry | undefined; // a call's return entry
}

/** Checks one partition; true when some real-time-respecting order is accepted by the model. */
function checkPartition<S, I, O>(model: Model<S, I, O>, ops: ReadonlyArray<Operation<I, O>>): boolean {
  // Calls sort before returns at the same instant: operations that touch in time count as concurrent.
  const events: Entry[] = [];
  ops.forEach((op, id) => {
    const call: Entry = { kind: "call", id, time: op.call, prev: undefined, next: undefined, match: undefined };
    const ret: Entry = { kind: "return", id, time: op.ret, prev: undefined, next: undefined, match: undefined };
    call.match = ret;
    events.push(call, ret);
  });
  events.sort((a, b) => a.time - b.time || (a.kind === b.kind ? 0 : a.kind === "call" ? -1 : 1));
  const head: Entry = { kind: "call", id: -1, time: -Infinity, prev: undefined, next: undefined, match: undefined };
  let last = head;
  for (const event of events) {
    last.next = event;
    event.prev = last;
    last = event;
  }

  const lift = (call: Entry) => {
    for (const entry of [call, call.match as Entry]) {
      (entry.prev as Entry).next = entry.next;
      if (entry.next !== undefined) entry.next.prev = entry.prev;
    }
  };
  const unlift = (call: Entry) => {
    for (const entry of [call.match as Entry, call]) {
      (entry.prev as Entry).next = entry;
      if (entry.next !== undefined) entry.next.prev = entry;
    }
  };

  let linearised = 0n;
  let state = model.init();
  const seen = new Set<string>();
  const stack: Array<{ call: Entry; state: S }> = [];
  let entry = head.next;
  while (head.next !== undefined) {
    if (entry === undefined) return false; // cannot happen: a return always ends the scan first
    if (entry.kind === "call") {
      const op = ops[entry.id] as Operation<I, O>;
      const next = model.step(state, op.input, op.output);
      const bits = linearised | (1n << BigInt(entry.id));
      const memo = next === undefined ? "" : `${bits.toString(36)}|${model.describe(next)}`;
      if (next !== undefined && !seen.has(memo)) {
        seen.add(memo);
        stack.push({ call: entry, state });
        state = next;
        linearised = bits;
        lift(entry);
        entry = head.next;
      } else {
        entry = entry.next;
      }
    } else {
      // An operation returned before any order could place it: undo the last choice and try the next candidate.
      const top = stack.pop();
      if (top === undefined) return false;
      state = top.state;
      linearised &= ~(1n << BigInt(top.call.id));
      unlift(top.call);
      entry = top.call.next;
    }
  }
  return true;
}

/** Checks a whole history, partition by partition. */
export function checkLinearizable<S, I, O>(model: Model<S, I, O>, history: ReadonlyArray<Operation<I, O>>): Verdict {
  const partitions = new Map<string, Array<Operation<I, O>>>();
  for (const op of history) {
    if (!(op.call <= op.ret)) throw new Error(`operation of client ${op.client} returns (${op.ret}) before its call (${op.call})`);
    const key = model.partition(op.input);
    let list = partitions.get(key);
    if (list === undefined) partitions.set(key, (list = []));
    list.push(op);
  }
  for (const [partition, ops] of partitions) {
    if (!checkPartition(model, ops)) {
      const sample = [...ops]
        .sort((a, b) => a.call - b.call)
        .slice(0, 12)
        .map((op) => `c${op.client} [${op.call}, ${op.ret}] ${JSON.stringify(op.input)} → ${JSON.stringify(op.output)}`)
        .join("\n  ");
      return { ok: false, partition, operations: ops.length, explanation: `no linearisation of ${ops.length} operations on ${partition}; first by call time:\n  ${sample}` };
    }
  }
  return { ok: true, partitions: partitions.size, operations: history.length };
}
