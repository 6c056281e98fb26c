/**
 * The Tasks page's column mapping, as pure functions: guess a recipe format and which column plays
 * which part from a file's columns and first rows, and turn what the user chose (a TaskDraft, all
 * text as form fields hold it) into the RecipeTask the recipe stores. The parts of each format come
 * from the recipe's own definition (FORMAT_PARTS), so the form offers exactly what training reads.
 */
import { DEFAULT_METRIC, type Metric } from '../train/prepare/metric.ts';
import { FORMAT_PARTS } from '../train/prepare/format-mapping.ts';
import { importOptions, settingsOfOptions, DEFAULT_IMPORT_SETTINGS, type ImportSettings } from '../data/import/import-settings.ts';
import { MAX_LABEL_LENGTH, MAX_LABELS, type PreviewRow } from '../data/import/label-columns.ts';
import type { Recipe, RecipeTask, TaskFormat } from '../train/recipe.ts';

export type { Metric };

export const TASK_FORMATS: readonly { format: TaskFormat; label: string; description: string }[] = [
  { format: 'classification', label: 'Classification', description: 'a text and its label; the model learns to answer with the label word' },
  { format: 'qa', label: 'Question and answer', description: 'a question and a worked answer with a final answer to score' },
  { format: 'instruction', label: 'Instruction', description: 'an instruction, an optional input, and the output to learn' },
  { format: 'prompt_completion', label: 'Prompt and completion', description: 'the completion is learned, the prompt is context' },
  { format: 'messages', label: 'Chat messages', description: 'a conversation; the assistant turns are learned' },
  { format: 'text', label: 'Plain text', description: 'every token is learned (continued pre-training)' },
  { format: 'tokens', label: 'Pre-tokenized', description: 'input_ids and labels already made for this model’s tokenizer' },
];

export const METRIC_LABELS: Readonly<Record<Metric, string>> = {
  accuracy: 'Accuracy (the label word)',
  numeric_match: 'Numeric match (the final number)',
  exact_match: 'Exact match',
  rouge_l: 'ROUGE-L (word overlap)',
  loss: 'Validation loss only',
};

/** The metrics that can score a format, its default first. */
export function metricsFor(format: TaskFormat): Metric[] {
  const suitable: Record<TaskFormat, Metric[]> = {
    classification: ['accuracy', 'loss'],
    qa: ['numeric_match', 'exact_match', 'rouge_l', 'loss'],
    instruction: ['rouge_l', 'exact_match', 'numeric_match', 'loss'],
    messages: ['rouge_l', 'exact_match', 'numeric_match', 'loss'],
    prompt_completion: ['rouge_l', 'exact_match', 'numeric_match', 'loss'],
    text: ['loss'],
    tokens: ['loss'],
  };
  const metrics = suitable[format];
  return [DEFAULT_METRIC[format], ...metrics.filter((metric) => metric !== DEFAULT_METRIC[format])];
}

export function defaultMetric(format: TaskFormat): Metric {
  return DEFAULT_METRIC[format];
}

export interface PartInfo {
  key: string;
  /** What the form calls it. */
  label: string;
  /** A column of the file, or a setting typed in. */
  kind: 'column' | 'setting';
  /** What happens when it is left unset. */
  hint: string;
}

