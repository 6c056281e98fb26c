/**
 * `cocktail export`: a recipe as a folder another engine runs on a GPU cluster (app/export). The
 * tasks are prepared as `cocktail train` prepares them (the model's tokenizer only, no GPU).
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { exportRecipe } from '../export/export.ts';
import { EXPORT_TARGETS, parseExportMode, parseExportTarget } from '../export/targets.ts';
import { CocktailError } from '../errors.ts';
import { parseOptions } from './args.ts';
import { readRecipe } from './recipe-env.ts';
import { readPeftAdapter } from './peft-files.ts';
import { prepareRecipeData } from './recipe-tasks.ts';

export const EXPORT_USAGE = `cocktail export --recipe <recipe.json> --target ${EXPORT_TARGETS.join('|')} --out <dir> [--mode native|premixed] [--gpus N] [--nodes M] [--json]`;

export async function exportCommand(args: string[]): Promise<number> {
  const options = parseOptions('export', args, { recipe: 'string', target: 'string', out: 'string', mode: 'string', gpus: 'integer', nodes: 'integer', json: 'flag' }, ['recipe', 'target', 'out']);
  const target = parseExportTarget(options.target!);
  const mode = parseExportMode(options.mode ?? 'native');
  const read = await readRecipe(options.recipe!);
  const recipeDir = read.recipeDir;
  const prepared = await prepareRecipeData(read.recipe, recipeDir, { keepExamples: true });
  // The cluster trains at the length a run here trains at: max_length clamped to the model's context.
  const recipe = prepared.recipe;
  if (prepared.contextNotice) console.error(prepared.contextNotice);
  const sourceFiles = new Map<string, Uint8Array>();
  for (const task of recipe.tasks) {
    if (!('file' in task.source)) continue;
    for (const path of [task.source.file, task.source.validation_file]) if (path !== undefined) sourceFiles.set(path, new Uint8Array(await readFile(resolve(recipeDir, path))));
  }
  const initAdapter = recipe.lora.init_from ? await readPeftAdapter(resolve(recipeDir, recipe.lora.init_from)) : undefined;
  const result = exportRecipe({
    recipe,
    target,
    mode,
    shape: { gpus: options.gpus ?? 1, nodes: options.nodes ?? 1 },
    tasks: prepared.tasks,
    examples: prepared.examples!,
    tokenizer: prepared.tokenizer,
    sourceFiles,
    ...(initAdapter ? { initAdapter: { config: initAdapter.config, weights: new Uint8Array(await initAdapter.weights.arrayBuffer()) } } : {}),
  });
  const out = resolve(options.out!);
  for (const [path, content] of result.files) {
    if (path.includes('..')) throw new CocktailError('EXPORT_BAD_PATH', `refusing to write "${path}" outside ${out}`, { file: path });
    await mkdir(dirname(join(out, path)), { recursive: true });
    await writeFile(join(out, path), content, path.endsWith('.sh') ? { mode: 0o755 } : {});
  }
  if (options.json) {
    console.log(JSON.stringify({ out, target, mode, files: [...result.files.keys()].sort(), copiedSources: result.copiedSources, notes: result.notes }));
    return 0;
  }
  console.log(`wrote ${result.files.size} files to ${out} for ${target} (${mode} mode); start with ${join(out, 'run.sh')}, read ${join(out, 'README.md')}`);
  if (result.copiedSources.length > 0) console.log(`copied the recipe's task files into ${out}: ${result.copiedSources.join(', ')}`);
  if (result.notes.length > 0) {
    console.log('not carried over exactly (also in MAPPING.md):');
    for (const note of result.notes) console.log(`  ${note.field}: ${note.message}`);
  }
  return 0;
}
