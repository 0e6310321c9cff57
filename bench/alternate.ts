/**
 * Two bodies measured in alternating rounds in the same process, so that their ratio is not skewed by what ran in
 * between (the file growing, the JIT warming other paths, the machine's other work): used by the wrapper rows
 * (wrapped ÷ unwrapped) and the paired rows (stowage ÷ its raw baseline).
 */
import { measure, summarize, type CaseBody, type RunLimits, type RunStats, type Summary } from "./harness.js";

/** Operation indexes of one round start at a multiple of this: a multiple of every case's key count, so each round
 * touches the same keys as the others, but writes values no earlier round wrote (an equal row update is a no-op in SQLite). */
const ROUND_STRIDE = 1_000_000_000;

/** `body` with its operation indexes moved by `offset`. */
const shifted = (body: CaseBody, offset: number): CaseBody => ({
  op: (i, worker) => body.op(i + offset, worker),
  beforeRun: body.beforeRun,
});

/** Rounds of a pair for `runs` timed runs of a plain case: more, since a ratio of two noisy figures is noisier; odd,
 * so that the median ratio is one round's. */
export const pairRounds = (runs: number): number => 2 * runs - 1;

/**
 * {@link pairRounds} rounds, each one timed run of `first` and one of `second` (each after its own warm-up), the
 * side going first swapped every round. Run i of one summary is the same round as run i of the other.
 */
export async function alternate(first: CaseBody, second: CaseBody, limits: RunLimits): Promise<{ first: Summary; second: Summary }> {
  const one = { ...limits, runs: 1 };
  const firstRuns: RunStats[] = [];
  const secondRuns: RunStats[] = [];
  let round = 0;
  const run = async (body: CaseBody, into: RunStats[]): Promise<void> => {
    const summary = await measure(shifted(body, ++round * ROUND_STRIDE), one);
    into.push(...summary.runs);
  };
  for (let r = 0; r < pairRounds(limits.runs); r++) {
    if (r % 2 === 0) {
      await run(first, firstRuns);
      await run(second, secondRuns);
    } else {
      await run(second, secondRuns);
      await run(first, firstRuns);
    }
  }
  return { first: summarize(firstRuns), second: summarize(secondRuns) };
}
