/**
 * The commit policy: which sinks must have handled an event before the checkpoint may move past it.
 *
 * - `"all"`: every sink.
 * - `{ required: [names] }`: these sinks; the others are best effort.
 * - `{ quorum: n }`: any n sinks.
 *
 * A sink has *handled* an event when it delivered it or refused it for good (a refused event goes to quarantine,
 * so it is accounted for). A sink that is still failing after its retries has not.
 */
export type CommitPolicy = "all" | { required: readonly string[] } | { quorum: number };

/**
 * Parses `all`, `required:<sink>,<sink>…` or `quorum:<n>` (the `--policy` flag) and checks it against the sinks
 * there are. The whole text must be one of these: a second `:`, an empty or repeated sink name, or anything after the
 * number is an error, never dropped (`required:warehouse:audit` would otherwise leave audit silently best effort).
 */
export function parsePolicy(text: string, sinkNames: readonly string[]): CommitPolicy {
  const usage = `a policy is all, required:<sink>,<sink>… or quorum:<n>; got "${text}"`;
  const colon = text.indexOf(":");
  const kind = colon < 0 ? text : text.slice(0, colon);
  const argument = colon < 0 ? undefined : text.slice(colon + 1);
  let policy: CommitPolicy;
  if (kind === "all" && argument === undefined) policy = "all";
  else if (kind === "required" && argument !== undefined) policy = { required: parseSinkList(argument, usage) };
  else if (kind === "quorum" && argument !== undefined && /^\d+$/.test(argument)) policy = { quorum: Number(argument) };
  else throw new RangeError(usage);
  checkPolicy(policy, sinkNames);
  return policy;
}

/** `a,b,c`: sink names, none empty, none twice, none with a `:`. */
function parseSinkList(list: string, usage: string): string[] {
  const names = list.split(",");
  if (names.some((name) => name === "" || name.includes(":"))) throw new RangeError(`${usage} (sinks are separated by single commas)`);
  const repeated = names.find((name, i) => names.indexOf(name) !== i);
  if (repeated !== undefined) throw new RangeError(`sink ${repeated} is named twice in "${list}"`);
  return names;
}

/** Throws unless `policy` can be met by these sinks: known names, a quorum between 1 and their number. */
export function checkPolicy(policy: CommitPolicy, sinkNames: readonly string[]): void {
  if (policy === "all") return;
  if ("required" in policy) {
    if (policy.required.length === 0) throw new RangeError("a required policy names at least one sink");
    const unknown = policy.required.filter((name) => !sinkNames.includes(name));
    if (unknown.length > 0) throw new RangeError(`unknown sink ${unknown.join(", ")}; the sinks are ${sinkNames.join(", ")}`);
    return;
  }
  if (!Number.isSafeInteger(policy.quorum) || policy.quorum < 1 || policy.quorum > sinkNames.length) {
    throw new RangeError(`a quorum is between 1 and ${sinkNames.length} (the number of sinks), got ${String(policy.quorum)}`);
  }
}

/** True when the sinks in `handledBy` are enough, under `policy`, for one event. */
export function policyHolds(policy: CommitPolicy, handledBy: ReadonlySet<string>, sinkNames: readonly string[]): boolean {
  if (policy === "all") return sinkNames.every((name) => handledBy.has(name));
  if ("required" in policy) return policy.required.every((name) => handledBy.has(name));
  return handledBy.size >= policy.quorum;
}

/**
 * How far the checkpoint may move: the last seq of the longest run of `seqs` (in order, starting at the first)
 * whose every event satisfies the policy, or `undefined` if the first one does not. One event that falls short stops
 * the run, even if later ones are fine: a checkpoint is a single position, so it may not skip over a gap.
 */
export function commitPoint(
  policy: CommitPolicy,
  seqs: readonly number[],
  handledBy: (seq: number) => ReadonlySet<string>,
  sinkNames: readonly string[],
): number | undefined {
  let point: number | undefined;
  for (const seq of seqs) {
    if (!policyHolds(policy, handledBy(seq), sinkNames)) break;
    point = seq;
  }
  return point;
}

/** The policy as the `--policy` flag spells it. */
export function describePolicy(policy: CommitPolicy): string {
  if (policy === "all") return "all";
  return "required" in policy ? `required:${policy.required.join(",")}` : `quorum:${policy.quorum}`;
}
