import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { CocktailError } from '../errors.ts';
import { DEFAULT_SEEDS, DESIGNS, validateExperiment, type BudgetRule, type DesignName, type ExperimentSpec } from '../experiment/design.ts';
import { resultsCsv, resultsJson } from '../experiment/export.ts';
import { runExperiment } from '../experiment/runner.ts';
import { acquireNodeGpu } from '../gpu/node-gpu.ts';
import { openFileStorage } from '../store/fs.ts';
import { ADAPTER_CONFIG, ADAPTER_WEIGHTS } from '../train/peft.ts';
import { parseOptions } from './args.ts';
import { readRecipe, recipeEnvironment } from './recipe-env.ts';

export const EXPERIMENT_USAGE =
  'cocktail experiment --recipe R --design single,all,leave-one-out,pairs,incremental,greedy,custom --targets a,b [--order x,y,z] [--sets a+b,a+c] [--seeds N] [--budget steps|target-examples] --out DIR [--resume] [--json]';

const list = (value: string | undefined) => (value ?? '').split(',').map((item) => item.trim()).filter(Boolean);

/** The experiment the arguments describe; every problem is refused here, before anything loads. */
export function experimentSpecOf(recipe: ExperimentSpec['recipe'], options: { design?: string; targets?: string; order?: string; seeds?: number; budget?: string; sets?: string }): ExperimentSpec {
  const designs = list(options.design);
  for (const design of designs) {
    if (!(DESIGNS as readonly string[]).includes(design)) throw new CocktailError('BAD_ARGUMENT', `--design "${design}" is not one of ${DESIGNS.join(', ')}`);
  }
  // --sets a+b,a+c: the custom design's task sets, each a +-joined list of tasks.
  const custom = list(options.sets).map((set) => set.split('+').map((task) => task.trim()).filter(Boolean));
  if (designs.includes('custom') && custom.length === 0) throw new CocktailError('BAD_ARGUMENT', '--design custom needs its task sets: --sets a+b,a+c (each set joins task names with +)');
  if (!designs.includes('custom') && custom.length > 0) throw new CocktailError('BAD_ARGUMENT', '--sets gives the custom design its task sets: add custom to --design');
  const budget = options.budget ?? 'steps';
  if (budget !== 'steps' && budget !== 'target-examples') throw new CocktailError('BAD_ARGUMENT', `--budget must be "steps" or "target-examples", got "${budget}"`);
  const order = list(options.order);
  const spec: ExperimentSpec = { recipe, targets: list(options.targets), designs: designs as DesignName[], seeds: options.seeds ?? DEFAULT_SEEDS, budget: budget as BudgetRule, ...(order.length > 0 ? { order } : {}), ...(custom.length > 0 ? { custom } : {}) };
  validateExperiment(spec);
  return spec;
}

export async function experimentCommand(args: string[]): Promise<number> {
  const options = parseOptions('experiment', args, { recipe: 'string', design: 'string', targets: 'string', order: 'string', sets: 'string', seeds: 'integer', budget: 'string', out: 'string', resume: 'flag', json: 'flag' }, ['recipe', 'design', 'targets', 'out']);
  const { recipe, recipeDir } = await readRecipe(options.recipe!);
  const spec = experimentSpecOf(recipe, options);
  const out = resolve(options.out!);
  const json = options.json === true;
  const log = (line: string) => (json ? console.error(line) : console.log(line));

  const ctx = await acquireNodeGpu({ label: 'cocktail experiment' });
  const storage = await openFileStorage(join(out, 'state'));
  // Ctrl-C pauses: the arm in progress checkpoints and `--resume` continues from that exact step.
  const controller = new AbortController();
  process.once('SIGINT', () => controller.abort('pause'));
  const outcome = await runExperiment(
    spec,
    'experiment',
    recipeEnvironment(recipeDir, ctx, storage, json),
    {
      onPlan: (plan) => log(`${plan.arms.length} arms × ${plan.seeds.length} seeds = ${plan.runs} runs, ${plan.steps} steps (${plan.arms.map((arm) => `${arm.id}: ${arm.steps}`).join(', ')})`),
      onArmStart: (arm, seed, run, runs) => log(`· arm ${arm}, seed ${seed} (${run}/${runs})`),
      onStep: (p) => {
        if (p.step === p.totalSteps || p.step % 10 === 0) log(`  step ${p.step}/${p.totalSteps} loss ${p.loss.toFixed(4)} ${Math.round(p.tokensPerSecond)} tok/s, eta arm ${Math.round(p.armEtaSeconds)} s, experiment ${Math.round(p.etaSeconds)} s`);
      },
      onArmDone: async (record, history, adapter) => {
        const armDir = join(out, 'arms', record.arm, `seed-${record.seed}`);
        await mkdir(join(armDir, 'adapter'), { recursive: true });
        await writeFile(join(armDir, 'metrics.jsonl'), history.map((step) => JSON.stringify(step)).join('\n') + '\n');
        if (adapter) {
          await writeFile(join(armDir, 'adapter', ADAPTER_CONFIG), adapter.config);
          await writeFile(join(armDir, 'adapter', ADAPTER_WEIGHTS), new Uint8Array(await adapter.weights.arrayBuffer()));
        }
        log(`  done ${record.arm} seed ${record.seed}: ${Object.entries(record.evaluations).map(([task, e]) => `${task} ${e.metric} ${(e.scores.reduce((a, b) => a + b, 0) / e.scores.length).toFixed(4)}`).join(', ')}`);
      },
      onGreedyStage: (stage) => log(`  greedy: ${stage.added ? `add ${stage.added}` : 'stop (no addition improves the targets beyond its interval)'}`),
      onWarning: (message) => console.error(`warning: ${message}`),
    },
    { signal: controller.signal, resume: options.resume === true },
  );
  ctx.destroy();
  const report = resultsJson(spec, outcome.results, outcome.timing);
  await writeFile(join(out, 'results.json'), JSON.stringify(report, null, 2));
  await writeFile(join(out, 'results.csv'), resultsCsv(outcome.results));
  if (outcome.status === 'paused') log(`paused; continue with --resume (${outcome.records.length} arm runs finished)`);
  else log(`recommended: ${outcome.results.recommended?.tasks.join(' + ') ?? '(no arm trains every target)'}; results in ${out}`);
  if (json) console.log(JSON.stringify(report));
  return 0;
}
