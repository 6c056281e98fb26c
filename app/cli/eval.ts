import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { acquireNodeGpu } from '../gpu/node-gpu.ts';
import { openFileStorage } from '../store/fs.ts';
import { checkAdapterBaseModel } from '../train/peft-layout.ts';
import { evaluateRecipe } from '../train/run.ts';
import { parseOptions } from './args.ts';
import { evalJson, evalLine } from './eval-report.ts';
import { readPeftAdapter } from './peft-files.ts';
import { readRecipe, recipeEnvironment } from './recipe-env.ts';

export const EVAL_USAGE = 'cocktail eval --recipe <recipe.json> [--adapter <peft dir|zip>] [--json]';

/** Evaluates a recipe's tasks with a PEFT adapter (or the base model without one), no training. */
export async function evalCommand(args: string[]): Promise<number> {
  const options = parseOptions('eval', args, { recipe: 'string', adapter: 'string', json: 'flag' }, ['recipe']);
  const { recipe, recipeDir } = await readRecipe(options.recipe!);
  const json = options.json === true;
  const adapter = options.adapter ? await readPeftAdapter(resolve(options.adapter)) : undefined;
  // A model given as a local folder names no Hub model to compare with; its shapes are still checked.
  if (adapter && !existsSync(resolve(recipeDir, recipe.model.source))) checkAdapterBaseModel(adapter.config, recipe.model.source, options.adapter!);
  const ctx = await acquireNodeGpu({ label: 'cocktail eval' });
  // Tokenized tasks are cached beside other CLI state so repeated evaluations skip tokenization.
  const storage = await openFileStorage(join(process.env.COCKTAIL_CACHE ?? join(tmpdir(), 'cocktail-studio'), 'eval'));
  const notice = (message: string) => (json ? console.log(JSON.stringify({ event: 'notice', message })) : console.error(`note: ${message}`));
  const result = await evaluateRecipe(recipe, recipeEnvironment(recipeDir, ctx, storage, json), adapter, { onNotice: notice });
  for (const task of result.tasks) console.log(json ? JSON.stringify({ event: 'eval', ...evalJson(task) }) : evalLine(task));
  ctx.destroy();
  return 0;
}
