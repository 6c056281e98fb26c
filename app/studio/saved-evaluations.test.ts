import { describe, expect, it } from 'vitest';
import { EVALUATIONS_STORAGE_KEY, loadSavedEvaluations, MAX_SAVED_EVALUATIONS, saveEvaluations, type SavedEvaluation } from './saved-evaluations.ts';

/** localStorage's getItem/setItem over a Map, with an optional quota to act full. */
function memoryStore(quota = Number.POSITIVE_INFINITY) {
  const items = new Map<string, string>();
  return {
    items,
    getItem: (key: string) => items.get(key) ?? null,
    setItem: (key: string, value: string) => {
      if (value.length > quota) throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
      items.set(key, value);
    },
  };
}

const evaluation = (id: string, score = 0.5): SavedEvaluation => ({
  id,
  label: 'Base model',
  model: 'fixtures/aidreams260K',
  evaluation: { step: 0, tasks: [{ task: 'phrases', metric: 'accuracy', loss: 2.5, score, examples: 6, samples: [{ expected: 'positive', got: 'neutral' }] }] },
  finishedAt: 1_700_000_000_000,
});

describe('evaluations kept in localStorage', () => {
  it('reads back what was saved, in order, with an adapter key when there was one', () => {
    const store = memoryStore();
    const saved = [evaluation('a'), { ...evaluation('b'), adapterKey: 'run-1/shared' }];
    expect(saveEvaluations(saved, store)).toBe(true);
    expect(loadSavedEvaluations(store)).toEqual(saved);
  });

  it('keeps the newest ones when there are more than it keeps', () => {
    const store = memoryStore();
    saveEvaluations(Array.from({ length: MAX_SAVED_EVALUATIONS + 3 }, (_, i) => evaluation(`e${i}`)), store);
    const loaded = loadSavedEvaluations(store);
    expect(loaded).toHaveLength(MAX_SAVED_EVALUATIONS);
    expect(loaded[0]!.id).toBe('e3');
  });

  it('drops a damaged entry and keeps the others; a value that is not JSON reads as none', () => {
    const store = memoryStore();
    store.items.set(EVALUATIONS_STORAGE_KEY, JSON.stringify([evaluation('good'), { id: 'bad', label: 1 }, { ...evaluation('no-tasks'), evaluation: { step: 0 } }]));
    expect(loadSavedEvaluations(store).map((item) => item.id)).toEqual(['good']);
    store.items.set(EVALUATIONS_STORAGE_KEY, '{not json');
    expect(loadSavedEvaluations(store)).toEqual([]);
    expect(loadSavedEvaluations(undefined)).toEqual([]);
  });

  it('reads a score that was not a number back as NaN (JSON writes it as null)', () => {
    const store = memoryStore();
    saveEvaluations([evaluation('nan', Number.NaN)], store);
    expect(loadSavedEvaluations(store)[0]!.evaluation.tasks[0]!.score).toBeNaN();
  });

  it('says so when the browser will not store them, and throws nothing', () => {
    expect(saveEvaluations([evaluation('a')], memoryStore(10))).toBe(false);
    expect(saveEvaluations([evaluation('a')], undefined)).toBe(false);
  });
});
