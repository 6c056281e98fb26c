import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acquireTestGpu } from '../../test/gpu.ts';
import { loadFixtureModel } from '../../test/model.ts';
import type { TokenizedExample } from '../data/tokenize/types.ts';
import type { GpuContext } from '../gpu/device.ts';
import { uploadModel, type GpuModel } from '../model/gpu-model.ts';
import { filesFromDirectory } from '../model/node-source.ts';
import { referenceLoss, type ReferenceWeights } from '../model/reference.ts';
import { loadTokenizer, type TextTokenizer } from '../model/tokenizer.ts';
import { Evaluator } from './evaluate.ts';
import type { PreparedTask } from './task-data.ts';

let ctx: GpuContext;
let model: GpuModel;
let reference: ReferenceWeights;
let tokenizer: TextTokenizer;
beforeAll(async () => {
  ctx = await acquireTestGpu();
  const fixture = await loadFixtureModel();
  model = await uploadModel(ctx, fixture.config, fixture.weights);
  reference = fixture.reference;
  tokenizer = await loadTokenizer(await filesFromDirectory(fixture.dir), fixture.config);
});
afterAll(() => {
  model?.destroy();
  ctx?.destroy();
});

const GREEDY = [319, 459, 355, 260, 275, 429, 339, 315];
const textExample = (ids: number[]): TokenizedExample => ({
  source: { row: 1 },
  inputIds: Int32Array.from(ids),
  labels: Int32Array.from(ids, (id, t) => (t === 0 ? -100 : id)),
  turnIndex: new Int32Array(ids.length),
  roles: [],
  truncatedTokens: 0,
});
const task = (overrides: Partial<PreparedTask>): PreparedTask => ({ name: 't', role: 'task', metric: 'loss', train: [], validation: [], validationPrompts: [], meanTokens: 0, ...overrides });

describe('evaluation on the real aidreams260K model', { timeout: 120_000 }, () => {
  it('gives the validation loss of the Float64 reference over several batches', async () => {
    const examples = [[1, ...GREEDY], [1, 42, 7, 100, 200], [1, 319, 459, 3, 4, 5, 6], [1, 300, 301]];
    const evaluator = new Evaluator(ctx, model, tokenizer, { B: 3, T: 12 }, 0);
    const loss = await evaluator.loss(examples.map(textExample), undefined);
    evaluator.destroy();
    let sum = 0;
    let count = 0;
    for (const ids of examples) {
      const targets = ids.map((_, t) => (t + 1 < ids.length ? ids[t + 1]! : -100));
      sum += referenceLoss(reference, ids, targets) * (ids.length - 1);
      count += ids.length - 1;
    }
    expect(Math.abs(loss - sum / count) / (sum / count)).toBeLessThan(1e-5);
  });

  it('scores label words and picks the likeliest one: accuracy 1 when the expected word is the model’s own continuation', async () => {
    const continuation = tokenizer.decode(GREEDY.slice(2, 4));
    const words = [continuation, ' zebra', ' quantum'];
    const evaluator = new Evaluator(ctx, model, tokenizer, { B: 2, T: 16 }, 0);
    const right = await evaluator.evaluateTask(task({ metric: 'accuracy', labelWords: words, validation: [textExample([1, ...GREEDY])], validationPrompts: [{ promptIds: Int32Array.from([1, 319, 459]), expected: continuation }] }), undefined);
    const wrong = await evaluator.evaluateTask(task({ metric: 'accuracy', labelWords: words, validation: [textExample([1, ...GREEDY])], validationPrompts: [{ promptIds: Int32Array.from([1, 319, 459]), expected: ' zebra' }] }), undefined);
    evaluator.destroy();
    expect(right.score).toBe(1);
    expect(wrong.score).toBe(0);
    expect(right.samples[0]).toEqual({ expected: continuation, got: continuation });
  });

  it('generates greedily for ROUGE-L and exact match: the model’s own continuation scores 1', async () => {
    const expected = tokenizer.decode(GREEDY);
    const evaluator = new Evaluator(ctx, model, tokenizer, { B: 2, T: 16 }, 0);
    const prepared = { validation: [textExample([1, ...GREEDY])], validationPrompts: [{ promptIds: Int32Array.from([1]), expected }] };
    const rouge = await evaluator.evaluateTask(task({ metric: 'rouge_l', ...prepared }), undefined, { maxNewTokens: GREEDY.length });
    const exact = await evaluator.evaluateTask(task({ metric: 'exact_match', ...prepared }), undefined, { maxNewTokens: GREEDY.length });
    evaluator.destroy();
    expect(rouge.score).toBe(1);
    expect(exact.score).toBe(1);
    expect(rouge.samples[0]!.got).toBe(expected);
  });

  it('answers CANCELLED instead of a score once its signal is aborted (a cancelled evaluation stops using the GPU)', async () => {
    const evaluator = new Evaluator(ctx, model, tokenizer, { B: 2, T: 16 }, 0);
    const abort = new AbortController();
    abort.abort();
    const prepared = { validation: [textExample([1, ...GREEDY])], validationPrompts: [{ promptIds: Int32Array.from([1]), expected: tokenizer.decode(GREEDY) }] };
    const outcome = await evaluator.evaluateTask(task({ metric: 'exact_match', ...prepared }), undefined, { signal: abort.signal }).catch((error: unknown) => error);
    evaluator.destroy();
    expect(outcome).toMatchObject({ code: 'CANCELLED' });
  });
});
