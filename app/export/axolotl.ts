/**
 * Axolotl: one YAML configuration (config.yml) and JSONL data. Key names are those of Axolotl's
 * configuration reference (https://docs.axolotl.ai/docs/config.html, docs/config.qmd in
 * axolotl-ai-cloud/axolotl); data formats those of its dataset-format pages.
 */
import { adamwKeys, jsonl, yamlWithSources, type ConfigKey } from './config-file.ts';
import { DEEPSPEED_CONFIG, OUTPUT_DIR, type ExportFiles, type ExportPlan } from './plan.ts';
import { clusterBits } from './quantization.ts';
import type { ExportRow } from './segments.ts';

const CONFIG_DOC = 'Axolotl config reference, https://docs.axolotl.ai/docs/config.html';
const DATASET_DOC = {
  segments: 'Axolotl template-free format, type input_output, https://docs.axolotl.ai/docs/input_output.html',
  text: 'Axolotl pre-training/completion format, type completion, https://docs.axolotl.ai/docs/dataset-formats/pretraining.html',
  tokens: 'Axolotl pre-tokenized data set (no type), https://docs.axolotl.ai/docs/dataset-formats/tokenized.html',
} as const;

export const AXOLOTL_CONFIG = 'config.yml';

/** A row in the format Axolotl's dataset type reads. */
function axolotlRow(row: ExportRow): Record<string, unknown> {
  switch (row.kind) {
    case 'segments':
      return { segments: row.segments.map((segment) => ({ label: segment.train, text: segment.text })) };
    case 'text':
      return { text: row.text };
    case 'tokens':
      return { input_ids: row.inputIds, attention_mask: row.inputIds.map(() => 1), labels: row.labels };
  }
}

function datasetEntry(path: string, kind: ExportRow['kind']): Record<string, unknown> {
  const entry: Record<string, unknown> = { path, ds_type: 'json' };
  if (kind === 'segments') entry.type = 'input_output';
  if (kind === 'text') entry.type = 'completion';
  return entry;
}

