/**
 * The judge of a recorded work-queue history (issue 21, design §6 "SIGKILL battery"): from the events workers wrote
 * (lease-events.ts) and the store's end state, it proves — or refutes with the events involved — that no item ever had
 * two live leases, that no job was lost, and that the dead letters are exactly the jobs that failed past their limit.
 *
 * Soundness first: a correct store must never be reported, whatever a kill cut short and however the host's clocks
 * stood. Three facts make that possible:
 * - A claim's store-clock `now` is recovered exactly (`deadline − visibilityMs`), and a lease's deadline is the number
 *   the engine stored as the item's visibility; comparing them is the very comparison the engine had to make, so
 *   store-clock checks need no tolerance, however far apart the processes' `Date.now()` were.
 * - Real-time order comes only from event times, which processes of one host share to within `clockToleranceMs`
 *   (each is a monotonic clock placed on the epoch by one wall-clock reading at process start; they drift apart only
 *   if the wall clock is stepped while the run lasts). "A happened before B" is claimed only when A's time plus the
 *   tolerance is still below B's (no tolerance within one process: one monotonic clock); "A may have come before B"
 *   whenever it is not so. Each check uses the reading that can only excuse, never accuse.
 * - What a kill leaves out can only excuse too (see lease-events.ts): a settle is known from its `settling` line; an
 *   unrecorded claim leased the item to nobody who could settle it, so it only delays the next claim; an unrecorded
 *   extend could only have moved a deadline later — given that a worker runs one extend of a lease at a time, with
 *   one lease length, and that the store clock does not step back during a run.
 * The battery never requeues or purges, and ids are never reused; a requeue would reopen an acked or dead item's life.
 */
import { LEASE_EXPIRED_ERROR } from "../../src/engines/work-rules.js";
import type { WorkCounts } from "../../src/api/types.js";
import type { ClaimEvent, ExtendEvent, HandlerEvent, LeaseEvent, SettleEvent, SettleKind, SettlingEvent } from "./lease-events.js";

export * from "./lease-events.js";

/** A job of the run and what must become of it. */
export interface ExpectedJob {
  id: number;
  /** `complete`: its handler succeeds within its attempts; `dead`: its handler fails on every attempt. */
  fate: "complete" | "dead";
  maxAttempts: number;
  /** The failure text the store keeps for its handler's error (required for `dead` jobs). */
  error?: string;
}

/** The store at the end of the run. */
export interface FinalState {
  /** Items left, by state, over every key the jobs went to. */
  counts: WorkCounts;
  /** Every dead letter. */
  dead: ReadonlyArray<{ id: number; attempts: number; lastError: string }>;
  jobs: readonly ExpectedJob[];
}

/** Options of {@link checkLeaseHistory}. */
export interface CheckOptions {
  /**
   * How far apart two processes' event clocks may be, in ms (default 5). Node places `performance.now()` on the epoch
   * by one `gettimeofday` read at process start, microseconds from its monotonic reading; two processes differ by that
   * read's error plus any step of the wall clock between their starts. 5 ms covers the former many times over and
   * costs the check nothing: the races it looks for are a lease length (hundreds of ms) wide.
   */
  clockToleranceMs?: number;
}

/** One thing the history shows went wrong, with the events that show it. */
export interface Violation {
  /** `lease`: two live leases or a stale lease accepted; `identity`: tokens/attempts; `lost`: a job not done;
   *  `dead`: the dead letters; `record`: the record itself is inconsistent. */
  check: "lease" | "identity" | "lost" | "dead" | "record";
  id: number | null;
  message: string;
  events: LeaseEvent[];
}

/** A settle as the checker sees it: its `settling` line and, when the call answered, its `settle` line. */
interface Settle {
  begin: SettlingEvent;
  end: SettleEvent | null;
}

/** Everything the history holds about one claim of one item. */
interface Held {
  claim: ClaimEvent;
  extends: ExtendEvent[];
  settles: Settle[];
  handler: HandlerEvent[];
}

type Stamp = { pid: number; t: number };
type Report = (check: Violation["check"], id: number | null, message: string, events: LeaseEvent[]) => void;

