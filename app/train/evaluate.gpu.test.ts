import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acquireTestGpu } from '../../test/gpu.ts';
import { loadFixtureModel } from '../../test/model.ts';
import type { TokenizedExample } from '../data/tokenize/types.ts';
import type { GpuContext } from '../gpu/device.ts';
import { uploadModel, type GpuModel } from '../model/gpu-model.ts';
import { filesFromDirectory } from '../model/node-source.ts';
import { referenceLoss, type ReferenceWeights } from '../model/reference.ts';
import { loadTokenizer, type TextTokenizer } from '../model/tokenizer.ts';
import { Evaluator, type CandidateScore } from './evaluate.ts';
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

  it('scores label words several prompts to a forward, equal to one prompt at a time and to the Float64 reference, in fewer forwards', async () => {
    // Six prompts of different lengths, three candidate words of one, two and three tokens.
    const prompts = [[1, 319, 459], [1, 42, 7, 100], [1, 300], [1, 319, 459, 355, 260], [1, 5, 6, 7, 8, 9], [1, 250]];
    const words = [[355], [275, 429], [339, 315, 260]];
    const validationPrompts = prompts.map((prompt, i) => ({
      promptIds: Int32Array.from(prompt),
      expected: `w${i % 3}`,
      candidates: words.map((word) => ({ ids: Int32Array.from([...prompt, ...word]), scoreFrom: prompt.length })),
    }));
    const labels = ['w0', 'w1', 'w2'];
    const evaluator = new Evaluator(ctx, model, tokenizer, { B: 2, T: 16 }, 0);
    const batched = await evaluator.labelScores(validationPrompts, labels, undefined);
    const batchedForwards = evaluator.forwards;
    const single: CandidateScore[][] = [];
    for (const prompt of validationPrompts) single.push((await evaluator.labelScores([prompt], labels, undefined))[0]!);
    const singleForwards = evaluator.forwards - batchedForwards;
    evaluator.destroy();

    // 18 sequences of 3 to 9 tokens pack into 8 rows of 16, 4 forwards of B = 2; one prompt at a time needs 6.
    expect(singleForwards).toBe(prompts.length);
    expect(batchedForwards).toBeLessThan(singleForwards);
    expect(batchedForwards).toBe(4);
    prompts.forEach((prompt, i) => {
      words.forEach((word, j) => {
        const ids = [...prompt, ...word];
        const targets = ids.map((_, t) => (t + 1 < ids.length && t + 1 >= prompt.length ? ids[t + 1]! : -100));
        const expected = referenceLoss(reference, ids, targets) * word.length;
        expect(batched[i]![j]!.tokens).toBe(word.length);
        expect(Math.abs(batched[i]![j]!.lossSum - expected)).toBeLessThan(1e-4 * Math.max(1, expected));
        expect(Math.abs(batched[i]![j]!.lossSum - single[i]![j]!.lossSum)).toBeLessThan(1e-5 * Math.max(1, expected));
      });
    });
  });

  it('picks by summed or per-token log-probability, and reports per-class scores of the sample', async () => {
    const prompts = [[1, 319, 459], [1, 42, 7, 100], [1, 300], [1, 319, 459, 355, 260]];
    const words = [[355], [275, 429, 339]];
    const validationPrompts = prompts.map((prompt, i) => ({
      promptIds: Int32Array.from(prompt),
      expected: i % 2 === 0 ? 'short' : 'long',
      input: `prompt ${i}`,
      candidates: words.map((word) => ({ ids: Int32Array.from([...prompt, ...word]), scoreFrom: prompt.length })),
    }));
    const labelWords = ['short', 'long'];
    const prepared = task({ metric: 'accuracy', labelWords, validation: prompts.map(textExample), validationPrompts });
    const evaluator = new Evaluator(ctx, model, tokenizer, { B: 2, T: 16 }, 0);
    const scores = await evaluator.labelScores(validationPrompts, labelWords, undefined);
    const bySum = await evaluator.evaluateTask(prepared, undefined, { examples: 'all' });
    const perToken = await evaluator.evaluateTask(prepared, undefined, { examples: 'all', labelScoring: 'per_token' });
    evaluator.destroy();
    const pick = (cost: (score: { lossSum: number; tokens: number }) => number) => scores.map((row) => labelWords[row.map(cost).indexOf(Math.min(...row.map(cost)))]!);
    const sumPicks = pick((score) => score.lossSum);
    const tokenPicks = pick((score) => score.lossSum / score.tokens);
    expect(bySum.samples.map((sample) => sample.got).sort()).toEqual([...sumPicks].sort());
    expect(perToken.samples.map((sample) => sample.got).sort()).toEqual([...tokenPicks].sort());
    expect(perToken.labelScoring).toBe('per_token');
    const correct = tokenPicks.filter((got, i) => got === validationPrompts[i]!.expected).length;
    expect(perToken.score).toBeCloseTo(correct / prompts.length, 12);
    expect(perToken.classification!.confusion.short!.short! + perToken.classification!.confusion.short!.long!).toBe(2);
    expect(perToken.samples.map((sample) => sample.input).sort()).toEqual(['prompt 0', 'prompt 1', 'prompt 2', 'prompt 3']);
    expect(perToken.sample).toEqual({ splitSize: 4, whole: true, labels: { short: 2, long: 2 }, splitLabels: { short: 2, long: 2 } });
  });

  it('scores the metric alone when asked (metricOnly): the same answers and scores without the loss pass, in fewer forwards', async () => {
    const prompts = [[1, 319, 459], [1, 42, 7, 100], [1, 300], [1, 319, 459, 355, 260]];
    const words = [[355], [275, 429, 339]];
    const validationPrompts = prompts.map((prompt, i) => ({
      promptIds: Int32Array.from(prompt),
      expected: i % 2 === 0 ? 'short' : 'long',
      candidates: words.map((word) => ({ ids: Int32Array.from([...prompt, ...word]), scoreFrom: prompt.length })),
    }));
    const prepared = task({ metric: 'accuracy', labelWords: ['short', 'long'], validation: prompts.map(textExample), validationPrompts });
    const evaluator = new Evaluator(ctx, model, tokenizer, { B: 2, T: 16 }, 0);
    const full = await evaluator.evaluateTask(prepared, undefined, { examples: 'all', perExample: true });
    const fullForwards = evaluator.forwards;
    const metricOnly = await evaluator.evaluateTask(prepared, undefined, { examples: 'all', perExample: true, metricOnly: true });
    const metricForwards = evaluator.forwards - fullForwards;
    // The loss stands in for the metric of a task without label words: there metricOnly changes nothing.
    const lossTask = task({ metric: 'accuracy', validation: prompts.map(textExample), validationPrompts });
    const lossScored = await evaluator.evaluateTask(lossTask, undefined, { examples: 'all', metricOnly: true });
    evaluator.destroy();

    expect(metricOnly.perExample!.scores).toEqual(full.perExample!.scores);
    expect(metricOnly.samples).toEqual(full.samples);
    expect(metricOnly.score).toBe(full.score);
    expect(Number.isNaN(metricOnly.loss)).toBe(true);
    expect(metricOnly.perExample!.losses.every(Number.isNaN)).toBe(true);
    expect(full.loss).toBeGreaterThan(0);
    // Four examples of 3-5 tokens: the loss pass packs them into 2 rows of 16, one forward of B = 2; the 8 candidates take 2.
    expect(fullForwards).toBe(3);
    expect(metricForwards).toBe(2);
    expect(lossScored.score).toBe(lossScored.loss);
    expect(lossScored.loss).toBeGreaterThan(0);
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
