import { appendFileSync, existsSync, writeFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { CocktailError } from '../errors.ts';
import { acquireNodeGpu } from '../gpu/node-gpu.ts';
import { openFileStorage } from '../store/fs.ts';
import { ADAPTER_CONFIG, ADAPTER_WEIGHTS, type PeftFiles } from '../train/peft.ts';
import type { Recipe } from '../train/recipe.ts';
import { RunFailedError, runRecipe } from '../train/run.ts';
import { parseOptions } from './args.ts';
import { gpuMemory } from './plan.ts';
import { evalJson, evalLine } from './eval-report.ts';
import { readRecipe, recipeEnvironment } from './recipe-env.ts';
import { withSteps } from './recipe-tasks.ts';
import { lockRunFolder, prepareRunFolder, type RunFolderIntent } from './run-folder.ts';
import { everyInterval } from '../util/every-interval.ts';
import type { PrepareProgress, TaskPreparationReport } from '../train/prepare.ts';

const PREPARE_PROGRESS_INTERVAL_MS = 1000;

/** `import 12.0 of 50.0 MiB`, `map 4096 of 121348 rows`, `tokenize 50 of 114 examples`. */
function describePrepareProgress({ stage, done, total }: PrepareProgress): string {
  if (stage === 'import') return `import ${(done / 2 ** 20).toFixed(1)} of ${(total / 2 ** 20).toFixed(1)} MiB`;
  return `${stage} ${done} of ${total} ${stage === 'map' ? 'rows' : 'examples'}`;
}

export const TRAIN_USAGE =
  'cocktail train --recipe <recipe.json> [--steps N] [--init-adapter <peft dir|zip>] [--run-id ID] [--out <dir>] [--resume | --restart] [--gpu-memory BYTES] [--json]';

type Emit = (event: Record<string, unknown>, line: string) => void;

const metricsPath = (out: string) => join(out, 'metrics.jsonl');

interface TrainSettings {
  recipe: Recipe;
  recipeDir: string;
  runId: string;
  out: string;
  intent: RunFolderIntent;
  gpuMemory: number | undefined;
  json: boolean;
  emit: Emit;
}

export async function trainCommand(args: string[]): Promise<number> {
  const options = parseOptions(
    'train',
    args,
    { recipe: 'string', steps: 'integer', 'init-adapter': 'string', 'run-id': 'string', out: 'string', resume: 'flag', restart: 'flag', 'gpu-memory': 'integer', json: 'flag' },
    ['recipe'],
  );
  if (options.resume && options.restart) throw new CocktailError('BAD_ARGUMENT', 'give --resume (continue the run) or --restart (start it over), not both');
  const read = await readRecipe(options.recipe!);
  const { recipePath, recipeDir } = read;
  const recipe = withInitAdapter(withSteps(read.recipe, options.steps), options['init-adapter']);
  const runId = options['run-id'] ?? basename(recipePath).replace(/\.json$/, '');
  const out = resolve(options.out ?? join('runs', runId));
  const json = options.json === true;
  // Every event also goes to <out>/metrics.jsonl (appended on --resume): steps, evaluations, mixture changes, best.
  const metrics = metricsPath(out);
  const emit: Emit = (event, line) => {
    if (existsSync(metrics)) appendFileSync(metrics, `${JSON.stringify(event)}\n`);
    console.log(json ? JSON.stringify(event) : line);
  };
  const intent: RunFolderIntent = options.resume ? 'resume' : options.restart ? 'restart' : 'new';

  // One process per run folder: a second one is refused before it reads or writes anything there.
  const unlock = await lockRunFolder(out);
  try {
    return await trainInFolder({ recipe, recipeDir, runId, out, intent, gpuMemory: options['gpu-memory'], json, emit });
  } finally {
    await unlock();
  }
}

async function trainInFolder({ recipe, recipeDir, runId, out, intent, gpuMemory: memory, json, emit }: TrainSettings): Promise<number> {
  const storage = await openFileStorage(join(out, 'state'));
  await prepareRunFolder(out, storage, runId, intent);
  // Only now that the folder is this run's (locked, and new, resumed or restarted on purpose) is its metrics file started.
  if (intent !== 'resume' || !existsSync(metricsPath(out))) writeFileSync(metricsPath(out), '');
  const ctx = await acquireNodeGpu({ label: 'cocktail train' });
  // Ctrl-C pauses: the run checkpoints and `--resume` continues from that exact step.
  const controller = new AbortController();
  process.once('SIGINT', () => controller.abort('pause'));
  try {
    const result = await runRecipe(
      recipe,
      runId,
      recipeEnvironment(recipeDir, ctx, storage, json, gpuMemory(memory)),
      {
        onStage: (stage) => emit({ event: 'stage', stage }, `· ${stage}`),
        onNotice: (message) => emit({ event: 'notice', message }, `note: ${message}`),
        // A large file takes a while to read, map and tokenize: say how far it is, once a second.
        onPrepare: everyInterval(PREPARE_PROGRESS_INTERVAL_MS, (progress) => emit({ event: 'prepare', ...progress }, `  ${progress.task}: ${describePrepareProgress(progress)}`)),
        onPrepared: (reports) => {
          for (const report of reports) {
            // The longest training example as trained, and how many were cut to max_length: what a run really sees of long rows.
            const { maxTokens, truncatedExamples } = report.statistics;
            emit(
              { event: 'task', task: report.task, rows: report.rows, dropped: report.droppedRows, train: report.split.train, validation: report.split.validation, maxTokens, truncated: truncatedExamples },
              `  ${report.task}: ${report.rows} rows, ${report.droppedRows} dropped, ${report.split.train} train / ${report.split.validation} validation; longest ${maxTokens} tokens, ${truncatedExamples} cut to max_length`,
            );
            emitDroppedRows(report, emit);
          }
        },
        onCheckpointRefused: (refused) => emit({ event: 'checkpoint_refused', ...refused }, `  refused checkpoint ${refused.location}: ${refused.reason}; trying the one before`),
        onStep: (step) => {
          const tasks = step.taskLosses.map((loss, i) => (loss === null ? '' : ` ${recipe.tasks[i]!.name} ${loss.toFixed(3)}`)).join('');
          emit({ event: 'step', ...step }, `step ${step.step}/${step.totalSteps} loss ${step.loss.toFixed(4)}${tasks} lr ${step.lr.toExponential(2)} |g| ${step.gradNorm.toFixed(3)}${step.skipped ? ' SKIPPED (non-finite)' : ''} ${Math.round(step.tokensPerSecond)} tok/s eta ${Math.round(step.etaSeconds)} s`);
        },
        onEval: (evaluation) => {
          for (const task of evaluation.tasks) emit({ event: 'eval', step: evaluation.step, ...evalJson(task) }, `  eval ${evalLine(task)}`);
        },
        onMixture: (mixture) => {
          const shares = mixture.taskNames.map((name, i) => `${name} ${mixture.probabilities[i]!.toFixed(3)}`).join(', ');
          const reasons = mixture.reasons.map((reason) => `\n    ${reason.task}: ${reason.reason}`).join('');
          emit({ event: 'mixture', ...mixture }, `  mixture at step ${mixture.step}: ${shares}${reasons}`);
        },
        onBest: (best) => emit({ event: 'best', ...best }, `  best so far: step ${best.step} (validation ${best.by} ${best.score.toFixed(4)})`),
        onEarlyStop: (stop) => emit({ event: 'early_stop', ...stop }, `stopped early at step ${stop.step}: ${stop.reason}`),
      },
      { signal: controller.signal, resume: intent === 'resume' },
    );
    await writeAdapters(out, result.adapters, emit);
    if (result.best) emit({ event: 'best_adapter', ...result.best }, `the adapter${result.adapters.size === 1 ? ' is' : 's are'} the best evaluation's, from step ${result.best.step} (score ${result.best.score.toFixed(4)})`);
    if (result.status === 'paused') emit({ event: 'paused', step: result.step }, `paused at step ${result.step}; continue with --resume`);
    return 0;
  } catch (error) {
    // A run that failed after training kept its last good adapters: they are written before the error is reported.
    if (error instanceof RunFailedError) await writeAdapters(out, error.adapters, emit);
    throw error;
  } finally {
    ctx.destroy();
  }
}

async function writeAdapters(out: string, adapters: Map<string, PeftFiles>, emit: Emit): Promise<void> {
  for (const [name, files] of adapters) {
    const dir = join(out, adapters.size === 1 ? 'adapter' : `adapter-${name}`);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, ADAPTER_CONFIG), files.config);
    await writeFile(join(dir, ADAPTER_WEIGHTS), new Uint8Array(await files.weights.arrayBuffer()));
    emit({ event: 'adapter', name, dir }, `wrote ${dir}`);
  }
}

