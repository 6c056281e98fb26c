import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixturePath } from '../../test/fixtures.ts';
import { fixtureTask } from '../../test/tasks.ts';
import { acquireTestGpu } from '../../test/gpu.ts';
import { signTest } from '../../test/numeric.ts';
import { prepareRecipeData, type RecipeData } from '../cli/recipe-tasks.ts';
import type { GpuContext } from '../gpu/device.ts';
import { loadModel, type LoadedModel } from '../model/load.ts';
import type { LoraAdapter } from '../model/lora.ts';
import { parseRecipe } from '../train/recipe.ts';
import { evaluationShape } from '../train/run.ts';
import { Trainer } from '../train/trainer.ts';
import { ownTasks } from './assignment.ts';
import { evaluateRouter, type RouterEvaluation, type ScoreCache, type TaskRouting } from './evaluate.ts';
import { routerTrainingRequest } from './request.ts';
import { trainRouter, type Router } from './router.ts';

const TASKS = ['fpb', 'gsm8k', 'alpaca'];
/** Validation prompts scored per task: FPB's label-scored accuracy is cheap enough for more; the others generate. */
const EXAMPLES: Record<string, number> = { fpb: 50, gsm8k: 20, alpaca: 20 };
const MAX_NEW_TOKENS = 8;

const describeResult = (task: string, result: TaskRouting) =>
  `${task} (${result.metric}, ${result.examples} prompts, routed right ${result.routing_accuracy.toFixed(3)}): routed ${result.routed.toFixed(4)} oracle ${result.oracle.toFixed(4)} base ${result.base.toFixed(4)}; ` +
  `regret ${result.regret.toFixed(4)} [${result.regret_interval.map((end) => end.toFixed(4)).join(', ')}], ${result.regret_test.better} better / ${result.regret_test.worse} worse / ${result.regret_test.ties} ties, p ${result.regret_test.p_value.toPrecision(3)}`;

/**
 * Issue 15's "the routed metric is within noise of the oracle's", at a size where it can fail: per-task
 * LoRA adapters trained by the engine on aidreams260K (lora.layout per_task, as `cocktail train` trains
 * them), a balanced router with the defaults `router train` uses, and `router eval`'s evaluation over
 * tens of validation prompts per task. The control shows the test has teeth: the same router with a
 * confidence threshold of 1, so its fallback (the base model) answers every prompt, is more than noise
 * below the oracle on FPB, whose label-scored accuracy the FPB adapter really moves (it learns the
 * majority label, "neutral"; the base model mostly answers "positive"). The other adapters move FPB's
 * answers toward "neutral" too at this length of training, so a router that swaps adapters is not a
 * control that fails here (docs/router-format.md, "Routed against the oracle", has the numbers).
 */
