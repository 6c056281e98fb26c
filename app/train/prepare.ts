/**
 * A recipe's tasks, from the files (or Hub splits) they name to what the trainer and the evaluator
 * read (PreparedTask): import, map to examples, drop bad rows with their reasons kept, split, cap,
 * tokenize (through the cache when storage is given), and build the validation prompts.
 *
 * ```
 * recipe task ─ prepare/format-mapping.ts, templates.ts, metric.ts   (checked for every task first)
 *      │
 *      ├─ prepare/read-sources.ts   file(s) through openFile, or Hub split(s)
 *      ├─ prepare/map-source.ts     FormatMapping, bad rows dropped and reported
 *      ├─ prepare/split-task.ts     validation file or seeded split, max_examples
 *      ├─ prepare/tokenize-part.ts  train and validation, cached by content
 *      └─ prepare/validation-prompts.ts
 * ```
 *
 * Every task's format, columns, template and metric are checked before any file is read, so a typo in
 * the last task fails in a moment rather than after the first task's import. Tasks are then prepared
 * one after another (one file's rows in memory at a time). Every message names the task and the file.
 */
import { createRowMapper, DataError, ProblemLog, type Example, type FetchLike, type FormatMapping, type LabelSet } from '../data/index.ts';
import { deduplicate } from '../data/dedupe.ts';
import { formatTokenizeReport, tokenizeTask, type ExampleTokenization, type TaskTokenStatistics, type TemplateChoice, type TokenizeOptions, type TokenizeReport } from '../data/tokenize/index.ts';
import type { TokenizedExample } from '../data/tokenize/types.ts';
import type { TextTokenizer } from '../model/tokenizer.ts';
import type { Json, Storage } from '../store/storage.ts';
import { throwIfCancelled } from './prepare/cancel.ts';
import { describeTask, PrepareError } from './prepare/errors.ts';
import { planMapping, type MappingPlan } from './prepare/format-mapping.ts';
import { mapSource, type MappedSource, type SourceReport } from './prepare/map-source.ts';
import { hasValidationPrompts, taskMetric, type Metric } from './prepare/metric.ts';
import { importTaskSources, type ImportedSource } from './prepare/read-sources.ts';
import { splitTask, type SplitReport } from './prepare/split-task.ts';
import { planTemplate, type TemplatePlan } from './prepare/templates.ts';
import { tokenizePart, type CacheReport, type PartCache } from './prepare/tokenize-part.ts';
import { validationPrompts } from './prepare/validation-prompts.ts';
import { evaluatedValidation, splitCandidates } from './prepare/evaluated-rows.ts';
import type { Recipe, RecipeTask, TaskFormat } from './recipe.ts';
import { IGNORE_INDEX } from './batch.ts';
import type { PreparedTask } from './task-data.ts';

export { PrepareError, type PrepareErrorCode } from './prepare/errors.ts';
export { DEFAULT_METRIC } from './prepare/metric.ts';
export { PLAIN_TEMPLATE_BY_FORMAT } from './prepare/templates.ts';
export { defaultClassificationTemplate } from './prepare/format-mapping.ts';
export type { SourceReport } from './prepare/map-source.ts';
export type { SplitReport } from './prepare/split-task.ts';
export type { CacheReport } from './prepare/tokenize-part.ts';

/** Raise when preparation gives different examples for the same recipe and files, so cached tokenizations miss. */
export const PREPARATION_VERSION = 2;

export type PrepareStage = 'import' | 'map' | 'tokenize';

/** Progress of one task: bytes read (import), rows mapped (map), examples tokenized, train then validation (tokenize). */
export interface PrepareProgress {
  readonly task: string;
  readonly stage: PrepareStage;
  readonly done: number;
  readonly total: number;
}

