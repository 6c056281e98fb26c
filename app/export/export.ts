/**
 * A recipe for another engine: `exportRecipe` turns a recipe and its prepared tasks into the files of
 * one folder (data, configuration, launch files, MAPPING.md), as a map from path to content, so the
 * CLI writes them to disk and the studio zips them, from the same code.
 *
 * ```
 * recipe + prepared tasks ─ task-data.ts   rows rendered with the recipe's template (segments.ts)
 *                         ├ mixture.ts     fixed probabilities (native) / run-draws (premixed)
 *                         ├ batch.ts       per-device batch × devices × accumulation
 *                         ├ axolotl.ts | llamafactory.ts | trl.ts   configuration + data in its format
 *                         ├ launch.ts      run.sh, ds_zero2.json, README.md
 *                         └ mapping.ts     MAPPING.md
 * ```
 */
import { CocktailError } from '../errors.ts';
import { drawRun } from '../mix/run-draws.ts';
import type { TextTokenizer } from '../model/tokenizer.ts';
import { mixConfig, optimizerSteps } from '../train/mixture.ts';
import type { TaskExamples } from '../train/prepare.ts';
import type { Recipe } from '../train/recipe.ts';
import type { PreparedTask } from '../train/task-data.ts';
import { axolotlConfigKeys, axolotlFiles, AXOLOTL_CONFIG } from './axolotl.ts';
import { clusterBatch, type ClusterShape } from './batch.ts';
import type { ConfigKey } from './config-file.ts';
import { launchFiles } from './launch.ts';
import { llamaFactoryConfigKeys, llamaFactoryFiles, LLAMAFACTORY_CONFIG } from './llamafactory.ts';
import { mappingMarkdown, standingNotes } from './mapping.ts';
import { fixedMixture } from './mixture.ts';
import { INIT_ADAPTER_DIR, type ExportFiles, type ExportNote, type ExportPlan } from './plan.ts';
import { asPromptCompletion } from './segments.ts';
import { premixedRows, taskRows, tokenizedValidation } from './task-data.ts';
import { TARGET_TITLES, type ExportMode, type ExportTarget } from './targets.ts';
import { trlFiles, trlLoraConfigKeys, trlSftConfigKeys, TRL_FILES } from './trl.ts';

export interface ExportRequest {
  recipe: Recipe;
  target: ExportTarget;
  mode: ExportMode;
  shape: ClusterShape;
  /** prepareTasks(recipe, { keepExamples: true }) of the same recipe. */
  tasks: readonly PreparedTask[];
  examples: readonly TaskExamples[];
  tokenizer: Pick<TextTokenizer, 'applyChatTemplate' | 'eosToken'>;
  /** The recipe's local task files by the path the recipe names them with; copied into sources/. */
  sourceFiles: ReadonlyMap<string, Uint8Array>;
  /** The PEFT adapter lora.init_from names, copied into init_adapter/ for the target to start from. */
  initAdapter?: { config: string; weights: Uint8Array };
}

export interface ExportResult {
  files: ExportFiles;
  /** What could not be carried over exactly (also in MAPPING.md), for the screen. */
  notes: ExportNote[];
  /** Paths inside the folder where the recipe's local task files were copied. */
  copiedSources: string[];
}