describe('routed against the oracle on aidreams260K with trained per-task adapters, tens of prompts per task', { timeout: 900_000 }, () => {
  let dir: string;
  let data: RecipeData;
  let ctx: GpuContext;
  let model: LoadedModel;
  let adapters: Map<string, LoraAdapter>;
  let router: Router;
  let evaluation: RouterEvaluation;
  let control: RouterEvaluation;
  /** Prompts scored, by task and who answered, in the evaluation and then in the control. */
  const scored: Record<'evaluation' | 'control', Record<string, Record<string, number>>> = { evaluation: {}, control: {} };
  const cache: ScoreCache = new Map();
  /** CPU and wall time of each stage, then each task's figures. */
  const measured: string[] = [];

  const evaluate = async (which: Router, tasks: readonly string[], into: Record<string, Record<string, number>>): Promise<RouterEvaluation> => {
    const parts: RouterEvaluation[] = [];
    // router eval's options for a recipe whose eval_examples is the task's count (one call per count).
    for (const examples of [...new Set(tasks.map((task) => EXAMPLES[task]!))]) {
      const indices = data.tasks.flatMap((task, index) => (tasks.includes(task.name) && EXAMPLES[task.name] === examples ? [index] : []));
      parts.push(
        await evaluateRouter(ctx, model.gpu, model.tokenizer, which, adapters, undefined, indices.map((index) => ({ task: data.tasks[index]!, validation: data.examples![index]!.validation })), {
          examples,
          seed: data.recipe.seed,
          maxNewTokens: data.recipe.eval_max_new_tokens,
          shape: evaluationShape(data.recipe, data.tasks),
          cache,
          onScored: (task, answeredBy, prompts) => {
            into[task] ??= {};
            into[task][answeredBy] = (into[task][answeredBy] ?? 0) + prompts;
          },
        }),
      );
    }
    const right = parts.reduce((sum, part) => sum + Object.entries(part.tasks).reduce((inner, [, result]) => inner + result.routing_accuracy * result.examples, 0), 0);
    const total = parts.reduce((sum, part) => sum + Object.values(part.tasks).reduce((inner, result) => inner + result.examples, 0), 0);
    return { routing_accuracy: right / total, confusion: Object.assign({}, ...parts.map((part) => part.confusion)), tasks: Object.assign({}, ...parts.map((part) => part.tasks)) };
  };

  beforeAll(async () => {
    const cpu = () => (({ user, system }) => (user + system) / 1e6)(process.cpuUsage());
    const started = { cpu: cpu(), wall: performance.now() };
    const lap = (what: string) => measured.push(`${what}: ${(cpu() - started.cpu).toFixed(0)} s of CPU, ${((performance.now() - started.wall) / 1000).toFixed(0)} s`);
    dir = await mkdtemp(join(tmpdir(), 'cocktail-route-regret-'));
    const recipe = parseRecipe({
      model: { source: fixturePath('models/aidreams260K') },
      tasks: [
        // Validation fractions that leave enough examples after tokenization (long GSM8K answers are cut at 128 tokens and dropped).
        fixtureTask('fpb', { max_examples: 120, validation_fraction: 0.015 }),
        fixtureTask('gsm8k', { max_examples: 120, validation_fraction: 0.12 }),
        fixtureTask('alpaca', { max_examples: 120, validation_fraction: 0.055 }),
      ],
      mixture: { strategy: 'round_robin', per: 'batch' },
      lora: { r: 8, alpha: 16, dropout: 0, targets: ['q_proj', 'k_proj', 'v_proj', 'o_proj'], layout: 'per_task' },
      optimizer: { lr: 2e-2 },
      batch_size: 4,
      max_length: 128,
      // Eight steps per adapter (round robin by batch): FPB's adapter learns its majority label (with three or four it had not reliably).
      steps: 24,
      eval_max_new_tokens: MAX_NEW_TOKENS,
      seed: 3,
    });
    data = await prepareRecipeData(recipe, dir, { keepExamples: true });
    ctx = await acquireTestGpu();
    model = await loadModel(ctx, data.files);

    const trainer = await Trainer.create(ctx, model.gpu, data.tasks, data.recipe, { runId: 'regret-size' });
    try {
      while (!trainer.done) await trainer.trainStep();
      adapters = await trainer.adaptersNow();
    } finally {
      trainer.destroy();
    }
    lap('adapters trained');

    // The router `cocktail router train` builds by default: middle layer, mean pooling, linear head, balanced.
    const request = routerTrainingRequest(
      TASKS,
      ownTasks(TASKS),
      TASKS.map((name, index) => ({ name, train: data.examples![index]!.train })),
      { pooling: 'mean', input: 'typed', balance: 'balanced', seed: data.recipe.seed, policy: { topK: 1, threshold: 0, fallback: null }, baseModel: { name: 'aidreams260K', revision: null } },
      data.config,
    );
    router = (await trainRouter(ctx, model.gpu, model.tokenizer, request.experts, request.options)).router;
    lap('router trained');
    evaluation = await evaluate(router, TASKS, scored.evaluation);
    lap('router evaluated');
    // The same head with a threshold no prompt reaches: the base model, its fallback, answers every prompt.
    const fallingBack: Router = { ...router, policy: { topK: 1, threshold: 1, fallback: 'base' } };
    control = await evaluate(fallingBack, ['fpb'], scored.control);
    lap('control evaluated');
    for (const [task, result] of Object.entries(evaluation.tasks)) measured.push(`evaluation ${describeResult(task, result)}`);
    measured.push(`control ${describeResult('fpb', control.tasks.fpb!)}`);
  }, 900_000);
  afterAll(async () => {
    model?.gpu.destroy();
    ctx?.destroy();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('scores tens of validation prompts per task, each task with its own metric', async ({ annotate }) => {
    // The cost and the figures, kept with the test's report (docs/router-format.md quotes them) rather than printed in every run.
    for (const line of measured) await annotate(line);
    expect(Object.fromEntries(TASKS.map((task) => [task, evaluation.tasks[task]!.examples]))).toEqual(EXAMPLES);
    expect(Object.fromEntries(TASKS.map((task) => [task, evaluation.tasks[task]!.metric]))).toEqual({ fpb: 'accuracy', gsm8k: 'numeric_match', alpaca: 'rouge_l' });
    for (const task of TASKS) {
      const row = evaluation.confusion[task]!;
      expect(Object.values(row).reduce((sum, n) => sum + n, 0)).toBe(EXAMPLES[task]);
      expect(evaluation.tasks[task]!.routing_accuracy).toBe((row[task] ?? 0) / EXAMPLES[task]!);
    }
  });

  it('per task, the routed metric is within noise of the oracle’s: the exact sign test does not reject at 5%', () => {
    for (const task of TASKS) {
      const result = evaluation.tasks[task]!;
      const { better, worse, ties, p_value: p, within_noise: withinNoise } = result.regret_test;
      const misrouted = result.examples - (evaluation.confusion[task]![task] ?? 0);
      expect(better + worse + ties).toBe(result.examples);
      // Only a prompt routed away from its task's adapter can score otherwise than the oracle.
      expect(better + worse).toBeLessThanOrEqual(misrouted);
      expect(p).toBeCloseTo(signTest(better, worse), 12);
      expect(result.regret).toBeCloseTo(result.metric === 'loss' ? result.routed - result.oracle : result.oracle - result.routed, 12);
      expect(result.regret_interval[0]).toBeLessThanOrEqual(result.regret + 1e-12);
      expect(result.regret_interval[1]).toBeGreaterThanOrEqual(result.regret - 1e-12);
      expect(withinNoise, describeResult(task, result)).toBe(true);
      expect(p, describeResult(task, result)).toBeGreaterThanOrEqual(0.05);
    }
  });

  it('the control can fail: with the base model answering every prompt, FPB’s routed accuracy is more than noise below the oracle’s', () => {
    const fpb = control.tasks.fpb!;
    expect(control.confusion.fpb).toEqual({ base: EXAMPLES.fpb });
    expect(fpb.routing_accuracy).toBe(0);
    // The oracle and the base model are the same prompts answered the same way in both evaluations; routed is base.
    expect(fpb.oracle).toBe(evaluation.tasks.fpb!.oracle);
    expect(fpb.base).toBe(evaluation.tasks.fpb!.base);
    expect(fpb.routed).toBe(fpb.base);
    const { better, worse, ties, p_value: p, within_noise: withinNoise } = fpb.regret_test;
    expect(better + worse + ties).toBe(EXAMPLES.fpb);
    expect(p).toBeCloseTo(signTest(better, worse), 12);
    expect(worse, describeResult('fpb', fpb)).toBeGreaterThan(better);
    expect(p, describeResult('fpb', fpb)).toBeLessThan(0.05);
    expect(withinNoise).toBe(false);
    expect(fpb.regret).toBeCloseTo(fpb.oracle - fpb.base, 12);
    expect(fpb.regret).toBeGreaterThan(0);
    expect(fpb.regret_interval[0], describeResult('fpb', fpb)).toBeGreaterThan(0);
  });

  it('answers each prompt at most once per expert: prompts routed to their own adapter take the oracle’s scores, and a second router over the same experts reuses them all', () => {
    for (const task of TASKS) {
      const n = EXAMPLES[task]!;
      const row = evaluation.confusion[task]!;
      const misrouted = Object.fromEntries(Object.entries(row).filter(([expert]) => expert !== task));
      // The oracle and base answer every prompt once; routed answers are run only for prompts sent elsewhere.
      expect(scored.evaluation[task], task).toEqual({ [task]: n, base: n, ...misrouted });
    }
    // The control's answers (the oracle's and base's, which is also every routed answer) all come from the cache.
    expect(scored.control).toEqual({});
  });
});