/**
 * Checks the merged events of every worker of a run against its end state; an empty list means the history proves
 * the three properties (see the file comment for what "proves" rests on).
 */
export function checkLeaseHistory(events: readonly LeaseEvent[], final: FinalState, options: CheckOptions = {}): Violation[] {
  const tolerance = options.clockToleranceMs ?? 5;
  const violations: Violation[] = [];
  const report: Report = (check, id, message, events) => violations.push({ check, id, message, events });
  const jobs = new Map(final.jobs.map((job) => [job.id, job]));
  const items = leasesByItem(events, report);
  const order = new Order(tolerance);
  for (const [id, held] of items) {
    const job = jobs.get(id);
    if (job === undefined) report("record", id, `item ${id} is not one of the run's jobs`, [held[0]!.claim]);
    checkLeases(id, held, job, order, report);
  }
  checkEnd(items, jobs, final, report);
  return violations;
}

/** "Happened before" between event times, judged within one process exactly and across processes with a tolerance. */
class Order {
  constructor(private readonly tolerance: number) {}

  /** `a` surely came before `b`. */
  before(a: Stamp, b: Stamp): boolean {
    return a.t + (a.pid === b.pid ? 0 : this.tolerance) < b.t;
  }

  /** `a` may have come before `b` (it did not surely come after). */
  mayPrecede(a: Stamp, b: Stamp): boolean {
    return !this.before(b, a);
  }
}

const at = (event: { pid: number }, t: number): Stamp => ({ pid: event.pid, t });
const leaseName = (h: Held) => `attempt ${h.claim.attempt} (token ${h.claim.token}, worker ${h.claim.w})`;
const leaseId = (e: { id: number; token: number; attempt: number; w: string }) => `${e.w}\u0000${e.id}\u0000${e.token}\u0000${e.attempt}`;

/** Groups the events by item and claim, reporting records that name a lease their worker never claimed. */
function leasesByItem(events: readonly LeaseEvent[], report: Report): Map<number, Held[]> {
  const byLease = new Map<string, Held>();
  const items = new Map<number, Held[]>();
  for (const event of events) {
    if (event.ev !== "claim") continue;
    const name = leaseId(event);
    const seen = byLease.get(name);
    if (seen !== undefined) {
      report("identity", event.id, `item ${event.id} was handed to worker ${event.w} twice with token ${event.token} and attempt ${event.attempt}`, [seen.claim, event]);
      continue;
    }
    const held: Held = { claim: event, extends: [], settles: [], handler: [] };
    byLease.set(name, held);
    const leases = items.get(event.id);
    if (leases === undefined) items.set(event.id, [held]);
    else leases.push(held);
  }
  const settling = new Map<string, Settle>();
  for (const event of events) {
    if (event.ev === "claim" || event.ev === "begin" || event.ev === "end") continue;
    const held = byLease.get(leaseId(event));
    if (held === undefined) {
      report("record", event.id, `worker ${event.w} recorded a ${event.ev} of item ${event.id} (token ${event.token}, attempt ${event.attempt}) it never recorded claiming`, [event]);
      continue;
    }
    if (event.ev === "extend") held.extends.push(event);
    else if (event.ev === "settling") {
      const settle = { begin: event, end: null };
      held.settles.push(settle);
      settling.set(`${leaseId(event)}\u0000${event.kind}\u0000${event.invoke}`, settle);
    } else if (event.ev === "settle") {
      const settle = settling.get(`${leaseId(event)}\u0000${event.kind}\u0000${event.invoke}`);
      if (settle === undefined) {
        // Answered, so known without its settling line (a worker that reports settles only once they answer).
        const { w, pid, key, id, token, attempt, invoke, kind } = event;
        held.settles.push({ begin: { w, pid, ev: "settling", key, id, token, attempt, invoke, kind }, end: event });
      } else if (settle.end !== null) {
        report("record", event.id, `worker ${event.w} recorded two answers to one settle of item ${event.id}`, [settle.end, event]);
      } else settle.end = event;
    } else held.handler.push(event);
  }
  return items;
}