/** Which rows of each source were dropped, by kind of problem, with their lines and the first messages. */
function emitDroppedRows(report: TaskPreparationReport, emit: Emit): void {
  for (const source of report.sources) {
    if (source.droppedRows === 0) continue;
    for (const kind of source.validation.kinds.filter((k) => k.severity === 'error')) {
      const where = kind.lines.length > 0 ? `lines ${kind.lines.join(', ')}` : `rows ${kind.rows.join(', ')}`;
      const more = kind.count - Math.max(kind.lines.length, kind.rows.length);
      emit(
        { event: 'dropped', task: report.task, file: source.file, code: kind.code, count: kind.count, lines: kind.lines, rows: kind.rows, messages: kind.messages, hint: kind.hint },
        `    dropped ${kind.count} row(s) of ${source.file} for ${kind.code} at ${where}${more > 0 ? ` and ${more} more` : ''}: ${kind.hint}\n${kind.messages.map((m) => `      ${m}`).join('\n')}`,
      );
    }
  }
}

/** `--init-adapter DIR` is the recipe's lora.init_from, given from the current folder rather than the recipe's. */
function withInitAdapter(recipe: Recipe, path: string | undefined): Recipe {
  return path === undefined ? recipe : { ...recipe, lora: { ...recipe.lora, init_from: resolve(path) } };
}
