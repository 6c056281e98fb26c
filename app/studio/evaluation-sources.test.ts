import { describe, expect, it } from 'vitest';
import type { RunRecord } from '../../workers/protocol.ts';
import { evaluationSources } from './evaluation-sources.ts';

const task = { task: 'phrase', metric: 'accuracy' as const, loss: 1, score: 0.5, examples: 8, samples: [] };
const run = (runId: string, change: Partial<RunRecord>): RunRecord => ({
  runId,
  name: `Run ${runId}`,
  recipe: {},
  status: 'completed',
  step: 30,
  totalSteps: 30,
  startedAt: 1,
  updatedAt: 2,
  evaluations: [],
  adapterKeys: [],
  ...change,
});

describe('evaluationSources', () => {
  it('takes each run’s latest evaluation, oldest run first, says whether it is final, and skips runs without one', () => {
    const sources = evaluationSources(
      [
        run('c', { status: 'running', step: 3, startedAt: 3 }),
        run('b', { status: 'paused', step: 12, startedAt: 2, evaluations: [{ step: 10, tasks: [task] }] }),
        run('a', { evaluations: [{ step: 10, tasks: [task] }, { step: 30, tasks: [task] }] }),
      ],
      [],
    );
    expect(sources.map((source) => [source.id, source.label, source.evaluation.step])).toEqual([
      ['run:a', 'Run a', 30],
      ['run:b', 'Run b', 10],
    ]);
    expect(sources[0]!.detail).toBe('final evaluation of run a (completed, step 30 of 30)');
    expect(sources[1]!.detail).toBe('evaluation at step 10 of run b (paused, step 12 of 30)');
  });

  it('adds the evaluations made on the page after the runs', () => {
    const sources = evaluationSources([run('a', { evaluations: [{ step: 30, tasks: [task] }] })], [{ id: 'evaluation-1', label: 'Base model', model: 'owner/tiny', evaluation: { step: 0, tasks: [task] } }]);
    expect(sources.map((source) => source.id)).toEqual(['run:a', 'evaluation-1']);
    expect(sources[1]).toMatchObject({ label: 'Base model', detail: 'evaluated on this page, owner/tiny' });
  });
});
