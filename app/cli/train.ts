import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { acquireNodeGpu } from '../gpu/node-gpu.ts';
import { openFileStorage } from '../store/fs.ts';
import type { Recipe } from '../train/recipe.ts';
import { runRecipe } from '../train/run.ts';
import { ADAPTER_CONFIG, ADAPTER_WEIGHTS } from '../train/peft.ts';
import { parseOptions } from './args.ts';
import { gpuMemory } from './plan.ts';
import { readRecipe, recipeEnvironment } from './recipe-env.ts';
import { withSteps } from './recipe-tasks.ts';

export const TRAIN_USAGE = 'cocktail train --recipe <recipe.json> [--steps N] [--init-adapter <peft dir|zip>] [--run-id ID] [--out <dir>] [--resume] [--gpu-memory BYTES] [--json]';

export async function trainCommand(args: string[]): Promise<number> {
  const options = parseOptions('train', args, { recipe: 'string', steps: 'integer', 'init-adapter': 'string', 'run-id': 'string', out: 'string', resume: 'flag', 'gpu-memory': 'integer', json: 'flag' }, ['recipe']);
  const read = await readRecipe(options.recipe!);
  const { recipePath, recipeDir } = read;
  const recipe = withInitAdapter(withSteps(read.recipe, options.steps), options['init-adapter']);
  const runId = options['run-id'] ?? basename(recipePath).replace(/\.json$/, '');
  const out = resolve(options.out ?? join('runs', runId));
  const json = options.json === true;
  // Every event also goes to <out>/metrics.jsonl (appended on --resume): steps, evaluations, mixture changes, best.
  const metricsPath = join(out, 'metrics.jsonl');
  mkdirSync(out, { recursive: true });
  if (options.resume !== true) writeFileSync(metricsPath, '');
  const emit = (event: Record<string, unknown>, line: string) => {
    appendFileSync(metricsPath, `${JSON.stringify(event)}\n`);
    console.log(json ? JSON.stringify(event) : line);
  };

  const ctx = await acquireNodeGpu({ label: 'cocktail train' });
  const storage = await openFileStorage(join(out, 'state'));
  // Ctrl-C pauses: the run checkpoints and `--resume` continues from that exact step.
  const controller = new AbortController();
  process.once('SIGINT', () => controller.abort('pause'));
  const result = await runRecipe(
    recipe,
    runId,
    recipeEnvironment(recipeDir, ctx, storage, json, gpuMemory(options['gpu-memory'])),
    {
      onStage: (stage) => emit({ event: 'stage', stage }, `· ${stage}`),
      onPrepared: (reports) => {
        for (const report of reports) {
          emit({ event: 'task', task: report.task, rows: report.rows, dropped: report.droppedRows, train: report.split.train, validation: report.split.validation }, `  ${report.task}: ${report.rows} rows, ${report.droppedRows} dropped, ${report.split.train} train / ${report.split.validation} validation`);
        }
      },
      onStep: (step) => {
        const tasks = step.taskLosses.map((loss, i) => (loss === null ? '' : ` ${recipe.tasks[i]!.name} ${loss.toFixed(3)}`)).join('');
        emit({ event: 'step', ...step }, `step ${step.step}/${step.totalSteps} loss ${step.loss.toFixed(4)}${tasks} lr ${step.lr.toExponential(2)} |g| ${step.gradNorm.toFixed(3)}${step.skipped ? ' SKIPPED (non-finite)' : ''} ${Math.round(step.tokensPerSecond)} tok/s eta ${Math.round(step.etaSeconds)} s`);
      },
      onEval: (evaluation) => {
        for (const task of evaluation.tasks) emit({ event: 'eval', step: evaluation.step, ...task }, `  eval ${task.task}: loss ${task.loss.toFixed(4)} ${task.metric} ${task.score.toFixed(4)}`);
      },
      onMixture: (mixture) => {
        const shares = mixture.taskNames.map((name, i) => `${name} ${mixture.probabilities[i]!.toFixed(3)}`).join(', ');
        const reasons = mixture.reasons.map((reason) => `\n    ${reason.task}: ${reason.reason}`).join('');
        emit({ event: 'mixture', ...mixture }, `  mixture at step ${mixture.step}: ${shares}${reasons}`);
      },
      onBest: (best) => emit({ event: 'best', ...best }, `  best so far: step ${best.step} (validation ${best.by} ${best.score.toFixed(4)})`),
      onEarlyStop: (stop) => emit({ event: 'early_stop', ...stop }, `stopped early at step ${stop.step}: ${stop.reason}`),
    },
    { signal: controller.signal, resume: options.resume === true },
  );
  for (const [name, files] of result.adapters) {
    const dir = join(out, result.adapters.size === 1 ? 'adapter' : `adapter-${name}`);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, ADAPTER_CONFIG), files.config);
    await writeFile(join(dir, ADAPTER_WEIGHTS), new Uint8Array(await files.weights.arrayBuffer()));
    emit({ event: 'adapter', name, dir }, `wrote ${dir}`);
  }
  if (result.best) emit({ event: 'best_adapter', ...result.best }, `the adapter${result.adapters.size === 1 ? ' is' : 's are'} the best evaluation's, from step ${result.best.step} (score ${result.best.score.toFixed(4)})`);
  if (result.status === 'paused') emit({ event: 'paused', step: result.step }, `paused at step ${result.step}; continue with --resume`);
  ctx.destroy();
  return 0;
}

/** `--init-adapter DIR` is the recipe's lora.init_from, given from the current folder rather than the recipe's. */
function withInitAdapter(recipe: Recipe, path: string | undefined): Recipe {
  return path === undefined ? recipe : { ...recipe, lora: { ...recipe.lora, init_from: resolve(path) } };
}