const PART_TEXT: Readonly<Record<string, { label: string; hint: string }>> = {
  instruction: { label: 'Instruction column', hint: 'Unset: the column named "instruction".' },
  input: { label: 'Input column', hint: 'Optional extra context shown after the instruction.' },
  output: { label: 'Output column', hint: 'What the model learns to answer. Unset: "output" (or "response").' },
  system: { label: 'System prompt column', hint: 'Optional.' },
  messages: { label: 'Messages column', hint: 'A list of {role, content} turns. Unset: "messages" (or "conversations").' },
  system_role: { label: 'Name of the system role', hint: 'Only when the file calls it something other than "system".' },
  user_role: { label: 'Name of the user role', hint: 'Only when the file calls it something other than "user" (e.g. "human").' },
  assistant_role: { label: 'Name of the assistant role', hint: 'Only when the file calls it something other than "assistant" (e.g. "gpt").' },
  prompt: { label: 'Prompt column', hint: 'Unset: the column named "prompt".' },
  completion: { label: 'Completion column', hint: 'Unset: the column named "completion".' },
  text: { label: 'Text column', hint: 'Unset: the column named "text" (or "sentence").' },
  label: { label: 'Label column', hint: 'Unset: the column named "label" (or "sentiment").' },
  question: { label: 'Question column', hint: 'Unset: the column named "question".' },
  answer: { label: 'Answer column', hint: 'Unset: the column named "answer".' },
  answer_marker: { label: 'Answer marker', hint: 'The text before the final answer. Unset: "####" as in GSM8K.' },
  answer_pattern: { label: 'Answer pattern', hint: 'A regular expression whose first group is the final answer; instead of a marker.' },
  input_ids: { label: 'Token ids column', hint: 'Unset: the column named "input_ids".' },
  labels: { label: 'Labels column', hint: 'Per-token labels, -100 for no loss. Unset: the column named "labels".' },
};

/** The parts of a format in the order the form shows them: columns first, then settings. */
export function formatParts(format: TaskFormat): PartInfo[] {
  const { columns, settings } = FORMAT_PARTS[format];
  const info = (key: string, kind: PartInfo['kind']): PartInfo => ({ key, kind, label: PART_TEXT[key]?.label ?? key, hint: PART_TEXT[key]?.hint ?? '' });
  return [...columns.map((key) => info(key, 'column')), ...settings.map((key) => info(key, 'setting'))];
}

/** Column names that usually hold each part, best first (compared without case, spaces, - or _). */
const SYNONYMS: Readonly<Record<string, readonly string[]>> = {
  instruction: ['instruction', 'instructions'],
  input: ['input', 'context'],
  output: ['output', 'response'],
  system: ['system', 'systemprompt'],
  messages: ['messages', 'conversations', 'conversation', 'chat', 'dialog'],
  prompt: ['prompt', 'source'],
  completion: ['completion', 'target', 'chosen'],
  text: ['text', 'sentence', 'content', 'tweet', 'document', 'body', 'passage'],
  label: ['label', 'labels', 'sentiment', 'class', 'category'],
  question: ['question', 'query', 'problem'],
  answer: ['answer', 'solution', 'response'],
  input_ids: ['inputids', 'ids', 'tokens'],
  labels: ['labels'],
};

const normalize = (name: string): string => name.toLowerCase().replace(/[\s_-]/g, '');

/** The file's column that matches one of `part`'s usual names, best synonym first. */
export function findColumn(part: string, columns: readonly string[]): string | undefined {
  for (const synonym of SYNONYMS[part] ?? [part]) {
    const column = columns.find((name) => normalize(name) === synonym);
    if (column !== undefined) return column;
  }
  return undefined;
}

export interface MappingSuggestion {
  format: TaskFormat;
  /** Part → column name; parts without a likely column are left out. */
  parts: Record<string, string>;
  /** Classification only: the label words text (see formatLabelWords). */
  labelWords: string;
}

/**
 * A starting point from the column names, and where those say nothing (a file without a header has
 * column_1, column_2, ...) from the values: a short column with few distinct values beside a long
 * one is a label for a text.
 */
export function suggestTaskMapping(columns: readonly string[], rows: readonly PreviewRow[], labelValues: Readonly<Record<string, readonly string[]>> = {}): MappingSuggestion {
  const format = suggestFormat(columns, rows);
  const parts = suggestParts(format, columns, rows);
  const label = parts.label;
  // Every label of the file when the importer counted them (labelColumnValues), else those of the preview.
  const labels = label === undefined ? {} : labelValues[label] ? wordsFor(labelValues[label]) : suggestLabels(rows, label);
  const labelWords = format === 'classification' && label !== undefined ? formatLabelWords(labels) : '';
  return { format, parts, labelWords };
}