function checkLeases(id: number, held: Held[], job: ExpectedJob | undefined, order: Order, report: Report): void {
  const leases = [...held].sort((a, b) => a.claim.attempt - b.claim.attempt || a.claim.invoke - b.claim.invoke);
  for (const [index, lease] of leases.entries()) {
    if (job !== undefined && lease.claim.attempt > job.maxAttempts) {
      report("identity", id, `item ${id} was claimed for attempt ${lease.claim.attempt}, past its ${job.maxAttempts}`, [lease.claim]);
    }
    checkTokenUnique(id, lease, leases.slice(0, index), report);
    const next = leases[index + 1];
    if (next !== undefined) checkSuccessor(id, lease, next, order, report);
    for (const later of leases.slice(index + 1)) checkStaleUse(id, lease, later, order, report);
  }
}

function checkTokenUnique(id: number, lease: Held, earlier: Held[], report: Report): void {
  const twin = earlier.find((e) => e.claim.token === lease.claim.token && e.claim.attempt === lease.claim.attempt);
  if (twin !== undefined) {
    report("identity", id, `item ${id} was leased twice as ${leaseName(lease)}: the same token and attempt`, [twin.claim, lease.claim]);
  }
}

/** The claim after `first` (by attempt) must have waited for `first` to end: settled, or past every deadline it knew. */
function checkSuccessor(id: number, first: Held, second: Held, order: Order, report: Report): void {
  const claim = second.claim;
  const claimInvoke = at(claim, claim.invoke);
  const claimResolve = at(claim, claim.resolve);
  if (order.before(claimResolve, at(first.claim, first.claim.invoke))) {
    report("identity", id, `item ${id}: ${leaseName(second)} was claimed before ${leaseName(first)}: attempts went down`, [first.claim, claim]);
  }
  // A fail or release of the first lease that was applied, or may have been (cut short, or in flight), before the
  // second claim may have made the item claimable at once. An ack or a dead-lettering fail cannot: applied, it leaves
  // nothing to claim (checkStaleUse reports a claim after one).
  const freeing = knownSettles(first).filter((s) => s.begin.kind !== "ack" && s.end?.ok !== false && s.end?.dead !== true && order.mayPrecede(at(s.begin, s.begin.invoke), claimResolve));
  if (claim.attempt === first.claim.attempt && !freeing.some((s) => s.begin.kind === "release")) {
    report("identity", id, `item ${id}: attempt ${claim.attempt} was claimed again with no release between (${leaseName(first)}, then ${leaseName(second)})`, [first.claim, claim]);
  }
  const now = claim.deadline - claim.visibilityMs;
  if (freeing.length > 0) {
    checkRetryTime(id, first, second, freeing, order, report);
    return;
  }
  const known = liveUntil(first, claimInvoke, claimResolve, order);
  if (known !== null && now < known.deadline) {
    const message = `item ${id} had two live leases: ${leaseName(second)} was claimed at store time ${now}, while ${leaseName(first)} was live until ${known.deadline} (${known.deadline - now} ms later) and was not settled`;
    report("lease", id, message, [first.claim, ...first.extends, ...first.settles.flatMap((s) => (s.end === null ? [s.begin] : [s.begin, s.end])), claim]);
  }
}

/**
 * The settles of a lease, counting a fail announced only by its handler's `threw` line as one cut short from that time
 * on: a worker fails an item only after its handler threw, so the line stands in for a missing `settling` line (the
 * settle's real invoke came later, which can only narrow what it excuses). A release has no such stand-in.
 */
function knownSettles(held: Held): Settle[] {
  const threw = held.handler.find((e) => e.ev === "threw");
  if (threw === undefined || held.settles.some((s) => s.begin.kind === "fail")) return held.settles;
  const { w, pid, key, id, token, attempt, at: invoke } = threw;
  return [...held.settles, { begin: { w, pid, ev: "settling", key, id, token, attempt, invoke, kind: "fail" }, end: null }];
}