interface PrepareOptionsBase {
  readonly tokenizer: TextTokenizer;
  /**
   * The model's vocab_size: every token id and label must be below it (a tokenizer may know more
   * tokens than the model has rows). The GPU's loss counts only labels in [0, vocab_size), so a label
   * outside would make the CPU's and the GPU's label counts differ.
   */
  readonly modelVocabSize?: number;
  /** Opens a path of the recipe (the caller resolves it against the recipe file's folder). */
  openFile(path: string): Promise<Blob>;
  /** For Hub sources; globalThis.fetch when omitted. */
  readonly fetch?: FetchLike;
  /** Default https://huggingface.co; a mirror, or a local server in tests. */
  readonly hubEndpoint?: string;
  /** For gated or private Hub data sets. */
  readonly hubAccessToken?: string;
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: PrepareProgress) => void;
  /** Keep each task's examples before tokenization (PreparedTasks.examples); they cost memory, so only an export asks. */
  readonly keepExamples?: boolean;
  /**
   * Tokenize only the validation examples an evaluation scores (the recipe's eval_examples), as a run
   * does: the rest of a large split would be tokenized for nothing. Exports and audits leave it out
   * and get the whole split.
   */
  readonly evaluatedOnly?: boolean;
}

/**
 * With `storage`, tokenized tasks are cached in its "datasets" store. The cache key includes the
 * tokenizer's identity (tokenizerIdentity() of the model's files, app/data/tokenize), which a
 * TextTokenizer cannot tell about itself, so the two come together.
 */
export type PrepareOptions = PrepareOptionsBase & ({ readonly storage?: undefined } | { readonly storage: Storage; readonly tokenizerIdentity: string });

export interface TaskPreparationReport {
  readonly task: string;
  readonly format: TaskFormat;
  readonly role: RecipeTask['role'];
  readonly metric: Metric;
  /** How conversations were rendered. */
  readonly template: TemplateChoice;
  /** The app/data mapping the task's main source was read with (column positions resolved to names). */
  readonly mapping: FormatMapping;
  /** The main source, then the validation file or split when there is one. */
  readonly sources: readonly SourceReport[];
  /** Records of the main source, before anything was dropped. */
  readonly rows: number;
  /** Rows dropped for errors over all sources; each source's `validation` report says which and why. */
  readonly droppedRows: number;
  /** Classification: labels, their words and counts in the main source. */
  readonly labels?: LabelSet;
  readonly split: SplitReport;
  readonly tokenize: { readonly train: TokenizeReport; readonly validation: TokenizeReport };
  /** Token counts of the training examples (for the mixture preview). */
  readonly statistics: TaskTokenStatistics;
  /** Present when storage was given. */
  readonly cache?: { readonly train: CacheReport; readonly validation: CacheReport };
}

export interface PreparedTasks {
  readonly tasks: PreparedTask[];
  /** One per task, in the recipe's order. */
  readonly reports: TaskPreparationReport[];
  /** With options.keepExamples: each task's examples before tokenization, for writing them in another engine's format. */
  readonly examples?: TaskExamples[];
}

/** A task's normalized examples (before tokenization) and how its conversations are rendered to text. */
export interface TaskExamples {
  readonly train: readonly Example[];
  readonly validation: readonly Example[];
  readonly rendering: TemplateChoice;
}

interface TaskPlan {
  readonly task: RecipeTask;
  readonly mapping: MappingPlan;
  readonly template: TemplatePlan;
  readonly metric: Metric;
}

export async function prepareTasks(recipe: Recipe, options: PrepareOptions): Promise<PreparedTasks> {
  const plans = recipe.tasks.map((task) => planTask(task, options.tokenizer));
  const tasks: PreparedTask[] = [];
  const reports: TaskPreparationReport[] = [];
  const examples: TaskExamples[] = [];
  for (const plan of plans) {
    throwIfCancelled(options.signal, plan.task.name);
    const { task, report, split } = await prepareTask(recipe, plan, options);
    tasks.push(task);
    reports.push(report);
    if (options.keepExamples) examples.push({ train: split.train, validation: split.validation, rendering: plan.template.rendering });
  }
  return { tasks, reports, ...(options.keepExamples ? { examples } : {}) };
}