function suggestFormat(columns: readonly string[], rows: readonly PreviewRow[]): TaskFormat {
  const has = (part: string) => findColumn(part, columns) !== undefined;
  if (columns.some((name) => normalize(name) === 'inputids')) return 'tokens';
  if (has('messages')) return 'messages';
  if (has('instruction') && has('output')) return 'instruction';
  if (columns.some((name) => normalize(name) === 'prompt') && columns.some((name) => normalize(name) === 'completion')) return 'prompt_completion';
  if (has('question') && has('answer')) return 'qa';
  if (has('text') && has('label')) return 'classification';
  if (has('text')) return 'text';
  return valueShapes(columns, rows).label !== undefined ? 'classification' : 'text';
}

/** Columns for each part of `format`: by name, else (text and label) by what the values look like. */
export function suggestParts(format: TaskFormat, columns: readonly string[], rows: readonly PreviewRow[]): Record<string, string> {
  const parts: Record<string, string> = {};
  for (const key of FORMAT_PARTS[format].columns) {
    const column = findColumn(key, columns);
    if (column !== undefined) parts[key] = column;
  }
  if (format === 'classification' || format === 'text') {
    const shapes = valueShapes(columns, rows);
    parts.text ??= shapes.text ?? '';
    if (format === 'classification') parts.label ??= shapes.label ?? '';
    for (const key of Object.keys(parts)) if (parts[key] === '') delete parts[key];
  }
  return parts;
}

function valueShapes(columns: readonly string[], rows: readonly PreviewRow[]): { text?: string; label?: string } {
  const stats = columns.map((column) => {
    const values = rows.map((row) => row.values[column]).filter((value) => value !== undefined && value !== null).map(String);
    const meanLength = values.length === 0 ? 0 : values.reduce((sum, value) => sum + value.length, 0) / values.length;
    return { column, meanLength, distinct: new Set(values).size, count: values.length, longest: Math.max(0, ...values.map((value) => value.length)) };
  });
  const text = [...stats].sort((a, b) => b.meanLength - a.meanLength)[0];
  const label = stats.find(
    (s) => s !== text && s.count > 0 && s.longest <= MAX_LABEL_LENGTH && s.distinct <= MAX_LABELS && (s.count < 4 || s.distinct < s.count),
  );
  return { ...(text && text.meanLength > 0 ? { text: text.column } : {}), ...(label ? { label: label.column } : {}) };
}

/**
 * The distinct labels among the rows, each mapped to itself when it already is a word (Financial
 * PhraseBank's "positive"), or to nothing yet when it is a code (the tweets' 0, 1, 2), for the user
 * to give a word.
 */
export function suggestLabels(rows: readonly PreviewRow[], labelColumn: string): Record<string, string> {
  return wordsFor(rows.map((row) => row.values[labelColumn]).filter((value) => value !== undefined && value !== null).map((value) => String(value).trim()));
}

function wordsFor(values: readonly string[]): Record<string, string> {
  const labels = [...new Set(values)].filter((label) => label !== '').sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
  return Object.fromEntries(labels.map((label) => [label, /\p{L}/u.test(label) ? label : '']));
}

/** "0 = Bearish" per line: how the form shows a verbalizer. */
export function formatLabelWords(labels: Readonly<Record<string, string>>): string {
  return Object.entries(labels)
    .map(([label, word]) => `${label} = ${word}`)
    .join('\n');
}

export interface ParsedLabelWords {
  /** Undefined when the text is empty: no verbalizer, the labels are taught as they are written. */
  labels?: Record<string, string>;
  problems: string[];
}

export function parseLabelWords(text: string): ParsedLabelWords {
  const labels: Record<string, string> = {};
  const problems: string[] = [];
  text.split(/\r?\n/).forEach((line, index) => {
    if (line.trim() === '') return;
    const at = `Line ${index + 1}`;
    const equals = line.indexOf('=');
    if (equals < 0) {
      problems.push(`${at}: write the label, "=", and its word, e.g. "0 = Bearish".`);
      return;
    }
    const label = line.slice(0, equals).trim();
    const word = line.slice(equals + 1).trim();
    if (label === '') problems.push(`${at}: the label before "=" is empty.`);
    else if (word === '') problems.push(`${at}: label "${label}" needs a word after "=" (or remove the line).`);
    else if (Object.hasOwn(labels, label)) problems.push(`${at}: label "${label}" is given twice.`);
    else labels[label] = word;
  });
  return Object.keys(labels).length === 0 && problems.length === 0 ? { problems } : { labels, problems };
}

