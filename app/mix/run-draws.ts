/**
 * Every draw of a whole run, in order, with each task's probability at each step: what `cocktail mix`
 * prints and what a premixed export (app/export) writes row by row. It is the trainer's own sampler
 * stepped from the start, so the order is the order training would see.
 */
import { MixSampler } from './sampler.ts';
import type { Draw, MixConfig } from './types.ts';

export interface RunDraws {
  /** One entry per sampler step (a micro-batch of `batchSize` draws), in order. */
  steps: Draw[][];
  /** Each task's probability at each sampler step, before that step's draws. */
  probabilities: number[][];
}

export function drawRun(config: MixConfig): RunDraws {
  const sampler = MixSampler.create(config);
  const steps: Draw[][] = [];
  const probabilities: number[][] = [];
  for (let step = 0; step < config.totalSteps; step++) {
    probabilities.push(sampler.probabilities());
    steps.push(sampler.nextBatch());
  }
  return { steps, probabilities };
}
