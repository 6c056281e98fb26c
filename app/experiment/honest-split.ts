/**
 * Honest selection: each task's evaluated validation examples are divided, seeded, into a selection
 * part and a report part. Greedy steps and the recommended cocktail look only at the selection part;
 * every reported number (the arms table, effects, the recommendation's scores) is computed on the
 * report part, which no choice has seen — so the best-looking arm is not also graded on the data that
 * made it look best.
 */
import { hashLabel, seededRandom } from './statistics.ts';

export interface HonestSplit {
  /** Indices into the task's evaluated validation examples. */
  selection: number[];
  report: number[];
}

/** A seeded shuffle of 0..n−1; the first ⌈n/2⌉ select, the rest report. Needs at least 2 examples. */
export function honestSplit(task: string, count: number, seed: number): HonestSplit {
  const random = seededRandom(hashLabel(`honest-split:${seed}:${task}`));
  const order = Array.from({ length: count }, (_, i) => i);
  for (let i = count - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const cut = Math.ceil(count / 2);
  return { selection: order.slice(0, cut).sort((a, b) => a - b), report: order.slice(cut).sort((a, b) => a - b) };
}

/** The columns of a seeds × examples table that a part keeps. */
export function partOf(values: readonly (readonly number[])[], indices: readonly number[]): number[][] {
  return values.map((row) => indices.map((i) => row[i]!));
}
