/**
 * TRL with accelerate: train.py, which reads sft_config.json as trl.SFTConfig (a transformers
 * TrainingArguments) and lora_config.json as peft.LoraConfig, so every key is the keyword argument the
 * library documents (trl/trainer/sft_config.py; peft/tuners/lora/config.py; transformers
 * src/transformers/training_args.py), and run.json with what the script itself needs.
 *
 * Native mode: each task a prompt/completion JSONL (TRL's prompt-completion data set type, loss on the
 * completion), mixed by datasets.interleave_datasets with the recipe's probabilities. Premixed mode:
 * the pre-tokenized file in order, through transformers' Trainer (SFTTrainer's base class) with a
 * sequential sampler, since the rows are already tokenized and masked.
 */
import { CocktailError } from '../errors.ts';
import { adamwKeys, jsonl, keysObject, type ConfigKey } from './config-file.ts';
import { hfScheduler } from './axolotl.ts';
import { DEEPSPEED_CONFIG, OUTPUT_DIR, type ExportFiles, type ExportPlan } from './plan.ts';
import { bitsAndBytesConfig, clusterBits } from './quantization.ts';
import { asPromptCompletion, withoutUntrainedTail, type ExportRow } from './segments.ts';

const SFT_CONFIG_DOC = 'trl/trainer/sft_config.py (SFTConfig) and transformers src/transformers/training_args.py (TrainingArguments, its base)';
const LORA_CONFIG_DOC = 'peft src/peft/tuners/lora/config.py (LoraConfig)';

export const TRL_FILES = { script: 'train.py', sftConfig: 'sft_config.json', loraConfig: 'lora_config.json', run: 'run.json' } as const;

/**
 * A prompt/completion row. A conversation with loss on several answers has no prompt/completion form:
 * its last answer becomes the completion and the earlier ones part of the prompt (named in MAPPING.md).
 */
function trlRow(row: ExportRow, task: string): { prompt: string; completion: string } {
  if (row.kind === 'text') return { prompt: '', completion: row.text };
  if (row.kind === 'tokens') {
    throw new CocktailError('EXPORT_UNSUPPORTED', `task "${task}" is pre-tokenized; TRL's prompt/completion data cannot carry token ids, export with --mode premixed`, { task, field: 'format' });
  }
  const pair = asPromptCompletion(row.segments);
  if (pair) return pair;
  const segments = withoutUntrainedTail(row.segments);
  return { prompt: segments.slice(0, -1).map((segment) => segment.text).join(''), completion: segments.at(-1)!.text };
}

export function trlSftConfigKeys(plan: ExportPlan): ConfigKey[] {
  const { recipe, batch, mode } = plan;
  const doc = SFT_CONFIG_DOC;
  const evaluated = mode === 'premixed' ? (plan.premixedValidation ?? []).some((part) => part.rows.length > 0) : plan.tasks.some((task) => task.validation.length > 0);
  const keys: ConfigKey[] = [
    { key: 'output_dir', value: OUTPUT_DIR, source: doc },
    { key: 'max_length', value: recipe.max_length, source: doc, from: 'max_length' },
    { key: 'packing', value: mode === 'premixed' ? false : recipe.packing, source: doc, from: 'packing' },
    { key: 'completion_only_loss', value: !recipe.train_on_prompts, source: doc, from: 'train_on_prompts' },
    { key: 'per_device_train_batch_size', value: batch.perDevice, source: doc, from: 'batch_size' },
    { key: 'gradient_accumulation_steps', value: batch.accumulation, source: doc, from: 'grad_accum' },
    { key: 'max_steps', value: plan.steps, source: doc, from: recipe.steps === undefined ? 'epochs' : 'steps' },
    { key: 'num_train_epochs', value: 1, source: doc },
    { key: 'optim', value: 'adamw_torch', source: doc },
    ...adamwKeys(recipe, doc),
    { key: 'lr_scheduler_type', value: hfScheduler(recipe), source: doc, from: 'schedule.kind' },
    { key: 'warmup_steps', value: recipe.schedule.warmup_steps, source: doc, from: 'schedule.warmup_steps' },
    { key: 'seed', value: recipe.seed, source: doc, from: 'seed' },
    { key: 'save_steps', value: recipe.checkpoint_every, source: doc, from: 'checkpoint_every' },
    { key: 'gradient_checkpointing', value: recipe.recompute, source: doc, from: 'recompute' },
    { key: 'logging_steps', value: 1, source: doc },
    { key: 'eval_strategy', value: evaluated ? 'steps' : 'no', source: doc },
  ];
  if (evaluated) keys.push({ key: 'eval_steps', value: recipe.eval_every, source: doc, from: 'eval_every' }, { key: 'per_device_eval_batch_size', value: batch.perDevice, source: doc, from: 'batch_size' });
  if (recipe.model.dtype === 'bf16') keys.push({ key: 'bf16', value: true, source: doc, from: 'model.dtype' });
  if (recipe.model.dtype === 'f16') keys.push({ key: 'fp16', value: true, source: doc, from: 'model.dtype' });
  if (batch.devices > 1) keys.push({ key: 'deepspeed', value: DEEPSPEED_CONFIG, source: `${doc}; transformers docs, DeepSpeed integration` });
  return keys;
}