/** The recipe task source for a file imported with these settings: a format is written only when one was chosen. */
export function fileSource(name: string, settings: ImportSettings): RecipeTask['source'] {
  const { format, splitting, delimiter, header } = importOptions(settings);
  return {
    file: name,
    ...(delimiter === undefined ? {} : { delimiter }),
    ...(header === undefined ? {} : { header }),
    ...(format === undefined ? {} : { file_format: format }),
    ...(splitting === undefined ? {} : { splitting }),
  };
}

/** The settings a file task's source says it is read with, for reading it again when the task is edited. */
export function settingsOfSource(source: RecipeTask['source']): ImportSettings {
  if (!('file' in source)) return DEFAULT_IMPORT_SETTINGS;
  return settingsOfOptions({
    ...(source.delimiter === undefined ? {} : { delimiter: source.delimiter }),
    ...(source.header === undefined ? {} : { header: source.header }),
    ...(source.file_format === undefined ? {} : { format: source.file_format }),
    ...(source.splitting === undefined ? {} : { splitting: source.splitting }),
  });
}

/** A task name from a file name: "Sentences_50Agree.txt" → "sentences_50agree". */
export function taskNameFromFile(fileName: string): string {
  const base = fileName.replace(/^.*[\\/]/, '').replace(/\.[^.]+$/, '');
  const name = base
    .toLowerCase()
    .replace(/[^\p{L}\p{N}]+/gu, '_')
    .replace(/^_+|_+$/g, '');
  return name || 'task';
}

/**
 * A file without a header has columns column_1, column_2, ... (the importer's names); the recipe
 * refers to those by position (counting from 0), as training reads them.
 */
export function isPositional(columns: readonly string[]): boolean {
  return columns.length > 0 && columns.every((name, index) => name === `column_${index + 1}`);
}

/** What the mapping form holds, as text the way form fields hold it. */
export interface TaskDraft {
  name: string;
  format: TaskFormat;
  /** Part or setting → column name or setting text; missing or '' means unset. Kept across format changes. */
  parts: Record<string, string>;
  labelWords: string;
  metric: Metric;
  role: RecipeTask['role'];
  validationFraction: string;
  maxExamples: string;
}

export function newDraft(name: string, suggestion: MappingSuggestion): TaskDraft {
  return {
    name,
    format: suggestion.format,
    parts: suggestion.parts,
    labelWords: suggestion.labelWords,
    metric: defaultMetric(suggestion.format),
    role: 'task',
    validationFraction: '0.1',
    maxExamples: '',
  };
}

/** The draft of a task already in the recipe, for editing it. */
export function draftFromTask(task: RecipeTask): TaskDraft {
  const parts = Object.fromEntries(Object.entries(task.columns ?? {}).map(([key, value]) => [key, typeof value === 'number' ? `column_${value + 1}` : value]));
  return {
    name: task.name,
    format: task.format,
    parts,
    labelWords: task.labels ? formatLabelWords(task.labels) : '',
    metric: task.metric ?? defaultMetric(task.format),
    role: task.role,
    validationFraction: String(task.validation_fraction),
    maxExamples: task.max_examples === undefined ? '' : String(task.max_examples),
  };
}

/** The draft with another format: parts it has no column for yet are suggested, the metric follows. */
export function withFormat(draft: TaskDraft, format: TaskFormat, columns: readonly string[], rows: readonly PreviewRow[]): TaskDraft {
  const suggested = suggestParts(format, columns, rows);
  const parts = { ...draft.parts };
  for (const [key, column] of Object.entries(suggested)) if (!parts[key]) parts[key] = column;
  const metric = metricsFor(format).includes(draft.metric) ? draft.metric : defaultMetric(format);
  return { ...draft, format, parts, metric };
}

export interface BuiltTask {
  task?: RecipeTask;
  /** What keeps the draft from being a task, each naming the field. */
  problems: string[];
}

/**
 * The RecipeTask for a draft and its source. `fileColumns` are the imported file's columns (none for
 * a Hub data set); `keep` is the task being edited, whose fields the form does not show (its
 * prompt template) are kept.
 */
