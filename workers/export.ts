/**
 * export.recipe inside the engine worker: the studio's recipe prepared as training prepares it (the
 * model's tokenizer only, no GPU), written for another engine by app/export, and zipped for download.
 * Task files come from the studio's storage and are copied into the zip, so nothing in it names a
 * file of this browser.
 */
import { zipSync } from 'fflate';
import { exportRecipe } from '../app/export/export.ts';
import { parseExportMode, parseExportTarget } from '../app/export/targets.ts';
import { parseModelConfig } from '../app/model/config.ts';
import { readJsonFile } from '../app/model/source.ts';
import { loadTokenizer } from '../app/model/tokenizer.ts';
import type { Storage } from '../app/store/storage.ts';
import { prepareTasks } from '../app/train/prepare.ts';
import { parseRecipe } from '../app/train/recipe.ts';
import { openModelFiles } from './model-files.ts';
import { everyInterval, PROGRESS_INTERVAL_MS } from './progress.ts';
import type { Commands, ExportRecipeResult, TrainProgress } from './protocol.ts';
import { openStoredAdapter, openTaskFile } from './studio-env.ts';

export async function exportInStudio(request: Commands['export.recipe']['payload'], storage: Storage, signal: AbortSignal, progress: (event: TrainProgress) => void): Promise<ExportRecipeResult> {
  const target = parseExportTarget(request.target);
  const mode = parseExportMode(request.mode);
  const recipe = parseRecipe(request.recipe, 'the studio’s recipe');
  const hub = { ...(request.hubEndpoint ? { hubEndpoint: request.hubEndpoint } : {}), ...(request.hubToken ? { hubToken: request.hubToken } : {}) };
  progress({ kind: 'stage', stage: 'model' });
  const files = await openModelFiles(storage, { source: recipe.model.source, revision: recipe.model.revision }, { ...hub, signal });
  const tokenizer = await loadTokenizer(files, parseModelConfig(await readJsonFile(files, 'config.json'), `${files.label}/config.json`));
  progress({ kind: 'stage', stage: 'data' });
  const prepared = await prepareTasks(recipe, {
    tokenizer,
    openFile: (path) => openTaskFile(storage, path),
    keepExamples: true,
    signal,
    onProgress: everyInterval(PROGRESS_INTERVAL_MS, (prepare) => progress({ kind: 'prepare', progress: prepare })),
    ...(request.hubEndpoint ? { hubEndpoint: request.hubEndpoint } : {}),
    ...(request.hubToken ? { hubAccessToken: request.hubToken } : {}),
  });
  const sourceFiles = new Map<string, Uint8Array>();
  for (const task of recipe.tasks) {
    if (!('file' in task.source)) continue;
    for (const path of [task.source.file, task.source.validation_file]) if (path !== undefined) sourceFiles.set(path, new Uint8Array(await (await openTaskFile(storage, path)).arrayBuffer()));
  }
  const initAdapter = recipe.lora.init_from ? await openStoredAdapter(storage, recipe.lora.init_from) : undefined;
  progress({ kind: 'stage', stage: 'export' });
  const result = exportRecipe({
    recipe,
    target,
    mode,
    shape: { gpus: request.gpus, nodes: request.nodes },
    tasks: prepared.tasks,
    examples: prepared.examples!,
    tokenizer,
    sourceFiles,
    ...(initAdapter ? { initAdapter: { config: initAdapter.config, weights: new Uint8Array(await initAdapter.weights.arrayBuffer()) } } : {}),
  });
  const folder = `${(recipe.name ?? 'recipe').replace(/[^A-Za-z0-9_.-]+/g, '-')}-${target}-${mode}`;
  const encoder = new TextEncoder();
  const entries: Record<string, Uint8Array> = {};
  for (const [path, content] of result.files) entries[`${folder}/${path}`] = typeof content === 'string' ? encoder.encode(content) : content;
  // run.sh keeps its executable bit when unzipped (Unix mode in the entry's external attributes).
  const zip = zipSync(Object.fromEntries(Object.entries(entries).map(([path, bytes]) => [path, path.endsWith('.sh') ? [bytes, { os: 3, attrs: (0o100755 << 16) >>> 0 }] : bytes])));
  return { zip, fileName: `${folder}.zip`, notes: result.notes, copiedSources: result.copiedSources };
}