/**
 * The latest deadline the first lease surely held when the second claim ran: the deadline of a claim or extend that
 * answered before that claim was invoked — unless another of its extends may have been applied after it and before
 * that claim, which would have set its own deadline (so the lower of the two counts). Null: nothing is known.
 */
function liveUntil(first: Held, claimInvoke: Stamp, claimResolve: Stamp, order: Order): { deadline: number } | null {
  const setters = [
    { invoke: first.claim.invoke, resolve: first.claim.resolve, deadline: first.claim.deadline, pid: first.claim.pid },
    ...first.extends.filter((e) => e.ok && e.deadline !== null).map((e) => ({ invoke: e.invoke, resolve: e.resolve, deadline: e.deadline as number, pid: e.pid })),
  ];
  let best: number | null = null;
  for (const setter of setters) {
    if (!order.before(at(setter, setter.resolve), claimInvoke)) continue;
    let deadline = setter.deadline;
    for (const other of setters) {
      if (other === setter || order.before(at(other, other.resolve), at(setter, setter.invoke))) continue;
      if (order.mayPrecede(at(other, other.invoke), claimResolve)) deadline = Math.min(deadline, other.deadline);
    }
    best = best === null ? deadline : Math.max(best, deadline);
  }
  return best === null ? null : { deadline: best };
}

/** A retry or release that surely came before the next claim, with nothing else of its lease in doubt, sets a floor. */
function checkRetryTime(id: number, first: Held, second: Held, freeing: Settle[], order: Order, report: Report): void {
  if (freeing.length !== 1) return;
  const settle = freeing[0]!;
  const end = settle.end;
  if (end === null || end.visibleAt === null || !order.before(at(end, end.resolve), at(second.claim, second.claim.invoke))) return;
  const now = second.claim.deadline - second.claim.visibilityMs;
  if (now < end.visibleAt) {
    report("lease", id, `item ${id}: ${leaseName(second)} was claimed at store time ${now}, before ${end.visibleAt}, when the ${end.kind} of ${leaseName(first)} made it claimable again`, [first.claim, settle.begin, end, second.claim]);
  }
}

/** Once a later claim of the item was made, nothing of an earlier lease may succeed; an ack ends the item for good. */
function checkStaleUse(id: number, earlier: Held, later: Held, order: Order, report: Report): void {
  const claimed = at(later.claim, later.claim.resolve);
  const accepted = [
    ...earlier.extends.filter((e) => e.ok && order.before(claimed, at(e, e.invoke))),
    ...earlier.settles.flatMap((s) => (s.end?.ok === true && order.before(claimed, at(s.begin, s.begin.invoke)) ? [s.end] : [])),
  ];
  for (const event of accepted) {
    report("lease", id, `item ${id}: the ${event.ev} ${event.ev === "settle" ? `(${event.kind}) ` : ""}of ${leaseName(earlier)} succeeded after ${leaseName(later)} was claimed`, [earlier.claim, later.claim, event]);
  }
  const ended = earlier.settles.find((s) => s.end?.ok === true && (s.end.kind === "ack" || s.end.dead));
  if (ended !== undefined && accepted.length === 0) {
    report("lease", id, `item ${id} was claimed again (${leaseName(later)}) after the ${ended.end!.kind} of ${leaseName(earlier)} ${ended.end!.kind === "ack" ? "removed it" : "dead-lettered it"}`, [earlier.claim, ended.begin, ended.end!, later.claim]);
  }
}

