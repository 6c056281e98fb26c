/**
 * LLaMA-Factory: config.yaml for `llamafactory-cli train`, data/dataset_info.json describing each
 * task's file, and the files. Key names: the argument dataclasses of src/llamafactory/hparams
 * (model_args.py, data_args.py, finetuning_args.py) and transformers' TrainingArguments, as the
 * examples/train_lora/*.yaml of hiyouga/LLaMA-Factory use them; data formats: data/README.md.
 *
 * Our text is already rendered with the recipe's template, so the data is read with LLaMA-Factory's
 * "empty" template, which adds nothing around the turns.
 */
import { CocktailError } from '../errors.ts';
import { adamwKeys, jsonl, yamlWithSources, type ConfigKey } from './config-file.ts';
import { hfScheduler } from './axolotl.ts';
import { DEEPSPEED_CONFIG, OUTPUT_DIR, type ExportFiles, type ExportPlan } from './plan.ts';
import { asPromptCompletion, withoutUntrainedTail, type ExportRow } from './segments.ts';
import { clusterBits } from './quantization.ts';
import type { TaskRows } from './task-data.ts';

const MODEL_ARGS = 'LLaMA-Factory src/llamafactory/hparams/model_args.py';
const DATA_ARGS = 'LLaMA-Factory src/llamafactory/hparams/data_args.py';
const FINETUNING_ARGS = 'LLaMA-Factory src/llamafactory/hparams/finetuning_args.py';
const TRAINING_ARGS = 'transformers TrainingArguments (src/transformers/training_args.py), as LLaMA-Factory examples/train_lora/llama3_lora_sft.yaml uses them';
const DATA_README = 'LLaMA-Factory data/README.md';

export const LLAMAFACTORY_CONFIG = 'config.yaml';
export const LLAMAFACTORY_PREPARE = 'prepare_tokenized.py';

type Formatting = 'alpaca' | 'sharegpt';

/** alpaca when every row is one prompt and one answer; sharegpt turns (human: no loss, gpt: loss) otherwise. */
function formattingOf(task: TaskRows): Formatting {
  if (task.kind === 'tokens') {
    throw new CocktailError('EXPORT_UNSUPPORTED', `task "${task.name}" is pre-tokenized, which LLaMA-Factory reads only as a whole tokenized data set; export with --mode premixed`, { task: task.name, field: 'format' });
  }
  return task.kind === 'text' || [...task.train, ...task.validation].every((row) => row.kind === 'segments' && asPromptCompletion(row.segments)) ? 'alpaca' : 'sharegpt';
}

function factoryRow(row: ExportRow, formatting: Formatting): Record<string, unknown> {
  if (row.kind === 'text') return { instruction: '', output: row.text };
  if (row.kind !== 'segments') throw new Error('unreachable: pre-tokenized rows are refused by formattingOf');
  if (formatting === 'alpaca') {
    const pair = asPromptCompletion(row.segments)!;
    return { instruction: pair.prompt, output: pair.completion };
  }
  const segments = withoutUntrainedTail(row.segments);
  const turns = segments.map((segment) => ({ from: segment.train ? 'gpt' : 'human', value: segment.text }));
  if (turns[0]?.from === 'gpt') turns.unshift({ from: 'human', value: '' });
  return { conversations: turns };
}

function datasetInfo(fileName: string, formatting: Formatting): Record<string, unknown> {
  return formatting === 'alpaca' ? { file_name: fileName, formatting: 'alpaca', columns: { prompt: 'instruction', response: 'output' } } : { file_name: fileName, formatting: 'sharegpt', columns: { messages: 'conversations' } };
}