/** Everything about a task that can be checked without its file. */
function planTask(task: RecipeTask, tokenizer: TextTokenizer): TaskPlan {
  const metric = taskMetric(task);
  const template = planTemplate(task, tokenizer);
  const mapping = planMapping(task, { vocabSize: tokenizer.vocabSize, ...(template.promptTemplate === undefined ? {} : { promptTemplate: template.promptTemplate }) });
  try {
    // No columns are known yet, so this checks templates and label sets only.
    createRowMapper(mapping.withoutFile(), { log: new ProblemLog(task.name) });
  } catch (error) {
    if (error instanceof DataError && error.code === 'DATA_BAD_MAPPING') {
      throw new PrepareError('PREPARE_BAD_MAPPING', `${describeTask(task.name)}: ${error.message}`, { task: task.name, cause: error.code });
    }
    throw error;
  }
  return { task, mapping, template, metric };
}

async function prepareTask(recipe: Recipe, plan: TaskPlan, options: PrepareOptions): Promise<{ task: PreparedTask; report: TaskPreparationReport; split: ReturnType<typeof splitTask> }> {
  const { task } = plan;
  const { tokenizer, signal } = options;
  const progress = (stage: PrepareStage) => (done: number, total: number) => options.onProgress?.({ task: task.name, stage, done, total });

  const sources = await importTaskSources(task, { ...options, onProgress: progress('import') });
  const mapped = await mapSources(plan, sources.train, sources.validation, signal, progress('map'));
  checkLabelCount(task, sources.train.name, mapped.train);
  const split = splitTask(task, recipe.seed, withoutDuplicates(task, mapped.train.examples), mapped.validation && withoutDuplicates(task, mapped.validation.examples));

  // An example longer than max_length loses the end of its answer (or is dropped), never the start of
  // its prompt: cutting from the left left Alpaca rows without their instruction.
  const tokenizeOptions: TokenizeOptions = { template: plan.template.rendering, trainOnPrompts: recipe.train_on_prompts, maxLength: recipe.max_length, truncationSide: 'right', overlong: recipe.overlong };
  const trainLabel = `${task.name} (${sources.train.name})`;
  const validationSource = sources.validation ?? sources.train;
  const validationLabel = `${task.name} (${validationSource.name})`;
  const labels = mapped.train.summary.labels;
  const labelWords = task.format === 'classification' && labels ? labels.words : undefined;
  const requested = recipe.eval_whole_split ? 'all' : recipe.eval_examples;
  const sampleTarget = options.evaluatedOnly && requested !== 'all' ? Math.min(requested, split.validation.length) : split.validation.length;
  let tokenizeTotal = split.train.length + sampleTarget;
  const tokenizeProgress = progress('tokenize');
  const preparation = (part: 'train' | 'validation'): Json => ({
    version: PREPARATION_VERSION,
    mapping: (part === 'validation' && mapped.validation ? mapped.validation : mapped.train).mapping as unknown as Json,
    badRows: 'drop',
    ...(task.drop_duplicates ? { dropDuplicates: true } : {}),
    split: { method: split.report.method, validation_fraction: task.validation_fraction, seed: recipe.seed, ...(part === 'train' ? { max_examples: task.max_examples ?? null } : {}) },
    part,
    // The sample depends on the task's name too (it seeds it), which nothing else here holds.
    ...(part === 'validation' && evaluated.sample ? { evaluated: { task: task.name, requested: evaluated.sample.requested } } : {}),
  });
  const cacheFor = async (source: ImportedSource, part: 'train' | 'validation'): Promise<PartCache | undefined> =>
    options.storage === undefined
      ? undefined
      : { storage: options.storage, tokenizerIdentity: options.tokenizerIdentity, source: await source.fingerprint(), preparation: preparation(part) };

  const train = await tokenizePart(
    split.train,
    tokenizer,
    tokenizeOptions,
    { label: trainLabel, signal, onProgress: ({ done }) => tokenizeProgress(done, tokenizeTotal) },
    await cacheFor(sources.train, 'train'),
  );
  if (train.task.examples.length === 0) {
    throw new PrepareError('PREPARE_NO_EXAMPLES', `${describeTask(task.name, sources.train.name)}: no training example has a token to learn from.\n${formatTokenizeReport(train.task.report)}`, {
      task: task.name,
      file: sources.train.name,
    });
  }
  // A run tokenizes the sample's candidates as its draw asks about them; the sample then goes through the
  // cache (which stores it, keyed by what it was drawn for), and on a miss reuses the draw's tokenizations.
  const drawnTokenizations = new Map<Example, ExampleTokenization>();
  let drawn = 0;
  const evaluated = options.evaluatedOnly
    ? await evaluatedValidation({ name: task.name, metric: plan.metric, ...(labelWords ? { labelWords } : {}) }, split.validation, requested, recipe.seed, async (asked) => {
        tokenizeTotal = Math.max(tokenizeTotal, split.train.length + drawn + asked.length);
        const tokenized = await tokenizeTask(asked, tokenizer, tokenizeOptions, {
          task: validationLabel,
          signal,
          onProgress: ({ done }) => tokenizeProgress(split.train.length + drawn + done, tokenizeTotal),
          tokenizations: drawnTokenizations,
        });
        drawn += asked.length;
        return new Set(tokenized.examples.map((example) => example.source.row));
      })
    : { examples: split.validation };
  const validationExamples = evaluated.examples;
  const validation = await tokenizePart(
    validationExamples,
    tokenizer,
    tokenizeOptions,
    evaluated.sample
      ? { label: validationLabel, signal, tokenizations: drawnTokenizations }
      : { label: validationLabel, signal, onProgress: ({ done }) => tokenizeProgress(split.train.length + done, tokenizeTotal) },
    await cacheFor(validationSource, 'validation'),
  );
  if (evaluated.sample) tokenizeProgress(split.train.length + drawn, split.train.length + drawn);
  const dropped = !evaluated.sample && validation.task.examples.length < validationExamples.length;
  if (options.modelVocabSize !== undefined) {
    checkVocabulary(train.task.examples, options.modelVocabSize, task.name, sources.train.name);
    checkVocabulary(validation.task.examples, options.modelVocabSize, task.name, validationSource.name);
  }
  const prompts = hasValidationPrompts(task.format)
    ? validationPrompts(validation.task.examples, validationExamples, tokenizer, {
        template: plan.template.rendering,
        maxLength: recipe.max_length,
        label: validationLabel,
        ...(labelWords ? { labelWords } : {}),
      })
    : [];

  const sourceReports = [mapped.train.report, ...(mapped.validation ? [mapped.validation.report] : [])];
  return {
    split,
    task: {
      name: task.name,
      role: task.role,
      metric: plan.metric,
      train: train.task.examples,
      validation: validation.task.examples,
      validationPrompts: prompts,
      ...(labelWords ? { labelWords } : {}),
      ...(evaluated.sample ? { validationSample: evaluated.sample } : {}),
      ...(dropped ? { validationSplit: splitCandidates(validationExamples) } : {}),
      meanTokens: train.statistics.meanTokensPerExample,
    },
    report: {
      task: task.name,
      format: task.format,
      role: task.role,
      metric: plan.metric,
      template: plan.template.rendering,
      mapping: mapped.train.mapping,
      sources: sourceReports,
      rows: mapped.train.report.rows,
      droppedRows: sourceReports.reduce((sum, source) => sum + source.droppedRows, 0),
      ...(labels ? { labels } : {}),
      split: split.report,
      tokenize: { train: train.task.report, validation: validation.task.report },
      statistics: train.statistics,
      ...(train.cache && validation.cache ? { cache: { train: train.cache, validation: validation.cache } } : {}),
    },
  };
}

