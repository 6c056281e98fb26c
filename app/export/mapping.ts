/**
 * MAPPING.md: every field of the recipe, what it became in the target's files, and what could not be
 * carried over exactly. Nothing is dropped silently: a field with no key says where it went instead.
 */
import type { ConfigKey } from './config-file.ts';
import type { ExportNote, ExportPlan } from './plan.ts';
import { clusterBits, quantizationNotes } from './quantization.ts';
import { TARGET_TITLES } from './targets.ts';

/** Recipe fields that no configuration key carries, and where they went. */
const APPLIED_IN_DATA = 'applied while writing the data: the exported rows are the examples this produced';

function fieldRows(plan: ExportPlan): { field: string; value: unknown; became?: string }[] {
  const { recipe } = plan;
  const rows: { field: string; value: unknown; became?: string }[] = [
    { field: 'name', value: recipe.name ?? null, became: 'the title of README.md and of the configuration' },
    { field: 'model.source', value: recipe.model.source },
    { field: 'model.revision', value: recipe.model.revision },
    { field: 'model.dtype', value: recipe.model.dtype ?? null, became: !recipe.model.dtype ? 'unset: the target loads the model in its default precision' : clusterBits(recipe) ? 'quantized by bitsandbytes instead: close, not equal (see the notes)' : undefined },
  ];
  if (recipe.model.group_size !== undefined) rows.push({ field: 'model.group_size', value: recipe.model.group_size, became: 'NOT carried: see the notes' });
  if (recipe.model.symmetric !== undefined) rows.push({ field: 'model.symmetric', value: recipe.model.symmetric, became: 'NOT carried: see the notes' });
  recipe.tasks.forEach((task, i) => {
    const p = `tasks[${i}]`;
    rows.push(
      { field: `${p}.name`, value: task.name, became: `data set name "${plan.tasks[i]?.fileStem}"` },
      { field: `${p}.source`, value: task.source, became: 'read by Cocktail Studio; its examples are written under data/ (a local file is copied into sources/, where recipe.json points)' },
      { field: `${p}.format`, value: task.format, became: `rows of kind "${plan.tasks[i]?.kind}" (${APPLIED_IN_DATA})` },
      { field: `${p}.columns`, value: task.columns ?? null, became: APPLIED_IN_DATA },
      { field: `${p}.template`, value: task.template ?? null, became: `the text is rendered with it (${APPLIED_IN_DATA})` },
      { field: `${p}.labels`, value: task.labels ?? null, became: APPLIED_IN_DATA },
      { field: `${p}.metric`, value: task.metric ?? null, became: 'not carried: the targets report loss; score the adapter with `cocktail eval` or on the Evaluate page' },
      { field: `${p}.role`, value: task.role, became: 'part of the mixture probabilities (regularizer share)' },
      { field: `${p}.validation_fraction`, value: task.validation_fraction, became: `${APPLIED_IN_DATA}; the held-out examples are the evaluation sets` },
      { field: `${p}.max_examples`, value: task.max_examples ?? null, became: APPLIED_IN_DATA },
    );
  });
  const m = recipe.mixture;
  const mixtureBecame = plan.mode === 'premixed' ? 'the order of data/premixed.jsonl (exact)' : undefined;
  rows.push(
    { field: 'mixture.strategy', value: m.strategy, ...(mixtureBecame ? { became: mixtureBecame } : {}) },
    { field: 'mixture.temperature', value: m.temperature ?? null, became: mixtureBecame ?? 'part of the mixture probabilities' },
    { field: 'mixture.cap', value: m.cap ?? null, became: mixtureBecame ?? 'part of the mixture probabilities' },
    { field: 'mixture.weights', value: m.weights ?? null, became: mixtureBecame ?? 'part of the mixture probabilities' },
    { field: 'mixture.per', value: m.per, became: mixtureBecame ?? 'see the notes' },
    { field: 'mixture.regularizer_share', value: m.regularizer_share ?? null, became: mixtureBecame ?? 'part of the mixture probabilities' },
    { field: 'lora.r', value: recipe.lora.r },
    { field: 'lora.alpha', value: recipe.lora.alpha },
    { field: 'lora.dropout', value: recipe.lora.dropout },
    { field: 'lora.targets', value: recipe.lora.targets },
    { field: 'lora.rslora', value: recipe.lora.rslora },
    { field: 'lora.layout', value: recipe.lora.layout, became: recipe.lora.layout === 'shared' ? 'one adapter, as the targets train' : 'NOT carried: see the notes' },
    { field: 'lora.init_from', value: recipe.lora.init_from ?? null, became: !recipe.lora.init_from ? 'unset: the adapter starts fresh, as PEFT initialises it' : plan.initAdapter ? `copied into ${plan.initAdapter}/, where training starts from` : 'NOT carried: see the notes' },
    { field: 'optimizer.lr', value: recipe.optimizer.lr },
    { field: 'optimizer.betas', value: recipe.optimizer.betas },
    { field: 'optimizer.eps', value: recipe.optimizer.eps },
    { field: 'optimizer.weight_decay', value: recipe.optimizer.weight_decay },
    { field: 'schedule.kind', value: recipe.schedule.kind },
    { field: 'schedule.warmup_steps', value: recipe.schedule.warmup_steps },
    { field: 'batch_size', value: recipe.batch_size, became: `${plan.batch.perDevice} per device × ${plan.batch.devices} device(s) × ${plan.batch.accumulation} accumulation = ${plan.batch.global} examples per step (batch_size × grad_accum)` },
    { field: 'grad_accum', value: recipe.grad_accum },
    { field: 'max_length', value: recipe.max_length },
    { field: 'packing', value: recipe.packing },
    { field: 'train_on_prompts', value: recipe.train_on_prompts },
    { field: 'steps', value: recipe.steps ?? null },
    { field: 'epochs', value: recipe.epochs ?? null, became: recipe.epochs === undefined ? 'unset' : `${plan.steps} optimizer steps, as the studio counts them` },
    { field: 'clip', value: recipe.clip },
    { field: 'nonfinite', value: recipe.nonfinite, became: 'NOT carried: see the notes' },
    { field: 'recompute', value: recipe.recompute },
    { field: 'eval_every', value: recipe.eval_every },
    { field: 'eval_examples', value: recipe.eval_examples, became: 'NOT carried: the targets evaluate the whole validation sets' },
    { field: 'eval_max_new_tokens', value: recipe.eval_max_new_tokens, became: 'NOT carried: the targets evaluate by loss; generation metrics come from `cocktail eval`' },
    { field: 'checkpoint_every', value: recipe.checkpoint_every },
    { field: 'seed', value: recipe.seed },
  );
  return rows;
}

