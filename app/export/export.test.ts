import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import YAML from 'yaml';
import { fixturePath } from '../../test/fixtures.ts';
import { fixtureTask } from '../../test/tasks.ts';
import { prepareRecipeData, type RecipeData } from '../cli/recipe-tasks.ts';
import { mixCommand } from '../cli/mix.ts';
import { MixSampler } from '../mix/sampler.ts';
import { buildBatch } from '../train/batch.ts';
import { mixConfig, optimizerSteps } from '../train/mixture.ts';
import { parseRecipe, type Recipe } from '../train/recipe.ts';
import { exportRecipe, type ExportRequest } from './export.ts';
import { EXPORT_TARGETS, parseExportTarget, type ExportMode, type ExportTarget } from './targets.ts';

// A small finance cocktail on the real fixtures: two sentiment tasks mixed by temperature, alpaca as a regularizer.
const RECIPE = {
  name: 'finance-export',
  model: { source: fixturePath('models/aidreams260K') },
  tasks: [
    fixtureTask('fpb', { max_examples: 40 }),
    { name: 'tweets', source: { file: fixturePath('datasets/twitter_fin_sentiment/sent_train.csv') }, format: 'classification', columns: { text: 'text', label: 'label' }, labels: { '0': 'bearish', '1': 'bullish', '2': 'neutral' }, max_examples: 10 },
    { name: 'alpaca', source: { file: fixturePath('datasets/alpaca/alpaca_en_demo.json') }, format: 'instruction', role: 'regularizer', max_examples: 12 },
  ],
  mixture: { strategy: 'temperature', temperature: 2, regularizer_share: 0.2 },
  lora: { r: 8, alpha: 16, dropout: 0.1, targets: ['q_proj', 'v_proj', 'down_proj'], rslora: true },
  optimizer: { lr: 0.0003, betas: [0.9, 0.95], eps: 1e-7, weight_decay: 0.01 },
  schedule: { kind: 'cosine', warmup_steps: 2 },
  batch_size: 4,
  grad_accum: 2,
  max_length: 128,
  steps: 6,
  clip: 0.5,
  eval_every: 3,
  checkpoint_every: 3,
  recompute: true,
  seed: 11,
};

let dir: string;
let recipe: Recipe;
let data: RecipeData;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cocktail-export-'));
  await writeFile(join(dir, 'recipe.json'), JSON.stringify(RECIPE));
  recipe = parseRecipe(RECIPE);
  data = await prepareRecipeData(recipe, dir, { keepExamples: true });
}, 120_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function request(target: ExportTarget, mode: ExportMode, shape = { gpus: 1, nodes: 1 }): ExportRequest {
  const sourceFiles = new Map<string, Uint8Array>();
  for (const task of recipe.tasks) if ('file' in task.source) sourceFiles.set(task.source.file, new TextEncoder().encode(`bytes of ${task.source.file}`));
  return { recipe, target, mode, shape, tasks: data.tasks, examples: data.examples!, tokenizer: data.tokenizer, sourceFiles };
}

const text = (files: Map<string, string | Uint8Array>, path: string): string => {
  const content = files.get(path);
  if (typeof content !== 'string') throw new Error(`${path} is missing or binary`);
  return content;
};

/** The temperature strategy's probabilities, computed here from the task sizes: pᵢ ∝ nᵢ^(1/T) in 1 − r, the regularizer r. */
function expectedProbabilities(): number[] {
  const sizes = data.tasks.map((task) => task.train.length);
  const weights = [sizes[0]! ** 0.5, sizes[1]! ** 0.5];
  const sum = weights[0]! + weights[1]!;
  return [(0.8 * weights[0]!) / sum, (0.8 * weights[1]!) / sum, 0.2];
}

/** YAML keys, each with the comment line just above it (its documentation). */
function yamlKeysWithSources(yaml: string): Map<string, string> {
  const lines = yaml.split('\n');
  const keys = new Map<string, string>();
  lines.forEach((line, i) => {
    const match = /^([a-z_0-9]+):/.exec(line);
    if (match) keys.set(match[1]!, lines[i - 1] ?? '');
  });
  return keys;
}