export function trlLoraConfigKeys(plan: ExportPlan): ConfigKey[] {
  const { lora } = plan.recipe;
  return [
    { key: 'r', value: lora.r, source: LORA_CONFIG_DOC, from: 'lora.r' },
    { key: 'lora_alpha', value: lora.alpha, source: LORA_CONFIG_DOC, from: 'lora.alpha' },
    { key: 'lora_dropout', value: lora.dropout, source: LORA_CONFIG_DOC, from: 'lora.dropout' },
    { key: 'target_modules', value: [...lora.targets], source: LORA_CONFIG_DOC, from: 'lora.targets' },
    { key: 'use_rslora', value: lora.rslora, source: LORA_CONFIG_DOC, from: 'lora.rslora' },
    { key: 'bias', value: 'none', source: LORA_CONFIG_DOC },
    { key: 'task_type', value: 'CAUSAL_LM', source: LORA_CONFIG_DOC },
  ];
}

export function trlFiles(plan: ExportPlan, files: ExportFiles): void {
  const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;
  files.set(TRL_FILES.sftConfig, json(keysObject(trlSftConfigKeys(plan))));
  files.set(TRL_FILES.loraConfig, json(keysObject(trlLoraConfigKeys(plan))));
  const bits = clusterBits(plan.recipe);
  const run: Record<string, unknown> = {
    model: plan.recipe.model.source,
    revision: plan.recipe.model.revision,
    mode: plan.mode,
    init_adapter: plan.initAdapter ?? null,
    // model.dtype int8/int4: transformers.BitsAndBytesConfig's keyword arguments, or null.
    quantization: bits === undefined ? null : bitsAndBytesConfig(bits),
  };
  if (plan.mode === 'premixed') {
    files.set('data/premixed.jsonl', jsonl(plan.premixed ?? []));
    run.train_file = 'data/premixed.jsonl';
    run.eval_files = {};
    for (const part of plan.premixedValidation ?? []) {
      if (part.rows.length === 0) continue;
      files.set(`data/${part.fileStem}.validation.jsonl`, jsonl(part.rows));
      (run.eval_files as Record<string, string>)[part.fileStem] = `data/${part.fileStem}.validation.jsonl`;
    }
  } else {
    run.train_files = plan.tasks.map((task) => `data/${task.fileStem}.train.jsonl`);
    run.probabilities = plan.mixture.probabilities;
    run.eval_files = Object.fromEntries(plan.tasks.filter((task) => task.validation.length > 0).map((task) => [task.fileStem, `data/${task.fileStem}.validation.jsonl`]));
    for (const task of plan.tasks) {
      files.set(`data/${task.fileStem}.train.jsonl`, jsonl(task.train.map((row) => trlRow(row, task.name))));
      if (task.validation.length > 0) files.set(`data/${task.fileStem}.validation.jsonl`, jsonl(task.validation.map((row) => trlRow(row, task.name))));
    }
  }
  files.set(TRL_FILES.run, json(run));
  files.set(TRL_FILES.script, TRAIN_SCRIPT);
}