/** Refuses the first example with a token id or label (other than IGNORE_INDEX) outside [0, vocabSize), naming its row. */
function checkVocabulary(examples: readonly TokenizedExample[], vocabSize: number, task: string, file: string): void {
  for (const example of examples) {
    for (const [field, values] of [['input_ids', example.inputIds], ['labels', example.labels]] as const) {
      const at = values.findIndex((value) => !(field === 'labels' && value === IGNORE_INDEX) && (value < 0 || value >= vocabSize));
      if (at < 0) continue;
      throw new PrepareError(
        'PREPARE_OUT_OF_VOCABULARY',
        `${describeTask(task, file)}, row ${example.source.row}: ${field}[${at}] is ${values[at]}, outside the model's vocabulary [0, ${vocabSize})${field === 'labels' ? ` (a label is ${IGNORE_INDEX} or a token id)` : ''}; the rows were made for another model`,
        { task, file, row: example.source.row, field, index: at, value: values[at] },
      );
    }
  }
}

/** With drop_duplicates, the first of each set of rows whose content is equal (app/data/dedupe.ts) is kept. */
function withoutDuplicates(task: RecipeTask, examples: readonly Example[]): readonly Example[] {
  return task.drop_duplicates ? deduplicate(examples).kept : examples;
}

/** More distinct labels than a classification plausibly has: the label column is likely the wrong one. */
export const MAX_CLASSIFICATION_LABELS = 50;