export function exportRecipe(request: ExportRequest): ExportResult {
  const { recipe, target, mode, tasks } = request;
  const steps = optimizerSteps(recipe, tasks);
  const config = mixConfig(recipe, tasks, steps);
  const rows = taskRows(recipe, tasks, request.examples, request.tokenizer);
  const mixture = fixedMixture(recipe, config);
  const plan: ExportPlan = {
    recipe,
    target,
    mode,
    shape: request.shape,
    batch: clusterBatch(recipe, request.shape),
    steps,
    tasks: rows,
    mixture,
    notes: [...standingNotes({ recipe, mode, target, initAdapterCopied: request.initAdapter !== undefined }), ...mixtureNotes(target, mode, mixture), ...formatNotes(target, mode, rows)],
    ...(request.initAdapter ? { initAdapter: INIT_ADAPTER_DIR } : {}),
  };
  if (mode === 'premixed') {
    plan.premixed = premixedRows(tasks, drawRun(config).steps);
    plan.premixedValidation = tasks.map((task, i) => ({ fileStem: rows[i]!.fileStem, rows: tokenizedValidation(task) }));
  }

  const files: ExportFiles = new Map();
  const { recipe: portable, copied } = portableRecipe(recipe, rows.map((row) => row.fileStem), request.sourceFiles, files);
  if (request.initAdapter) {
    files.set(`${INIT_ADAPTER_DIR}/adapter_config.json`, request.initAdapter.config);
    files.set(`${INIT_ADAPTER_DIR}/adapter_model.safetensors`, request.initAdapter.weights);
    portable.lora = { ...portable.lora, init_from: INIT_ADAPTER_DIR };
  }
  files.set('recipe.json', `${JSON.stringify(portable, null, 2)}\n`);
  let configs: { file: string; keys: ConfigKey[] }[];
  switch (target) {
    case 'axolotl':
      axolotlFiles(plan, files);
      configs = [{ file: AXOLOTL_CONFIG, keys: axolotlConfigKeys(plan) }];
      break;
    case 'llamafactory':
      llamaFactoryFiles(plan, files);
      configs = [{ file: LLAMAFACTORY_CONFIG, keys: llamaFactoryConfigKeys(plan) }];
      break;
    case 'trl':
      trlFiles(plan, files);
      configs = [
        { file: TRL_FILES.sftConfig, keys: trlSftConfigKeys(plan) },
        { file: TRL_FILES.loraConfig, keys: trlLoraConfigKeys(plan) },
      ];
      break;
  }
  launchFiles(plan, files, copied);
  files.set('MAPPING.md', mappingMarkdown({ ...plan, recipe: portable }, configs, copied));
  return { files, notes: plan.notes, copiedSources: copied };
}

function mixtureNotes(target: ExportTarget, mode: ExportMode, mixture: ExportPlan['mixture']): ExportNote[] {
  if (mode === 'premixed') return [];
  if (target === 'axolotl') {
    return [
      {
        field: 'mixture',
        message: 'Axolotl has no per-data-set sampling weights: it concatenates the tasks and shuffles them, so each task is seen in proportion to its size, not as the recipe mixes them; export with --mode premixed for the recipe\'s exact mixture',
      },
    ];
  }
  return mixture.note ? [{ field: 'mixture', message: `${TARGET_TITLES[target]}: ${mixture.note}` }] : [];
}

function formatNotes(target: ExportTarget, mode: ExportMode, rows: ExportPlan['tasks']): ExportNote[] {
  if (mode === 'premixed' || target !== 'trl') return [];
  return rows
    .filter((task) => task.train.some((row) => row.kind === 'segments' && !asPromptCompletion(row.segments)))
    .map((task) => ({
      field: `tasks.${task.name}`,
      message: 'has conversations with loss on more than one answer; TRL\'s prompt/completion rows keep the loss on the last answer only (the earlier ones become prompt); export with --mode premixed to keep every answer\'s loss',
    }));
}

/**
 * The recipe as it will read on the cluster: local task files point at their copies under sources/,
 * so no path of this machine is written. Hub sources stay as they are.
 */
function portableRecipe(recipe: Recipe, stems: readonly string[], sourceFiles: ReadonlyMap<string, Uint8Array>, files: ExportFiles): { recipe: Recipe; copied: string[] } {
  const copied: string[] = [];
  const copy = (stem: string, path: string): string => {
    const bytes = sourceFiles.get(path);
    if (!bytes) throw new CocktailError('EXPORT_SOURCE_MISSING', `task file "${path}" was not given to the export; it must be copied into the folder so the cluster has it`, { file: path });
    const target = `sources/${stem}/${path.split(/[\\/]/).pop()}`;
    files.set(target, bytes);
    copied.push(target);
    return target;
  };
  const tasks = recipe.tasks.map((task, i) => {
    if (!('file' in task.source)) return task;
    const { file, validation_file: validationFile, ...rest } = task.source;
    return { ...task, source: { ...rest, file: copy(stems[i]!, file), ...(validationFile ? { validation_file: copy(stems[i]!, validationFile) } : {}) } };
  });
  return { recipe: { ...recipe, tasks }, copied };
}