const TRAIN_SCRIPT = `"""Trains the exported recipe with TRL (written by Cocktail Studio).

sft_config.json holds trl.SFTConfig's keyword arguments (trl/trainer/sft_config.py; SFTConfig extends
transformers.TrainingArguments), lora_config.json peft.LoraConfig's (peft/tuners/lora/config.py), and
run.json the model, its quantization (transformers.BitsAndBytesConfig's keyword arguments, or null),
the data files and, in native mode, each task's sampling probability.
Launch it as run.sh shows: python, accelerate launch, or torchrun.
"""
import json
import os

import torch
from datasets import interleave_datasets, load_dataset
from peft import LoraConfig, PeftModel, get_peft_model, prepare_model_for_kbit_training
from transformers import AutoModelForCausalLM, AutoTokenizer, BitsAndBytesConfig, DataCollatorForSeq2Seq, Trainer
from trl import SFTConfig, SFTTrainer

HERE = os.path.dirname(os.path.abspath(__file__))


def read_json(name):
    with open(os.path.join(HERE, name)) as file:
        return json.load(file)


def rows(path):
    return load_dataset("json", data_files=os.path.join(HERE, path), split="train")


run = read_json("run.json")
args = SFTConfig(**read_json("sft_config.json"))
lora = LoraConfig(**read_json("lora_config.json"))
tokenizer = AutoTokenizer.from_pretrained(run["model"], revision=run["revision"])
if run["quantization"]:
    # QLoRA (4-bit NF4) or LLM.int8(): the frozen base in bitsandbytes, each process on its own GPU.
    quantization = BitsAndBytesConfig(**run["quantization"])
    device = {"": int(os.environ.get("LOCAL_RANK", "0"))}
    model = AutoModelForCausalLM.from_pretrained(run["model"], revision=run["revision"], quantization_config=quantization, device_map=device)
    model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=args.gradient_checkpointing)
else:
    model = AutoModelForCausalLM.from_pretrained(run["model"], revision=run["revision"])
evaluation = {name: rows(path) for name, path in run["eval_files"].items()} or None
if run["init_adapter"]:
    # The recipe continues from an adapter (lora.init_from): train that one rather than a fresh one.
    model = PeftModel.from_pretrained(model, os.path.join(HERE, run["init_adapter"]), is_trainable=True)

if run["mode"] == "premixed":

    class InOrderTrainer(Trainer):
        """Reads the rows in the file's order: the order the studio's sampler drew them in."""

        def _get_train_sampler(self, *args, **kwargs):
            return torch.utils.data.SequentialSampler(self.train_dataset)

    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    trainer = InOrderTrainer(
        model=model if run["init_adapter"] else get_peft_model(model, lora),
        args=args,
        train_dataset=rows(run["train_file"]).remove_columns(["task"]),
        eval_dataset=evaluation,
        data_collator=DataCollatorForSeq2Seq(tokenizer, label_pad_token_id=-100, padding=True),
    )
else:
    tasks = [rows(path) for path in run["train_files"]]
    train = tasks[0] if len(tasks) == 1 else interleave_datasets(tasks, probabilities=run["probabilities"], seed=args.seed, stopping_strategy="all_exhausted")
    peft = {} if run["init_adapter"] else {"peft_config": lora}
    trainer = SFTTrainer(model=model, args=args, train_dataset=train, eval_dataset=evaluation, processing_class=tokenizer, **peft)

trainer.train()
trainer.save_model(args.output_dir)
`;