export function axolotlConfigKeys(plan: ExportPlan): ConfigKey[] {
  const { recipe, batch, mode } = plan;
  const doc = CONFIG_DOC;
  const bits = clusterBits(recipe);
  const keys: ConfigKey[] = [
    { key: 'base_model', value: recipe.model.source, source: doc, from: 'model.source' },
    { key: 'revision_of_model', value: recipe.model.revision, source: doc, from: 'model.revision' },
    // QLoRA is adapter "qlora" with load_in_4bit (Axolotl refuses one without the other); 8-bit is a "lora" with load_in_8bit.
    bits === 4 ? { key: 'adapter', value: 'qlora', source: doc, from: 'model.dtype' } : { key: 'adapter', value: 'lora', source: doc },
    ...(bits === undefined ? [] : [{ key: bits === 4 ? 'load_in_4bit' : 'load_in_8bit', value: true, source: doc, from: 'model.dtype' }]),
    { key: 'lora_r', value: recipe.lora.r, source: doc, from: 'lora.r' },
    { key: 'lora_alpha', value: recipe.lora.alpha, source: doc, from: 'lora.alpha' },
    { key: 'lora_dropout', value: recipe.lora.dropout, source: doc, from: 'lora.dropout' },
    { key: 'lora_target_modules', value: [...recipe.lora.targets], source: doc, from: 'lora.targets' },
    { key: 'peft_use_rslora', value: recipe.lora.rslora, source: doc, from: 'lora.rslora' },
    { key: 'sequence_len', value: recipe.max_length, source: doc, from: 'max_length' },
    { key: 'sample_packing', value: mode === 'premixed' ? false : recipe.packing, source: doc, from: 'packing' },
    { key: 'train_on_inputs', value: recipe.train_on_prompts, source: doc, from: 'train_on_prompts' },
    { key: 'micro_batch_size', value: batch.perDevice, source: doc, from: 'batch_size' },
    { key: 'gradient_accumulation_steps', value: batch.accumulation, source: doc, from: 'grad_accum' },
    { key: 'max_steps', value: plan.steps, source: doc, from: recipe.steps === undefined ? 'epochs' : 'steps' },
    { key: 'num_epochs', value: 1, source: doc },
    { key: 'optimizer', value: 'adamw_torch', source: doc },
    ...adamwKeys(recipe, doc),
    { key: 'lr_scheduler', value: hfScheduler(recipe), source: doc, from: 'schedule.kind' },
    { key: 'warmup_steps', value: recipe.schedule.warmup_steps, source: doc, from: 'schedule.warmup_steps' },
    { key: 'seed', value: recipe.seed, source: doc, from: 'seed' },
    { key: 'eval_steps', value: recipe.eval_every, source: doc, from: 'eval_every' },
    { key: 'save_steps', value: recipe.checkpoint_every, source: doc, from: 'checkpoint_every' },
    { key: 'gradient_checkpointing', value: recipe.recompute, source: doc, from: 'recompute' },
    { key: 'output_dir', value: `./${OUTPUT_DIR}`, source: doc },
  ];
  if (recipe.model.dtype === 'bf16') keys.push({ key: 'bf16', value: true, source: doc, from: 'model.dtype' });
  if (recipe.model.dtype === 'f16') keys.push({ key: 'fp16', value: true, source: doc, from: 'model.dtype' });
  if (mode === 'premixed') {
    keys.push(
      { key: 'datasets', value: [datasetEntry('data/premixed.jsonl', 'tokens')], source: `${DATASET_DOC.tokens}; ${doc}`, from: 'tasks, mixture' },
      { key: 'shuffle_merged_datasets', value: false, source: doc },
      { key: 'curriculum_sampling', value: true, source: doc },
    );
    const evaluated = plan.premixedValidation?.filter((part) => part.rows.length > 0) ?? [];
    if (evaluated.length > 0) keys.push({ key: 'test_datasets', value: evaluated.map((part) => datasetEntry(`data/${part.fileStem}.validation.jsonl`, 'tokens')), source: `${DATASET_DOC.tokens}; ${doc}`, from: 'tasks[].validation_fraction' });
  } else {
    keys.push({ key: 'datasets', value: plan.tasks.map((task) => datasetEntry(`data/${task.fileStem}.train.jsonl`, task.kind)), source: `${plan.tasks.map((task) => DATASET_DOC[task.kind]).filter((d, i, all) => all.indexOf(d) === i).join('; ')}; ${doc}`, from: 'tasks' });
    const evaluated = plan.tasks.filter((task) => task.validation.length > 0);
    if (evaluated.length > 0) keys.push({ key: 'test_datasets', value: evaluated.map((task) => datasetEntry(`data/${task.fileStem}.validation.jsonl`, task.kind)), source: doc, from: 'tasks[].validation_fraction' });
  }
  if (plan.initAdapter) keys.push({ key: 'lora_model_dir', value: plan.initAdapter, source: doc, from: 'lora.init_from' });
  if (batch.devices > 1) keys.push({ key: 'deepspeed', value: DEEPSPEED_CONFIG, source: `${doc}; https://docs.axolotl.ai/docs/multi-gpu.html` });
  return keys;
}

export function axolotlFiles(plan: ExportPlan, files: ExportFiles): void {
  files.set(AXOLOTL_CONFIG, yamlWithSources(`Axolotl configuration of recipe "${plan.recipe.name ?? 'recipe'}", written by Cocktail Studio (${plan.mode} mode).\nEach key is named as the documentation on the line above it names it; MAPPING.md says where each recipe field went.`, axolotlConfigKeys(plan)));
  if (plan.mode === 'premixed') {
    files.set('data/premixed.jsonl', jsonl(plan.premixed ?? []));
    for (const part of plan.premixedValidation ?? []) if (part.rows.length > 0) files.set(`data/${part.fileStem}.validation.jsonl`, jsonl(part.rows));
    return;
  }
  for (const task of plan.tasks) {
    files.set(`data/${task.fileStem}.train.jsonl`, jsonl(task.train.map(axolotlRow)));
    if (task.validation.length > 0) files.set(`data/${task.fileStem}.validation.jsonl`, jsonl(task.validation.map(axolotlRow)));
  }
}

/** transformers' SchedulerType names (get_scheduler), which our schedules follow exactly (app/train/lr-schedule.ts). */
export function hfScheduler(recipe: ExportPlan['recipe']): string {
  if (recipe.schedule.kind === 'constant') return recipe.schedule.warmup_steps > 0 ? 'constant_with_warmup' : 'constant';
  return recipe.schedule.kind;
}