const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

export function mappingMarkdown(plan: ExportPlan, configs: readonly { file: string; keys: readonly ConfigKey[] }[], copiedSources: readonly string[]): string {
  const keyFor = (field: string) =>
    configs.flatMap(({ file, keys }) =>
      keys
        .filter((entry) => entry.from !== undefined && (entry.from === field || entry.from.startsWith(`${field}[`) || entry.from.split(', ').includes(field) || (field.startsWith('tasks[') && entry.from === 'tasks' && field.endsWith('.name'))))
        .map((entry) => `\`${file}\` ${entry.key}: ${JSON.stringify(entry.value)}`),
    );
  const lines = [
    `# MAPPING: recipe "${plan.recipe.name ?? 'recipe'}" → ${TARGET_TITLES[plan.target]} (${plan.mode} mode)`,
    '',
    'Every recipe field, and what it became. A configuration key is followed, in its file, by the documentation that names it.',
    'These key names were written from the targets\' documentation and sources without running the targets here: check the',
    'first log lines of a run (the loaded configuration, the first tokenized rows) before a long job.',
    '',
    '| recipe field | value | became |',
    '| --- | --- | --- |',
  ];
  for (const row of fieldRows(plan)) {
    const keys = keyFor(row.field);
    const became = [...keys, ...(row.became ? [row.became] : [])].join('; ') || 'not used by this target';
    lines.push(`| ${row.field} | ${cell(JSON.stringify(row.value))} | ${cell(became)} |`);
  }
  lines.push('', '## Settings the target needs to keep the studio\'s behaviour', '');
  for (const { file, keys } of configs) for (const entry of keys.filter((k) => k.from === undefined)) lines.push(`- \`${file}\` ${entry.key}: ${JSON.stringify(entry.value)} (${entry.source})`);
  lines.push('', '## What could not be carried over exactly', '');
  for (const note of plan.notes) lines.push(`- **${note.field}**: ${note.message}`);
  if (copiedSources.length > 0) lines.push('', '## Task files', '', `Copied into this folder: ${copiedSources.map((s) => `\`${s}\``).join(', ')}.`);
  return `${lines.join('\n')}\n`;
}

export function standingNotes(plan: Pick<ExportPlan, 'recipe' | 'mode' | 'target'> & { initAdapterCopied: boolean }): ExportNote[] {
  const notes: ExportNote[] = [
    { field: 'lora.dropout', message: 'the dropout masks come from the target\'s random number generator, not ours: the same rate, different draws' },
    {
      field: 'grad_accum',
      message: 'the studio averages the loss over every labelled token of the whole step; transformers averages per micro-batch unless it counts the step\'s tokens (recent versions do, with num_items_in_batch), so steps of uneven lengths weigh slightly differently',
    },
    { field: 'nonfinite', message: `the studio ${plan.recipe.nonfinite === 'skip' ? 'skips' : 'stops at'} a step with a non-finite loss or gradient; the targets have no such switch` },
    ...quantizationNotes(plan.recipe),
  ];
  if (plan.mode === 'native') {
    notes.push({
      field: 'tasks[].template',
      message: 'each answer ends with the tokenizer\'s EOS written as text where the studio appends the EOS token; a target version that appends its own EOS to an answer trains a second one: check the first tokenized rows in its log (premixed mode carries token ids and has no such question)',
    });
  }
  const source = plan.recipe.model.source;
  if (!/^[\w.-]+\/[\w.-]+$/.test(source) || source.startsWith('local/')) {
    notes.push({ field: 'model.source', message: `"${source}" is a model folder of this machine, not a Hub id: put the model at that path on the cluster, or write its Hub id in the configuration` });
  }
  if (plan.recipe.lora.layout === 'per_task') notes.push({ field: 'lora.layout', message: 'per-task adapters have no counterpart in the targets: one shared adapter is trained; export each task alone for one adapter each' });
  if (plan.recipe.lora.init_from && !plan.initAdapterCopied) notes.push({ field: 'lora.init_from', message: `the run continues from adapter "${plan.recipe.lora.init_from}" in the studio; the export starts a fresh adapter (give the target its own option to load it)` });
  return notes;
}
