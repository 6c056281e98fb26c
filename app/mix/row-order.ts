/**
 * The order in which a task's rows are drawn in one of its epochs. Each order is a pure function of
 * (seed, task, epoch), so a checkpoint stores three small numbers per task instead of permutations
 * as long as the data, and a resumed sampler rebuilds exactly the order it was in.
 */
import { Random } from '../util/random.ts';

/** A seed for the (task, epoch) stream, decorrelated from the mixture seed by a murmur3-style finalizer. */
export function rowOrderSeed(seed: number, task: number, epoch: number): number {
  let hash = finalize(seed ^ 0x5bd1e995);
  hash = finalize(hash ^ Math.imul(task + 1, 0x9e3779b1));
  hash = finalize(hash ^ Math.imul(epoch + 1, 0x85ebca77));
  return hash;
}

/** A uniformly random permutation of 0..size−1 (Fisher–Yates), the same for the same (seed, task, epoch). */
export function shuffledRowOrder(seed: number, task: number, epoch: number, size: number): Uint32Array {
  const random = Random.fromSeed(rowOrderSeed(seed, task, epoch));
  const order = new Uint32Array(size);
  for (let row = 0; row < size; row++) order[row] = row;
  for (let last = size - 1; last > 0; last--) {
    const other = random.int(last + 1);
    const kept = order[last]!;
    order[last] = order[other]!;
    order[other] = kept;
  }
  return order;
}

function finalize(value: number): number {
  let h = value >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}