export function llamaFactoryConfigKeys(plan: ExportPlan): ConfigKey[] {
  const { recipe, batch, mode } = plan;
  const keys: ConfigKey[] = [
    { key: 'model_name_or_path', value: recipe.model.source, source: MODEL_ARGS, from: 'model.source' },
    { key: 'model_revision', value: recipe.model.revision, source: MODEL_ARGS, from: 'model.revision' },
    { key: 'stage', value: 'sft', source: FINETUNING_ARGS },
    { key: 'do_train', value: true, source: TRAINING_ARGS },
    { key: 'finetuning_type', value: 'lora', source: FINETUNING_ARGS },
    { key: 'lora_rank', value: recipe.lora.r, source: FINETUNING_ARGS, from: 'lora.r' },
    { key: 'lora_alpha', value: recipe.lora.alpha, source: FINETUNING_ARGS, from: 'lora.alpha' },
    { key: 'lora_dropout', value: recipe.lora.dropout, source: FINETUNING_ARGS, from: 'lora.dropout' },
    { key: 'lora_target', value: recipe.lora.targets.join(','), source: FINETUNING_ARGS, from: 'lora.targets' },
    { key: 'use_rslora', value: recipe.lora.rslora, source: FINETUNING_ARGS, from: 'lora.rslora' },
    { key: 'template', value: 'empty', source: `${DATA_ARGS}; templates in src/llamafactory/data/template.py`, from: 'tasks[].template' },
    { key: 'cutoff_len', value: recipe.max_length, source: DATA_ARGS, from: 'max_length' },
    { key: 'packing', value: mode === 'premixed' ? false : recipe.packing, source: DATA_ARGS, from: 'packing' },
    { key: 'train_on_prompt', value: recipe.train_on_prompts, source: DATA_ARGS, from: 'train_on_prompts' },
    { key: 'per_device_train_batch_size', value: batch.perDevice, source: TRAINING_ARGS, from: 'batch_size' },
    { key: 'gradient_accumulation_steps', value: batch.accumulation, source: TRAINING_ARGS, from: 'grad_accum' },
    { key: 'max_steps', value: plan.steps, source: TRAINING_ARGS, from: recipe.steps === undefined ? 'epochs' : 'steps' },
    { key: 'num_train_epochs', value: 1.0, source: TRAINING_ARGS },
    { key: 'optim', value: 'adamw_torch', source: TRAINING_ARGS },
    ...adamwKeys(recipe, TRAINING_ARGS),
    { key: 'lr_scheduler_type', value: hfScheduler(recipe), source: TRAINING_ARGS, from: 'schedule.kind' },
    { key: 'warmup_steps', value: recipe.schedule.warmup_steps, source: TRAINING_ARGS, from: 'schedule.warmup_steps' },
    { key: 'seed', value: recipe.seed, source: TRAINING_ARGS, from: 'seed' },
    { key: 'save_steps', value: recipe.checkpoint_every, source: TRAINING_ARGS, from: 'checkpoint_every' },
    { key: 'gradient_checkpointing', value: recipe.recompute, source: TRAINING_ARGS, from: 'recompute' },
    { key: 'output_dir', value: OUTPUT_DIR, source: TRAINING_ARGS },
    { key: 'overwrite_output_dir', value: true, source: TRAINING_ARGS },
    { key: 'logging_steps', value: 1, source: TRAINING_ARGS },
  ];
  if (recipe.model.dtype === 'bf16') keys.push({ key: 'bf16', value: true, source: TRAINING_ARGS, from: 'model.dtype' });
  if (recipe.model.dtype === 'f16') keys.push({ key: 'fp16', value: true, source: TRAINING_ARGS, from: 'model.dtype' });
  keys.push(...quantizationKeys(clusterBits(recipe)));
  if (mode === 'premixed') {
    keys.push(
      { key: 'tokenized_path', value: 'data/premixed_tokenized', source: `${DATA_ARGS} (written by ${LLAMAFACTORY_PREPARE} from data/premixed.jsonl)`, from: 'tasks, mixture' },
      { key: 'disable_shuffling', value: true, source: DATA_ARGS },
    );
  } else {
    keys.push(
      { key: 'dataset_dir', value: 'data', source: DATA_ARGS },
      { key: 'dataset', value: plan.tasks.map((task) => task.fileStem).join(','), source: `${DATA_ARGS}; ${DATA_README}`, from: 'tasks' },
      { key: 'mix_strategy', value: 'interleave_over', source: DATA_ARGS, from: 'mixture.strategy' },
      { key: 'interleave_probs', value: plan.mixture.probabilities.map(String).join(','), source: DATA_ARGS, from: 'mixture' },
    );
    const evaluated = plan.tasks.filter((task) => task.validation.length > 0);
    if (evaluated.length > 0) {
      keys.push(
        { key: 'eval_dataset', value: evaluated.map((task) => `${task.fileStem}_validation`).join(','), source: DATA_ARGS, from: 'tasks[].validation_fraction' },
        { key: 'eval_on_each_dataset', value: true, source: DATA_ARGS },
        { key: 'eval_strategy', value: 'steps', source: TRAINING_ARGS },
        { key: 'eval_steps', value: recipe.eval_every, source: TRAINING_ARGS, from: 'eval_every' },
        { key: 'per_device_eval_batch_size', value: batch.perDevice, source: TRAINING_ARGS, from: 'batch_size' },
      );
    }
  }
  if (plan.initAdapter) keys.push({ key: 'adapter_name_or_path', value: plan.initAdapter, source: MODEL_ARGS, from: 'lora.init_from' });
  if (batch.devices > 1) keys.push({ key: 'deepspeed', value: DEEPSPEED_CONFIG, source: `${TRAINING_ARGS}; LLaMA-Factory examples/deepspeed/ds_z2_config.json` });
  return keys;
}

