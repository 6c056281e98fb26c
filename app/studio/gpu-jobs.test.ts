import { describe, expect, it } from 'vitest';
import { waitingFor } from './gpu-jobs.ts';

describe('waitingFor', () => {
  it('says "waiting for training" when a request waits behind a training run', () => {
    expect(waitingFor('train.run')).toBe('Waiting for training to finish: the GPU runs one job at a time…');
  });

  it('names the other GPU jobs in words', () => {
    expect(waitingFor('eval.run')).toMatch(/^Waiting for an evaluation to finish/);
    expect(waitingFor('model.verify')).toMatch(/^Waiting for the engine check to finish/);
  });
});