describe('exportRecipe', () => {
  it('gives Axolotl every recipe setting under the key its configuration reference names, each with its source', () => {
    const { files } = exportRecipe(request('axolotl', 'native', { gpus: 2, nodes: 1 }));
    const yaml = text(files, 'config.yml');
    const config = YAML.parse(yaml) as Record<string, unknown>;
    expect(config).toEqual({
      base_model: RECIPE.model.source,
      revision_of_model: 'main',
      adapter: 'lora',
      lora_r: 8,
      lora_alpha: 16,
      lora_dropout: 0.1,
      lora_target_modules: ['q_proj', 'v_proj', 'down_proj'],
      peft_use_rslora: true,
      sequence_len: 128,
      sample_packing: false,
      train_on_inputs: false,
      micro_batch_size: 4, // 4 × 2 = 8 examples per step over 2 GPUs: 4 per device, no accumulation
      gradient_accumulation_steps: 1,
      max_steps: 6,
      num_epochs: 1,
      optimizer: 'adamw_torch',
      learning_rate: 0.0003,
      adam_beta1: 0.9,
      adam_beta2: 0.95,
      adam_epsilon: 1e-7,
      weight_decay: 0.01,
      max_grad_norm: 0.5,
      lr_scheduler: 'cosine',
      warmup_steps: 2,
      seed: 11,
      eval_steps: 3,
      save_steps: 3,
      gradient_checkpointing: true,
      output_dir: './output',
      datasets: [
        { path: 'data/fpb.train.jsonl', ds_type: 'json', type: 'input_output' },
        { path: 'data/tweets.train.jsonl', ds_type: 'json', type: 'input_output' },
        { path: 'data/alpaca.train.jsonl', ds_type: 'json', type: 'input_output' },
      ],
      test_datasets: [
        { path: 'data/fpb.validation.jsonl', ds_type: 'json', type: 'input_output' },
        { path: 'data/tweets.validation.jsonl', ds_type: 'json', type: 'input_output' },
        { path: 'data/alpaca.validation.jsonl', ds_type: 'json', type: 'input_output' },
      ],
      deepspeed: 'ds_zero2.json',
    });
    for (const [key, comment] of yamlKeysWithSources(yaml)) expect(comment, key).toMatch(/^# Axolotl .*https:\/\/docs\.axolotl\.ai\//);
  });

  it('gives LLaMA-Factory interleave_probs equal to the recipe\'s probabilities, and every key with its source file', () => {
    const { files } = exportRecipe(request('llamafactory', 'native'));
    const yaml = text(files, 'config.yaml');
    const config = YAML.parse(yaml) as Record<string, unknown>;
    const probabilities = String(config.interleave_probs).split(',').map(Number);
    expectedProbabilities().forEach((p, i) => expect(probabilities[i]).toBeCloseTo(p, 12));
    expect(config).toEqual({
      model_name_or_path: RECIPE.model.source,
      model_revision: 'main',
      stage: 'sft',
      do_train: true,
      finetuning_type: 'lora',
      lora_rank: 8,
      lora_alpha: 16,
      lora_dropout: 0.1,
      lora_target: 'q_proj,v_proj,down_proj',
      use_rslora: true,
      template: 'empty',
      cutoff_len: 128,
      packing: false,
      train_on_prompt: false,
      per_device_train_batch_size: 4,
      gradient_accumulation_steps: 2,
      max_steps: 6,
      num_train_epochs: 1,
      optim: 'adamw_torch',
      learning_rate: 0.0003,
      adam_beta1: 0.9,
      adam_beta2: 0.95,
      adam_epsilon: 1e-7,
      weight_decay: 0.01,
      max_grad_norm: 0.5,
      lr_scheduler_type: 'cosine',
      warmup_steps: 2,
      seed: 11,
      save_steps: 3,
      gradient_checkpointing: true,
      output_dir: 'output',
      overwrite_output_dir: true,
      logging_steps: 1,
      dataset_dir: 'data',
      dataset: 'fpb,tweets,alpaca',
      mix_strategy: 'interleave_over',
      interleave_probs: config.interleave_probs,
      eval_dataset: 'fpb_validation,tweets_validation,alpaca_validation',
      eval_on_each_dataset: true,
      eval_strategy: 'steps',
      eval_steps: 3,
      per_device_eval_batch_size: 4,
    });
    for (const [key, comment] of yamlKeysWithSources(yaml)) expect(comment, key).toMatch(/^# (LLaMA-Factory src\/llamafactory\/hparams\/\w+\.py|transformers TrainingArguments)/);
    const info = JSON.parse(text(files, 'data/dataset_info.json')) as Record<string, { file_name: string; formatting: string }>;
    expect(Object.keys(info)).toEqual(['fpb', 'fpb_validation', 'tweets', 'tweets_validation', 'alpaca', 'alpaca_validation']);
    for (const entry of Object.values(info)) expect(files.has(`data/${entry.file_name}`)).toBe(true);
  });

  it('gives TRL SFTConfig and LoraConfig keyword arguments, and the mixture as interleave probabilities', () => {
    const { files } = exportRecipe(request('trl', 'native', { gpus: 4, nodes: 2 }));
    expect(JSON.parse(text(files, 'lora_config.json'))).toEqual({ r: 8, lora_alpha: 16, lora_dropout: 0.1, target_modules: ['q_proj', 'v_proj', 'down_proj'], use_rslora: true, bias: 'none', task_type: 'CAUSAL_LM' });
    expect(JSON.parse(text(files, 'sft_config.json'))).toEqual({
      output_dir: 'output',
      max_length: 128,
      packing: false,
      completion_only_loss: true,
      per_device_train_batch_size: 1, // 8 examples per step over 8 GPUs
      gradient_accumulation_steps: 1,
      max_steps: 6,
      num_train_epochs: 1,
      optim: 'adamw_torch',
      learning_rate: 0.0003,
      adam_beta1: 0.9,
      adam_beta2: 0.95,
      adam_epsilon: 1e-7,
      weight_decay: 0.01,
      max_grad_norm: 0.5,
      lr_scheduler_type: 'cosine',
      warmup_steps: 2,
      seed: 11,
      save_steps: 3,
      gradient_checkpointing: true,
      logging_steps: 1,
      eval_strategy: 'steps',
      eval_steps: 3,
      per_device_eval_batch_size: 1,
      deepspeed: 'ds_zero2.json',
    });
    const run = JSON.parse(text(files, 'run.json')) as { probabilities: number[]; train_files: string[] };
    expectedProbabilities().forEach((p, i) => expect(run.probabilities[i]).toBeCloseTo(p, 12));
    for (const path of run.train_files) expect(files.has(path)).toBe(true);
    const script = text(files, 'run.sh');
    expect(script).toContain('torchrun --nnodes "$NODES" --nproc_per_node "$GPUS" --node_rank "$NODE_RANK" --rdzv_backend c10d --rdzv_endpoint "$MASTER_ADDR:$MASTER_PORT"');
    expect(script).toContain('accelerate launch --num_processes "$GPUS" train.py');
    expect(script).toContain('GPUS="${GPUS:-4}"');
    expect(JSON.parse(text(files, 'ds_zero2.json'))).toMatchObject({ zero_optimization: { stage: 2 } });
  });

  it('writes the data rendered with the recipe\'s template: the text and loss mask our tokenizer trains on', () => {
    const { files } = exportRecipe(request('axolotl', 'native'));
    const rows = text(files, 'data/tweets.train.jsonl').trim().split('\n').map((line) => JSON.parse(line) as { segments: { label: boolean; text: string }[] });
    expect(rows).toHaveLength(data.tasks[1]!.train.length);
    let compared = 0;
    rows.forEach((row, i) => {
      const example = data.tasks[1]!.train[i]!;
      // A truncated example was cut by our tokenizer (the target cuts at its own max length).
      if (example.truncatedTokens > 0) return;
      compared++;
      // BOS and the segments' text, tokenized as one text, give our ids; the trained segment is exactly the labelled tokens.
      const full = row.segments.map((segment) => segment.text).join('');
      expect([data.tokenizer.bosId, ...data.tokenizer.encode(full, { addSpecialTokens: false })]).toEqual([...example.inputIds]);
      const answer = row.segments.filter((segment) => segment.label).map((segment) => segment.text).join('');
      expect(data.tokenizer.decode([...example.labels].filter((id) => id !== -100), { skipSpecialTokens: false })).toBe(answer);
    });
    expect(compared).toBeGreaterThan(5);
  });

  it('premixed: the task sequence is cocktail mix\'s, and each row\'s ids and labels build the trainer\'s batches for the same draws', { timeout: 120_000 }, async () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    await mixCommand(['--recipe', join(dir, 'recipe.json'), '--json']);
    const mix = JSON.parse(String(log.mock.calls[0]![0])) as { sequence: number[] };
    log.mockRestore();
    for (const target of EXPORT_TARGETS) {
      const { files } = exportRecipe(request(target, 'premixed'));
      const rows = text(files, 'data/premixed.jsonl').trim().split('\n').map((line) => JSON.parse(line) as { task: string; input_ids: number[]; attention_mask: number[]; labels: number[] });
      expect(rows).toHaveLength(6 * 2 * 4);
      expect(rows.map((row) => recipe.tasks.findIndex((task) => task.name === row.task))).toEqual(mix.sequence);

      // The trainer: the sampler of its recipe, one micro-batch of batch_size draws at a time.
      const sampler = MixSampler.create(mixConfig(recipe, data.tasks, optimizerSteps(recipe, data.tasks)));
      const T = recipe.max_length;
      for (let micro = 0; micro < 6 * 2; micro++) {
        const draws = sampler.nextBatch();
        const ours = buildBatch(draws.map(({ task, row }) => ({ task, example: data.tasks[task]!.train[row]! })), T);
        const exported = rows.slice(micro * 4, micro * 4 + 4);
        const theirs = buildBatch(
          exported.map((row) => ({
            task: recipe.tasks.findIndex((task) => task.name === row.task),
            example: { source: { row: 0 }, inputIds: Int32Array.from(row.input_ids), labels: Int32Array.from(row.labels), turnIndex: new Int32Array(row.input_ids.length), roles: [], truncatedTokens: 0 },
          })),
          T,
        );
        expect(theirs.ids).toEqual(ours.ids);
        expect(theirs.targets).toEqual(ours.targets);
        expect(theirs.rowTask).toEqual(ours.rowTask);
        for (const row of exported) expect(row.attention_mask).toEqual(row.input_ids.map(() => 1));
      }
    }
  });

  it('premixed keeps the order: no shuffling, no packing, one pass', () => {
    const axolotl = YAML.parse(text(exportRecipe(request('axolotl', 'premixed')).files, 'config.yml')) as Record<string, unknown>;
    expect(axolotl).toMatchObject({ shuffle_merged_datasets: false, curriculum_sampling: true, sample_packing: false, num_epochs: 1, max_steps: 6, datasets: [{ path: 'data/premixed.jsonl', ds_type: 'json' }] });
    expect(axolotl.datasets).toEqual([{ path: 'data/premixed.jsonl', ds_type: 'json' }]);
    const factory = exportRecipe(request('llamafactory', 'premixed')).files;
    expect(YAML.parse(text(factory, 'config.yaml'))).toMatchObject({ disable_shuffling: true, packing: false, num_train_epochs: 1, tokenized_path: 'data/premixed_tokenized' });
    expect(text(factory, 'run.sh')).toContain('python prepare_tokenized.py');
    const trl = exportRecipe(request('trl', 'premixed')).files;
    expect(JSON.parse(text(trl, 'sft_config.json'))).toMatchObject({ packing: false, num_train_epochs: 1, max_steps: 6 });
    expect(text(trl, 'train.py')).toContain('SequentialSampler(self.train_dataset)');
  });

  it('every YAML and JSON file parses, every JSONL line too, and no file names a task path of this machine', { timeout: 60_000 }, () => {
    for (const target of EXPORT_TARGETS) {
      for (const mode of ['native', 'premixed'] as const) {
        const { files, copiedSources } = exportRecipe(request(target, mode));
        expect(copiedSources).toEqual(['sources/fpb/Sentences_50Agree.txt', 'sources/tweets/sent_train.csv', 'sources/alpaca/alpaca_en_demo.json']);
        for (const [path, content] of files) {
          if (typeof content !== 'string') continue;
          if (/\.ya?ml$/.test(path)) expect(() => YAML.parse(content), path).not.toThrow();
          if (path.endsWith('.json')) expect(() => JSON.parse(content), path).not.toThrow();
          if (path.endsWith('.jsonl')) for (const line of content.trim().split('\n')) expect(() => JSON.parse(line), path).not.toThrow();
          expect(content, path).not.toContain(fixturePath('datasets'));
        }
        const portable = parseRecipe(text(files, 'recipe.json'));
        for (const task of portable.tasks) if ('file' in task.source) expect(files.has(task.source.file)).toBe(true);
      }
    }
  });

  it('names in MAPPING.md every recipe field and what could not be carried over', () => {
    const { files, notes } = exportRecipe(request('axolotl', 'native'));
    const mapping = text(files, 'MAPPING.md');
    const fields = ['name', 'model.source', 'model.revision', 'lora.r', 'lora.alpha', 'lora.dropout', 'lora.targets', 'lora.rslora', 'lora.layout', 'optimizer.betas', 'schedule.kind', 'schedule.warmup_steps', 'batch_size', 'grad_accum', 'max_length', 'packing', 'train_on_prompts', 'steps', 'clip', 'nonfinite', 'recompute', 'eval_every', 'eval_examples', 'checkpoint_every', 'seed', 'mixture.strategy', 'mixture.regularizer_share', 'tasks[2].role'];
    for (const field of fields) expect(mapping, field).toMatch(new RegExp(`^\\| ${field.replace(/[.[\]]/g, '\\$&')} \\|`, 'm'));
    expect(notes.map((note) => note.field)).toEqual(expect.arrayContaining(['mixture', 'lora.dropout']));
    expect(mapping).toContain('Axolotl has no per-data-set sampling weights');
  });

  it('copies the adapter of lora.init_from into the export, and each target starts from it', () => {
    const initAdapter = { config: '{"peft_type": "LORA"}', weights: new Uint8Array([1, 2, 3]) };
    const continued = { ...request('axolotl', 'native'), recipe: { ...recipe, lora: { ...recipe.lora, init_from: 'runs/laptop/adapter' } }, initAdapter };
    const axolotl = exportRecipe(continued);
    expect(YAML.parse(text(axolotl.files, 'config.yml'))).toMatchObject({ lora_model_dir: 'init_adapter' });
    expect(axolotl.files.get('init_adapter/adapter_model.safetensors')).toEqual(initAdapter.weights);
    expect(text(axolotl.files, 'init_adapter/adapter_config.json')).toBe(initAdapter.config);
    expect(parseRecipe(text(axolotl.files, 'recipe.json')).lora.init_from).toBe('init_adapter');
    expect(text(axolotl.files, 'MAPPING.md')).toContain('| lora.init_from | "init_adapter" | `config.yml` lora_model_dir: "init_adapter"; copied into init_adapter/, where training starts from |');
    expect(axolotl.notes.map((note) => note.field)).not.toContain('lora.init_from');
    expect(YAML.parse(text(exportRecipe({ ...continued, target: 'llamafactory' }).files, 'config.yaml'))).toMatchObject({ adapter_name_or_path: 'init_adapter' });
    expect(JSON.parse(text(exportRecipe({ ...continued, target: 'trl' }).files, 'run.json'))).toMatchObject({ init_adapter: 'init_adapter' });
  });

  it('quantizes the cluster\'s base as model.dtype asks: bitsandbytes NF4 (QLoRA) for int4, LLM.int8() for int8, and says the codes differ from ours', () => {
    const quantized = (target: ExportTarget, dtype: 'int4' | 'int8', extra: Record<string, unknown> = {}) => exportRecipe({ ...request(target, 'native'), recipe: { ...recipe, model: { ...recipe.model, dtype, ...extra } } });

    const axolotl4 = text(quantized('axolotl', 'int4', { group_size: 32 }).files, 'config.yml');
    const axolotl8 = text(quantized('axolotl', 'int8').files, 'config.yml');
    expect(YAML.parse(axolotl4)).toMatchObject({ adapter: 'qlora', load_in_4bit: true });
    expect(YAML.parse(axolotl8)).toMatchObject({ adapter: 'lora', load_in_8bit: true });
    for (const [config, absent] of [[axolotl4, ['load_in_8bit', 'bf16', 'fp16']], [axolotl8, ['load_in_4bit', 'bf16', 'fp16']]] as const) {
      for (const key of absent) expect(YAML.parse(config), key).not.toHaveProperty(key);
      for (const [key, comment] of yamlKeysWithSources(config)) expect(comment, key).toMatch(/^# Axolotl .*https:\/\/docs\.axolotl\.ai\//);
    }

    const factory4 = text(quantized('llamafactory', 'int4').files, 'config.yaml');
    const factory8 = text(quantized('llamafactory', 'int8').files, 'config.yaml');
    expect(YAML.parse(factory4)).toMatchObject({ quantization_bit: 4, quantization_type: 'nf4', finetuning_type: 'lora' });
    expect(YAML.parse(factory8)).toMatchObject({ quantization_bit: 8 });
    expect(YAML.parse(factory8)).not.toHaveProperty('quantization_type');
    // Left to its default (bitsandbytes), which LLaMA-Factory versions spell differently.
    expect(YAML.parse(factory4)).not.toHaveProperty('quantization_method');
    for (const config of [factory4, factory8]) for (const [key, comment] of yamlKeysWithSources(config)) expect(comment, key).toMatch(/^# (LLaMA-Factory src\/llamafactory\/hparams\/\w+\.py|transformers TrainingArguments)/);

    const trl4 = quantized('trl', 'int4').files;
    expect(JSON.parse(text(trl4, 'run.json'))).toMatchObject({ quantization: { load_in_4bit: true, bnb_4bit_quant_type: 'nf4' } });
    expect(JSON.parse(text(quantized('trl', 'int8').files, 'run.json'))).toMatchObject({ quantization: { load_in_8bit: true } });
    expect(JSON.parse(text(exportRecipe(request('trl', 'native')).files, 'run.json'))).toMatchObject({ quantization: null });
    const script = text(trl4, 'train.py');
    expect(script).toContain('quantization = BitsAndBytesConfig(**run["quantization"])');
    expect(script).toContain('quantization_config=quantization');
    expect(script).toContain('prepare_model_for_kbit_training(model');

    // MAPPING.md: where model.dtype went, and why the losses will differ a little.
    const mapping4 = text(quantized('trl', 'int4', { group_size: 32 }).files, 'MAPPING.md');
    expect(mapping4).toMatch(/^\| model\.dtype \| "int4" \| .*quantized by bitsandbytes instead/m);
    expect(mapping4).toMatch(/^\| model\.group_size \| 32 \| NOT carried/m);
    expect(mapping4).toContain('group-wise int4 (round to nearest, groups of 32, with a zero point per group); the cluster loads the model with bitsandbytes NF4');
    expect(mapping4).toContain('close to ours but not equal');
    expect(text(quantized('axolotl', 'int8').files, 'MAPPING.md')).toContain('bitsandbytes LLM.int8()');
    expect(exportRecipe(request('axolotl', 'native')).notes.map((note) => note.field)).not.toContain('model.dtype');
  });

  it('refuses an unknown target with the list of targets, and a device count that does not divide the batch', () => {
    expect(() => parseExportTarget('unsloth')).toThrow('unknown export target "unsloth"; the targets are axolotl, llamafactory, trl');
    expect(() => exportRecipe(request('trl', 'native', { gpus: 3, nodes: 1 }))).toThrow(/8 examples per step .* cannot be shared evenly by 3 GPUs/);
  });
});
