/**
 * `cocktail mix`: the order in which a recipe's run draws its tasks, from the trainer's own sampler,
 * with the counts per task and each task's probability at each step, so a schedule can be checked
 * (or handed to another engine) without training.
 */
import { drawRun } from '../mix/run-draws.ts';
import { mixConfig, optimizerSteps } from '../train/mixture.ts';
import { parseOptions } from './args.ts';
import { prepareRecipeData, withSteps } from './recipe-tasks.ts';
import { readRecipe } from './recipe-env.ts';

export const MIX_USAGE = 'cocktail mix --recipe <recipe.json> [--steps N] [--json]';

export async function mixCommand(args: string[]): Promise<number> {
  const options = parseOptions('mix', args, { recipe: 'string', steps: 'integer', json: 'flag' }, ['recipe']);
  const read = await readRecipe(options.recipe!);
  const { tasks, recipe, contextNotice } = await prepareRecipeData(withSteps(read.recipe, options.steps), read.recipeDir);
  // On stderr, so that --json's line stays the only one on stdout.
  if (contextNotice) console.error(contextNotice);
  const steps = optimizerSteps(recipe, tasks);
  const config = mixConfig(recipe, tasks, steps);
  const run = drawRun(config);
  const sequence = run.steps.flatMap((draws) => draws.map((draw) => draw.task));
  const counts = tasks.map((_, index) => sequence.filter((task) => task === index).length);
  if (options.json) {
    console.log(
      JSON.stringify({
        tasks: tasks.map((task) => ({ name: task.name, role: task.role, examples: task.train.length })),
        optimizerSteps: steps,
        samplerSteps: config.totalSteps,
        batchSize: config.batchSize,
        sequence,
        rows: run.steps.flatMap((draws) => draws.map((draw) => draw.row)),
        counts,
        expected: run.probabilities,
      }),
    );
    return 0;
  }
  console.log(`${steps} optimizer steps × ${recipe.grad_accum} micro-batches × ${recipe.batch_size} examples = ${sequence.length} draws`);
  const expectedShare = tasks.map((_, index) => run.probabilities.reduce((sum, p) => sum + p[index]!, 0) / run.probabilities.length);
  tasks.forEach((task, index) => {
    console.log(`  ${task.name.padEnd(20)} ${String(counts[index]).padStart(8)} draws (${((100 * counts[index]!) / sequence.length).toFixed(1)}%), expected ${(100 * expectedShare[index]!).toFixed(1)}%`);
  });
  return 0;
}
