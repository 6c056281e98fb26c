import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { applyProgress, IDLE_RUN, type TrainRun } from '../../state/slices/train.ts';
import type { StepRecord } from '../../train/trainer.ts';
import type { TrainProgress } from '../../../workers/protocol.ts';
import { currentStage, describeRun, RunProgressView } from './RunProgress.tsx';

const record = (step: number): StepRecord => ({ step, loss: 1, taskLosses: [1, 1], lr: 1e-3, gradNorm: 0.5, skipped: false, tokens: 256, seconds: 0.5, gpuBytes: 1_000_000 });
const step = (n: number): TrainProgress => ({ kind: 'step', step: { ...record(n), totalSteps: 30, tokensPerSecond: 512, etaSeconds: 600 } });
const running: TrainRun = { ...IDLE_RUN, status: 'running', runId: 'r', name: 'Finance', taskNames: ['phrases', 'tweets'] };

/** The stage the chips mark as current, and the progress bars shown, in the markup a person sees. */
function shown(run: TrainRun): { current: string | undefined; bars: string[]; text: string } {
  const html = renderToStaticMarkup(createElement(RunProgressView, { run }));
  return {
    current: /<li class="stage current" aria-current="step">([^<]+)<\/li>/.exec(html)?.[1],
    bars: [...html.matchAll(/<progress aria-label="([^"]+)"/g)].map((match) => match[1]!),
    text: html.replace(/<[^>]+>/g, ''),
  };
}

describe('a mid-run evaluation on the Train page', () => {
  const training = applyProgress(running, [{ kind: 'stage', stage: 'train' }, ...Array.from({ length: 15 }, (_, i) => step(i + 1))]);
  const evaluating = applyProgress(training, [
    { kind: 'eval-progress', progress: { step: 15, task: 'phrases', done: 32, total: 32 } },
    { kind: 'eval-progress', progress: { step: 15, task: 'tweets', done: 12, total: 32 } },
  ]);

  it('is a stage of its own, with its task and examples done of total, not a training step frozen with its ETA', () => {
    expect(describeRun(training)).toBe('Running: training, step 15 of 30.');
    expect(shown(training)).toMatchObject({ current: 'Train', bars: ['Training progress'] });
    expect(shown(training).text).toContain('10 min 0 s left');

    expect(currentStage(evaluating)).toBe('evaluate');
    expect(describeRun(evaluating)).toBe('Running: evaluating tweets, 12 of 32 (after step 15 of 30).');
    const during = shown(evaluating);
    expect(during.current).toBe('Evaluate');
    expect(during.bars).toEqual(['Evaluation progress', 'Training progress']);
    expect(during.text).toContain('tweets: 12 of 32 examples');
    expect(during.text).not.toContain('left');
  });

  it('gives the stage back to training when the evaluation ends and the next step comes', () => {
    const evaluated = applyProgress(evaluating, [{ kind: 'eval', eval: { step: 15, tasks: [] } }]);
    expect(evaluated.evaluating).toBeUndefined();
    expect(currentStage(evaluated)).toBe('train');
    const next = applyProgress(evaluating, [step(16)]);
    expect(describeRun(next)).toBe('Running: training, step 16 of 30.');
    expect(shown(next)).toMatchObject({ current: 'Train', bars: ['Training progress'] });
  });

  it('says "final evaluation" when it is the run’s last stage', () => {
    const final = applyProgress(training, [{ kind: 'stage', stage: 'evaluate' }, { kind: 'eval-progress', progress: { step: 30, task: 'phrases', done: 3, total: 32 } }]);
    expect(describeRun(final)).toBe('Running: final evaluation, evaluating phrases, 3 of 32.');
    expect(shown(final).current).toBe('Evaluate');
  });
});