/**
 * Refuses a classification whose labels were gathered from the rows and number more than
 * MAX_CLASSIFICATION_LABELS, before anything is tokenized: every prompt lists the label words and
 * evaluation scores each of them, so thousands of "labels" (a text column mapped as the label) would
 * make preparation and evaluation run for many minutes on a mistake.
 */
function checkLabelCount(task: RecipeTask, file: string, mapped: MappedSource): void {
  const labels = mapped.summary.labels;
  if (task.format !== 'classification' || !labels || !labels.inferred || labels.labels.length <= MAX_CLASSIFICATION_LABELS) return;
  const column = (mapped.mapping as { label?: unknown }).label;
  const examples = labels.labels.slice(0, 3).map((label) => JSON.stringify(label.length > 40 ? `${label.slice(0, 40)}…` : label));
  throw new PrepareError(
    'PREPARE_TOO_MANY_LABELS',
    `${describeTask(task.name, file)}: the label column ${JSON.stringify(column)} holds ${labels.labels.length} distinct values (${examples.join(', ')}, …); a classification has a few labels, at most ${MAX_CLASSIFICATION_LABELS} here. ` +
      `Is the label column right? Map "label" in the task's "columns" to the column of class names (the file's columns: ${mapped.report.columns.join(', ')}), list the labels in "labels", or use another format such as "instruction".`,
    { task: task.name, file, field: 'columns.label', labels: labels.labels.length, limit: MAX_CLASSIFICATION_LABELS },
  );
}

/** Maps the main source, then the validation source; progress counts the rows of both. */
async function mapSources(
  plan: TaskPlan,
  train: ImportedSource,
  validation: ImportedSource | undefined,
  signal: AbortSignal | undefined,
  onProgress: (done: number, total: number) => void,
): Promise<{ train: MappedSource; validation?: MappedSource }> {
  const total = train.rows.length + (validation?.rows.length ?? 0);
  const mappedTrain = await mapSource(plan.task, plan.mapping, train, { signal, onProgress: (done) => onProgress(done, total) });
  if (!validation) return { train: mappedTrain };
  const mappedValidation = await mapSource(plan.task, plan.mapping, validation, { signal, onProgress: (done) => onProgress(train.rows.length + done, total) });
  return { train: mappedTrain, validation: mappedValidation };
}