/**
 * On-the-fly bitsandbytes quantization (QuantizationArguments in model_args.py): quantization_bit, and
 * for 4 bits quantization_type nf4 (its default, written so the file says what the cluster runs).
 * quantization_method is left to its default, which is bitsandbytes in every version: older ones spell
 * it "bitsandbytes", newer ones "bnb" (QuantizationMethod.BNB), and each refuses the other's spelling.
 */
function quantizationKeys(bits: 4 | 8 | undefined): ConfigKey[] {
  if (bits === undefined) return [];
  return [
    { key: 'quantization_bit', value: bits, source: `${MODEL_ARGS} (QuantizationArguments)`, from: 'model.dtype' },
    ...(bits === 4 ? [{ key: 'quantization_type', value: 'nf4', source: `${MODEL_ARGS} (QuantizationArguments)`, from: 'model.dtype' }] : []),
  ];
}

export function llamaFactoryFiles(plan: ExportPlan, files: ExportFiles): void {
  files.set(LLAMAFACTORY_CONFIG, yamlWithSources(`LLaMA-Factory configuration of recipe "${plan.recipe.name ?? 'recipe'}", written by Cocktail Studio (${plan.mode} mode).\nEach key is named as the source file on the line above it names it; MAPPING.md says where each recipe field went.`, llamaFactoryConfigKeys(plan)));
  if (plan.mode === 'premixed') {
    files.set('data/premixed.jsonl', jsonl(plan.premixed ?? []));
    files.set(LLAMAFACTORY_PREPARE, PREPARE_SCRIPT);
    return;
  }
  const info: Record<string, unknown> = {};
  for (const task of plan.tasks) {
    const formatting = formattingOf(task);
    files.set(`data/${task.fileStem}.train.json`, `${JSON.stringify(task.train.map((row) => factoryRow(row, formatting)), null, 1)}\n`);
    info[task.fileStem] = datasetInfo(`${task.fileStem}.train.json`, formatting);
    if (task.validation.length > 0) {
      files.set(`data/${task.fileStem}.validation.json`, `${JSON.stringify(task.validation.map((row) => factoryRow(row, formatting)), null, 1)}\n`);
      info[`${task.fileStem}_validation`] = datasetInfo(`${task.fileStem}.validation.json`, formatting);
    }
  }
  files.set('data/dataset_info.json', `${JSON.stringify(info, null, 2)}\n`);
}

/** LLaMA-Factory reads pre-tokenized data only as a saved Hugging Face data set (tokenized_path). */
const PREPARE_SCRIPT = `"""Turns data/premixed.jsonl (input_ids, attention_mask, labels, in the studio's sampling order)
into the saved data set LLaMA-Factory's tokenized_path reads. Run once before training (run.sh does)."""
import os

from datasets import DatasetDict, load_dataset

here = os.path.dirname(os.path.abspath(__file__))
rows = load_dataset("json", data_files=os.path.join(here, "data", "premixed.jsonl"), split="train")
DatasetDict({"train": rows.remove_columns(["task"])}).save_to_disk(os.path.join(here, "data", "premixed_tokenized"))
`;