export function buildRecipeTask(draft: TaskDraft, source: RecipeTask['source'], fileColumns: readonly string[] = [], keep?: RecipeTask): BuiltTask {
  const problems: string[] = [];
  const name = draft.name.trim();
  if (name === '') problems.push('Task name: give the task a name.');
  const positional = isPositional(fileColumns);
  const columns: Record<string, string | number> = {};
  for (const part of formatParts(draft.format)) {
    const value = draft.parts[part.key]?.trim() ?? '';
    if (value === '') continue;
    if (part.kind === 'column' && fileColumns.length > 0 && !fileColumns.includes(value)) {
      problems.push(`${part.label}: the file has no column "${value}".`);
      continue;
    }
    columns[part.key] = part.kind === 'column' && positional ? fileColumns.indexOf(value) : value;
  }
  const labelWords = draft.format === 'classification' ? parseLabelWords(draft.labelWords) : { problems: [] };
  problems.push(...labelWords.problems.map((problem) => `Label words: ${problem}`));
  const validationFraction = Number(draft.validationFraction);
  if (draft.validationFraction.trim() === '' || !(validationFraction >= 0 && validationFraction <= 0.5)) {
    problems.push('Validation fraction: a number from 0 to 0.5 (0.1 holds out a tenth of the rows).');
  }
  const maxExamples = draft.maxExamples.trim() === '' ? undefined : Number(draft.maxExamples);
  if (maxExamples !== undefined && !(Number.isSafeInteger(maxExamples) && maxExamples >= 1)) problems.push('Max examples: a whole number of at least 1, or empty for all.');
  if (!metricsFor(draft.format).includes(draft.metric)) problems.push(`Metric: ${draft.metric} cannot score a ${draft.format} task.`);
  if (problems.length > 0) return { problems };
  const task: RecipeTask = {
    name,
    source: withKeptValidationFile(source, keep),
    format: draft.format,
    ...(Object.keys(columns).length > 0 ? { columns } : {}),
    ...(keep?.template !== undefined ? { template: keep.template } : {}),
    ...(labelWords.labels ? { labels: labelWords.labels } : {}),
    metric: draft.metric,
    role: draft.role,
    validation_fraction: validationFraction,
    ...(maxExamples !== undefined ? { max_examples: maxExamples } : {}),
  };
  return { task, problems };
}

/** The form has no field for a validation file: an edited task reading the same file keeps the one its recipe names. */
function withKeptValidationFile(source: RecipeTask['source'], keep: RecipeTask | undefined): RecipeTask['source'] {
  if (!('file' in source) || source.validation_file !== undefined || !keep || !('file' in keep.source) || keep.source.file !== source.file) return source;
  return keep.source.validation_file === undefined ? source : { ...source, validation_file: keep.source.validation_file };
}

/** The recipe's problems about task `index` ("tasks[1].format" ...), with the path inside the task. */
export function taskProblems(problems: readonly { path: string; message: string }[], index: number): { path: string; message: string }[] {
  const prefix = `tasks[${index}]`;
  return problems
    .filter((problem) => problem.path === prefix || problem.path.startsWith(`${prefix}.`) || problem.path.startsWith(`${prefix}[`))
    .map((problem) => ({ path: problem.path.slice(prefix.length).replace(/^\./, ''), message: problem.message }));
}

/**
 * The recipe with task `oldName` replaced by `task` in its place; a renamed task keeps its mixture
 * weight under the new name.
 */
export function replaceTask(recipe: Recipe, oldName: string, task: RecipeTask): Recipe {
  const weights = recipe.mixture.weights;
  const renamedWeights =
    weights && oldName !== task.name && Object.hasOwn(weights, oldName)
      ? Object.fromEntries(Object.entries(weights).map(([name, weight]) => [name === oldName ? task.name : name, weight]))
      : weights;
  return {
    ...recipe,
    tasks: recipe.tasks.map((t) => (t.name === oldName ? task : t)),
    mixture: { ...recipe.mixture, ...(renamedWeights ? { weights: renamedWeights } : {}) },
  };
}