/** None lost, each completes; the dead letters are exactly those that failed past their limit. */
function checkEnd(items: Map<number, Held[]>, jobs: Map<number, ExpectedJob>, final: FinalState, report: Report): void {
  const { ready, delayed, leased } = final.counts;
  if (ready + delayed + leased > 0) {
    report("lost", null, `the run ended with items left that are not dead: ${ready} ready, ${delayed} delayed, ${leased} leased`, []);
  }
  if (final.counts.dead !== final.dead.length) {
    report("dead", null, `the counts say ${final.counts.dead} dead, the dead-letter list holds ${final.dead.length}`, []);
  }
  const dead = new Map(final.dead.map((item) => [item.id, item]));
  for (const item of final.dead) {
    if (!jobs.has(item.id)) report("dead", item.id, `dead letter ${item.id} is not one of the run's jobs`, []);
  }
  for (const job of final.jobs) {
    const held = items.get(job.id) ?? [];
    const item = dead.get(job.id);
    if (item !== undefined) checkDead(job, item, held, report);
    else if (job.fate === "dead") report("dead", job.id, `job ${job.id} fails on every attempt but is not a dead letter`, held.map((h) => h.claim));
    else if (!held.some((h) => h.handler.some((e) => e.ev === "done"))) {
      report("lost", job.id, `job ${job.id} is neither dead nor done: no handler of it completed (${held.length} claims recorded)`, held.map((h) => h.claim));
    }
  }
}

function checkDead(job: ExpectedJob, item: { id: number; attempts: number; lastError: string }, held: Held[], report: Report): void {
  const say = (message: string, events: LeaseEvent[] = held.map((h) => h.claim)) => report("dead", job.id, `dead letter ${job.id}: ${message}`, events);
  if (item.attempts !== job.maxAttempts) say(`it has had ${item.attempts} attempts, not its ${job.maxAttempts}`);
  // A release gives its attempt back, so its claim does not count.
  const counted = held.filter((h) => !h.settles.some((s) => s.begin.kind === "release" && s.end?.ok !== false)).length;
  if (counted > item.attempts) say(`${counted} claims of it are recorded, more than its ${item.attempts} attempts`);
  const settled = (kind: SettleKind) => held.flatMap((h) => h.settles.flatMap((s) => (s.end?.ok === true && s.end.kind === kind ? [s.end] : [])));
  const acks = settled("ack");
  if (acks.length > 0) say(`an ack of it succeeded`, acks);
  const deadlyFails = settled("fail").filter((e) => e.dead);
  if (item.lastError === LEASE_EXPIRED_ERROR) {
    // Its last attempt's holder neither settled nor extended it: a kill, which may hit any job.
    if (deadlyFails.length > 0) say(`its last error says the lease expired, but a fail dead-lettered it`, deadlyFails);
    return;
  }
  if (job.fate !== "dead") say(`a job meant to complete died of ${JSON.stringify(item.lastError)}, not of an expired lease`);
  else if (item.lastError !== job.error) say(`its last error is ${JSON.stringify(item.lastError)}, not its handler's ${JSON.stringify(job.error)}`);
}

/** The first `limit` violations, one per line, for an assertion message. */
export function describeViolations(violations: readonly Violation[], limit = 10): string {
  const shown = violations.slice(0, limit).map((v) => `[${v.check}] ${v.message}\n    ${v.events.map((e) => JSON.stringify(e)).join("\n    ")}`);
  const more = violations.length > limit ? [`… and ${violations.length - limit} more`] : [];
  return [`${violations.length} violation(s):`, ...shown, ...more].join("\n");
}

/** Counts for a run's diagnostics: claims, reclaims of an item, settles by kind and outcome, handler runs. */
export function historyStats(events: readonly LeaseEvent[]): Record<string, number> {
  const stats: Record<string, number> = { claims: 0, reclaims: 0, extends: 0, acks: 0, fails: 0, releases: 0, lostSettles: 0, unansweredSettles: 0, done: 0, threw: 0 };
  const claimed = new Set<number>();
  const answered = new Set<string>();
  for (const e of events) {
    if (e.ev === "claim") {
      stats.claims!++;
      if (claimed.has(e.id)) stats.reclaims!++;
      claimed.add(e.id);
    } else if (e.ev === "extend") stats.extends!++;
    else if (e.ev === "settle") {
      answered.add(`${leaseId(e)}\u0000${e.invoke}`);
      if (!e.ok) stats.lostSettles!++;
      else stats[`${e.kind}s`]!++;
    } else if (e.ev === "done" || e.ev === "threw") stats[e.ev]!++;
  }
  stats.unansweredSettles = events.filter((e) => e.ev === "settling" && !answered.has(`${leaseId(e)}\u0000${e.invoke}`)).length;
  return stats;
}
