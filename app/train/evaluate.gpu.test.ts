import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixtureOnGpu } from '../../test/model.ts';
import { GEMMA3_TINY, randomModel } from '../../test/random-model.ts';
import type { TokenizedExample } from '../data/tokenize/types.ts';
import type { GpuContext } from '../gpu/device.ts';
import type { GpuModel } from '../model/gpu-model.ts';
import { referenceLoss, type ReferenceWeights } from '../model/reference.ts';
import type { TextTokenizer } from '../model/tokenizer.ts';
import { Evaluator, type CandidateScore } from './evaluate.ts';
import { prepareTasks } from './prepare.ts';
import { FPB_TASK, openRecipeFile, testRecipe } from './prepare/test-support.ts';
import type { PreparedTask, ValidationPrompt } from './task-data.ts';

let ctx: GpuContext;
let model: GpuModel;
let reference: ReferenceWeights;
let tokenizer: TextTokenizer;
beforeAll(async () => {
  ({ ctx, model, reference, tokenizer } = await fixtureOnGpu());
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

    // Each prompt's three candidates are one tree (eval-tree-packing.ts): the prompt but its last token once,
    // then branches of 2, 3 and 4 tokens, 10 to 14 tokens a tree, one to a row of 16: 6 rows, 3 forwards of
    // B = 2 (as 18 separate sequences they took 8 rows, 4 forwards); one prompt at a time needs 6.
    expect(singleForwards).toBe(prompts.length);
    expect(batchedForwards).toBeLessThan(singleForwards);
    expect(batchedForwards).toBe(3);
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
    // Four examples of 3-5 tokens: the loss pass packs them into 2 rows of 16, one forward of B = 2; the 4 candidate trees of 7 to 10 tokens take 3 rows, 2 forwards.
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

/** Every candidate's score under both layouts agree: the same token count, the summed loss to 1e-4 relative. */
function expectSameScores(tree: CandidateScore[][], sequences: CandidateScore[][]): void {
  expect(tree.map((row) => row.length)).toEqual(sequences.map((row) => row.length));
  tree.forEach((row, i) =>
    row.forEach(({ lossSum, tokens }, j) => {
      const alone = sequences[i]![j]!;
      expect(tokens).toBe(alone.tokens);
      expect(tokens).toBeGreaterThan(0);
      expect(Math.abs(lossSum - alone.lossSum)).toBeLessThan(1e-4 * Math.max(1, Math.abs(alone.lossSum)));
    }),
  );
}

/** The shared prefix a prompt's candidates have as a tree, counted here: their common ids, stopping before the position that predicts the first scored token. */
function sharedLength(candidates: readonly { ids: Int32Array; scoreFrom: number }[]): number {
  let shared = Math.min(...candidates.map(({ scoreFrom }) => scoreFrom - 1));
  while (shared > 0 && candidates.some(({ ids }) => ids.slice(0, shared).some((id, t) => id !== candidates[0]!.ids[t]))) shared--;
  return shared;
}

describe('label candidates as trees: the prompt computed once, each candidate a branch', { timeout: 240_000 }, () => {
  let fpbPrompts: ValidationPrompt[];
  let fpbWords: readonly string[];
  beforeAll(async () => {
    const prepared = await prepareTasks(testRecipe([{ ...FPB_TASK, validation_fraction: 0.05, max_examples: 20 }]), { tokenizer, openFile: openRecipeFile });
    const fpb = prepared.tasks[0]!;
    fpbPrompts = fpb.validationPrompts.slice(0, 6);
    fpbWords = fpb.labelWords!;
  }, 120_000);

  it('gives every FPB candidate from preparation the score it has as its own sequence, in fewer tokens and forwards', async () => {
    expect(fpbPrompts).toHaveLength(6);
    expect(fpbWords).toHaveLength(3);
    const evaluator = new Evaluator(ctx, model, tokenizer, { B: 2, T: 256 }, 0);
    const tree = await evaluator.labelScores(fpbPrompts, fpbWords, undefined);
    const treeRun = { forwards: evaluator.forwards, tokens: evaluator.tokens };
    const sequences = await evaluator.labelScores(fpbPrompts, fpbWords, undefined, undefined, undefined, 'sequences');
    const sequenceRun = { forwards: evaluator.forwards - treeRun.forwards, tokens: evaluator.tokens - treeRun.tokens };
    evaluator.destroy();

    expectSameScores(tree, sequences);
    // Tokens of forward, counted from the candidates: each once alone; as trees, the shared prefix once per prompt.
    const candidates = fpbPrompts.map((prompt) => prompt.candidates!);
    const alone = candidates.flat().reduce((sum, { ids }) => sum + ids.length, 0);
    const asTrees = candidates.reduce((sum, group) => {
      const shared = sharedLength(group);
      return sum + shared + group.reduce((branches, { ids }) => branches + ids.length - shared, 0);
    }, 0);
    expect(sequenceRun.tokens).toBe(alone);
    expect(treeRun.tokens).toBe(asTrees);
    expect(asTrees).toBeLessThan(alone / 2);
    expect(treeRun.forwards).toBeLessThan(sequenceRun.forwards);
  });

  it('gives every FPB label word after the bare prompt (no candidates from preparation) the score it has alone, in fewer tokens', async () => {
    const bare = fpbPrompts.map(({ promptIds, expected }) => ({ promptIds, expected }));
    const evaluator = new Evaluator(ctx, model, tokenizer, { B: 2, T: 256 }, 0);
    const tree = await evaluator.labelScores(bare, fpbWords, undefined);
    const treeTokens = evaluator.tokens;
    const sequences = await evaluator.labelScores(bare, fpbWords, undefined, undefined, undefined, 'sequences');
    const sequenceTokens = evaluator.tokens - treeTokens;
    evaluator.destroy();

    expectSameScores(tree, sequences);
    // Every word follows its whole prompt, so a tree computes the prompt but its last token once instead of once per word.
    const saved = bare.reduce((sum, { promptIds }) => sum + (fpbWords.length - 1) * (promptIds.length - 1), 0);
    expect(sequenceTokens - treeTokens).toBe(saved);
  });

  it('falls back to one sequence per candidate where a tree is longer than the smallest sliding window, and still matches the Float64 reference', async () => {
    // Gemma 3 with a sliding layer of 12 positions: a tree of 11 tokens is exact, longer ones would see past the window by index.
    const gemma = await randomModel(ctx, { ...GEMMA3_TINY, sliding_window: 12 }, 'f32', 5);
    const words = [[20], [21, 22], [23, 24, 25]];
    const prompts = [
      [1, 5, 9], // a tree of 2 + 2 + 3 + 4 = 11 tokens: within the window
      [1, 5, 9, 30, 31, 32, 33], // a tree of 6 + 9 = 15: past it, each candidate (8 to 10 tokens) alone is not
      [1, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52], // candidates of 15 to 17 tokens: the window cuts each
    ];
    const validationPrompts = prompts.map((prompt) => ({
      promptIds: Int32Array.from(prompt),
      expected: 'w0',
      candidates: words.map((word) => ({ ids: Int32Array.from([...prompt, ...word]), scoreFrom: prompt.length })),
    }));
    const labels = ['w0', 'w1', 'w2'];
    const evaluator = new Evaluator(ctx, gemma.gpu, tokenizer, { B: 2, T: 32 }, 0);
    const tree = await evaluator.labelScores(validationPrompts, labels, undefined);
    const treeTokens = evaluator.tokens;
    const sequences = await evaluator.labelScores(validationPrompts, labels, undefined, undefined, undefined, 'sequences');
    const sequenceTokens = evaluator.tokens - treeTokens;
    evaluator.destroy();
    gemma.gpu.destroy();

    expectSameScores(tree, sequences);
    const alone = (prompt: number[]) => words.reduce((sum, word) => sum + prompt.length + word.length, 0);
    expect(sequenceTokens).toBe(prompts.reduce((sum, prompt) => sum + alone(prompt), 0));
    // Only the first prompt is a tree.
    expect(treeTokens).toBe(11 + alone(prompts[1]!) + alone(prompts[2]!));
    prompts.forEach((prompt, i) =>
      words.forEach((word, j) => {
        const ids = [...prompt, ...word];
        const targets = ids.map((_, t) => (t + 1 < ids.length && t + 1 >= prompt.length ? ids[t + 1]! : -100));
        const expected = referenceLoss(gemma.reference, ids, targets) * word.length;
        expect(Math.abs(tree[i]![j]!.lossSum - expected)).toBeLessThan(1e-4 * Math.max(1, expected));
      }),
    );
  });
});
