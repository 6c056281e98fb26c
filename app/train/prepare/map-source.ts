/**
 * One source's rows to examples. Bad rows are dropped (the recipe has no "refuse" switch: a studio run
 * should not fail on three malformed rows of ten thousand), and every one of them stays counted, with
 * its reason, in the source's report. A problem with the whole file (a mapped column it lacks) cannot be
 * dropped away and fails the task, naming the task, the file and the column.
 */
import {
  applyBadRowPolicy,
  createRowMapper,
  DataError,
  formatValidationReport,
  suggestMapping,
  type Example,
  type FormatMapping,
  type FormatName,
  type MappingSummary,
  type RowMapper,
  type ValidationReport,
} from '../../data/index.ts';
import type { RecipeTask, TaskFormat } from '../recipe.ts';
import { throwIfCancelled, yieldToEventLoop } from './cancel.ts';
import { describeTask, PrepareError } from './errors.ts';
import type { MappingPlan } from './format-mapping.ts';
import type { ImportedSource } from './read-sources.ts';

/** What became of one file's (or Hub split's) rows. */
export interface SourceReport {
  readonly file: string;
  readonly columns: readonly string[];
  /** Records found, those that could not be read included. */
  readonly rows: number;
  /** Examples kept. */
  readonly examples: number;
  /** Distinct rows dropped for having an error; `validation` says which and why. */
  readonly droppedRows: number;
  readonly validation: ValidationReport;
  /** True when the parsed rows came from the cache instead of parsing the file again. */
  readonly fromCache: boolean;
}

export interface MappedSource {
  readonly examples: readonly Example[];
  readonly mapping: FormatMapping;
  /** Classification: the label set with its words and counts. */
  readonly summary: MappingSummary;
  readonly report: SourceReport;
}

export interface MapSourceContext {
  readonly signal?: AbortSignal;
  /** Rows mapped so far, of the source's rows. */
  readonly onProgress?: (done: number, total: number) => void;
}

/** Rows between progress reports and yields to the event loop (so a worker sees Cancel). */
const ROWS_PER_STEP = 4096;

export async function mapSource(task: RecipeTask, plan: MappingPlan, source: ImportedSource, context: MapSourceContext = {}): Promise<MappedSource> {
  const { signal, onProgress } = context;
  // A file none of whose records could be read (one JSON object instead of rows, say) has no columns: the
  // reader's reasons are the real cause, not the mapping's missing columns.
  if (source.info.columns.length === 0 && source.problems.report().rowsWithErrors > 0) throw noReadableRow(task, source);
  const mapping = plan.forFile(source.info.columns, source.name);
  const log = source.problems;
  const missingBefore = log.count('MISSING_COLUMN');
  let mapper: RowMapper;
  try {
    mapper = createRowMapper(mapping, { log, columns: source.info.columns });
  } catch (error) {
    if (error instanceof DataError && error.code === 'DATA_BAD_MAPPING') {
      throw new PrepareError('PREPARE_BAD_MAPPING', `${describeTask(task.name, source.name)}: ${error.message}`, { task: task.name, file: source.name, cause: error.code });
    }
    throw error;
  }
  if (log.count('MISSING_COLUMN') > missingBefore) throw missingColumn(task, source, mapping);

  const examples: Example[] = [];
  const total = source.rows.length;
  for (const [index, row] of source.rows.entries()) {
    if (index % ROWS_PER_STEP === 0) {
      if (index > 0) await yieldToEventLoop();
      throwIfCancelled(signal, task.name);
      onProgress?.(index, total);
    }
    const example = mapper.map(row);
    if (example) examples.push(example);
  }
  onProgress?.(total, total);

  let kept;
  try {
    kept = applyBadRowPolicy(examples, log, 'drop');
  } catch (error) {
    if (!(error instanceof DataError)) throw error;
    const report = log.report();
    const where = describeTask(task.name, source.name);
    if (error.code === 'DATA_NO_EXAMPLES') {
      throw new PrepareError('PREPARE_NO_EXAMPLES', `${where}: no usable row is left after dropping the bad ones.\n${formatValidationReport(report)}`, {
        task: task.name,
        file: source.name,
        report,
      });
    }
    if (error.code === 'DATA_INVALID_ROWS') {
      throw new PrepareError('PREPARE_FILE_INVALID', `${where}: the file has problems that dropping rows cannot fix.\n${formatValidationReport(report)}`, {
        task: task.name,
        file: source.name,
        report,
      });
    }
    throw error;
  }
  return {
    examples: kept.examples,
    mapping,
    summary: mapper.summary(),
    report: {
      file: source.name,
      columns: source.info.columns,
      rows: source.info.rows,
      examples: kept.examples.length,
      droppedRows: kept.droppedRows,
      validation: kept.report,
      fromCache: source.fromCache,
    },
  };
}

function noReadableRow(task: RecipeTask, source: ImportedSource): PrepareError {
  const report = source.problems.report();
  return new PrepareError(
    'PREPARE_FILE_INVALID',
    `${describeTask(task.name, source.name)}: none of its ${source.info.rows} record(s) could be read as a row of fields, so it has no columns to map.\n${formatValidationReport(report)}`,
    { task: task.name, file: source.name, report },
  );
}

function missingColumn(task: RecipeTask, source: ImportedSource, mapping: FormatMapping): PrepareError {
  const problems = source.problems.report().kinds.find((kind) => kind.code === 'MISSING_COLUMN')?.messages ?? [];
  const columns = source.info.columns;
  const hints: string[] = [];
  if (columns.length > 0 && columns.every((name) => /^column_\d+$/.test(name))) {
    hints.push('The file has no header row, so its columns have no names: give them by position in "columns", counting from 0.');
  } else if (task.columns === undefined) {
    hints.push('Say which column plays which part in the task\'s "columns".');
  }
  const suggested = suggestMapping(columns);
  if (suggested && suggested.format !== mapping.format) hints.push(`The file's columns look like a ${RECIPE_FORMAT_OF[suggested.format]} file.`);
  return new PrepareError('PREPARE_MISSING_COLUMN', `${describeTask(task.name)}: ${problems.join('; ')}. ${hints.join(' ')}`.trim(), {
    task: task.name,
    file: source.name,
    columns: [...columns],
  });
}

const RECIPE_FORMAT_OF: Readonly<Record<FormatName, TaskFormat>> = {
  instruction: 'instruction',
  chat: 'messages',
  'prompt-completion': 'prompt_completion',
  text: 'text',
  classification: 'classification',
  'question-answer': 'qa',
  tokens: 'tokens',
};
