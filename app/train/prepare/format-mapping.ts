/**
 * A recipe task's `format`, `columns`, `labels` and prompt template, as app/data's FormatMapping.
 *
 * The recipe names formats and parts in snake_case (`qa`, `prompt_completion`, `input_ids`); app/data
 * has its own names (`question-answer`, `prompt-completion`, `inputIds`). A column is named, or given
 * by its position counting from 0 (a file without a header has columns named column_1, column_2, ...
 * by the CSV importer, so `{"text": 0, "label": 1}` reads Financial PhraseBank's "sentence@label").
 * A part the recipe leaves out gets app/data's conventional column (text, label, question, ...).
 *
 * The recipe schema has no place for settings that are not columns, so a few live in `columns` too:
 * the role names of a chat file (`user_role: "human"`) and how a question's final answer is found
 * (`answer_marker`, `answer_pattern`; GSM8K's "#### 72" by default).
 */
import { GSM8K_EXTRACTOR, type AnswerExtractor, type FormatMapping, type Role } from '../../data/index.ts';
import type { RecipeTask, TaskFormat } from '../recipe.ts';
import { describeTask, PrepareError } from './errors.ts';

export interface FormatParts {
  /** Keys of `columns` that name a column. */
  readonly columns: readonly string[];
  /** Keys of `columns` that hold a setting (always text). */
  readonly settings: readonly string[];
}

const ROLE_SETTINGS: Readonly<Record<string, Role>> = { system_role: 'system', user_role: 'user', assistant_role: 'assistant' };

/** Which keys of `columns` each format reads: columns it maps, and settings (the studio's column mapping lists them). */
export const FORMAT_PARTS: Readonly<Record<TaskFormat, FormatParts>> = {
  instruction: { columns: ['instruction', 'input', 'output', 'system'], settings: [] },
  messages: { columns: ['messages'], settings: Object.keys(ROLE_SETTINGS) },
  prompt_completion: { columns: ['prompt', 'completion'], settings: [] },
  text: { columns: ['text'], settings: [] },
  classification: { columns: ['text', 'label'], settings: [] },
  qa: { columns: ['question', 'answer'], settings: ['answer_marker', 'answer_pattern'] },
  tokens: { columns: ['input_ids', 'labels'], settings: [] },
};

const TASK_FORMATS = Object.keys(FORMAT_PARTS) as readonly TaskFormat[];

/** Formats whose user turn comes from a template with {placeholders}. */
export const FORMATS_WITH_PROMPT_TEMPLATE: readonly TaskFormat[] = ['classification', 'qa'];

function isTaskFormat(format: unknown): format is TaskFormat {
  return typeof format === 'string' && Object.hasOwn(FORMAT_PARTS, format);
}

export interface MappingPlan {
  /** The mapping for a file with these columns: positions become the names of the file's columns. */
  forFile(columns: readonly string[], file: string): FormatMapping;
  /** The same with positions left as placeholders: for checking the mapping before any file is read. */
  withoutFile(): FormatMapping;
}

export interface MappingPlanOptions {
  /** The user turn for classification and qa (a template with {placeholders}), when not the format's default. */
  readonly promptTemplate?: string;
  /** Catches pre-tokenized ids from another tokenizer row by row, so they are dropped and reported rather than failing the task. */
  readonly vocabSize: number;
}

/** Checks the task's format, columns and labels (no file needed) and returns how to build its mapping. */
export function planMapping(task: RecipeTask, options: MappingPlanOptions): MappingPlan {
  const where = describeTask(task.name);
  if (!isTaskFormat(task.format)) {
    throw new PrepareError('PREPARE_UNKNOWN_FORMAT', `${where}: format ${JSON.stringify(task.format)} is not one of ${TASK_FORMATS.join(', ')}.`, {
      task: task.name,
      format: task.format,
    });
  }
  const parts = FORMAT_PARTS[task.format];
  const columns = task.columns ?? {};
  for (const [key, value] of Object.entries(columns)) {
    if (parts.columns.includes(key)) {
      if (typeof value === 'string' ? value === '' : !(Number.isSafeInteger(value) && value >= 0)) {
        throw badMapping(task, `columns.${key} must be a column name or a position counting from 0, got ${JSON.stringify(value)}.`);
      }
    } else if (parts.settings.includes(key)) {
      if (typeof value !== 'string' || value === '') throw badMapping(task, `columns.${key} is a setting, not a column; it must be text, got ${JSON.stringify(value)}.`);
    } else {
      const known = [...parts.columns, ...parts.settings].join(', ');
      throw badMapping(task, `columns.${key} is not a part of the ${task.format} format; its parts are ${known}.`);
    }
  }
  if (task.labels !== undefined && task.format !== 'classification') {
    throw badMapping(task, `"labels" (a verbalizer) applies to classification tasks only; this task's format is ${task.format}.`);
  }

  const build = (column: (key: string) => string | undefined): FormatMapping => formatMapping(task, column, options);
  return {
    forFile(fileColumns, file) {
      return build((key) => {
        const value = columns[key];
        if (typeof value !== 'number') return value;
        const name = fileColumns[value];
        if (name === undefined) {
          throw new PrepareError(
            'PREPARE_BAD_MAPPING',
            `${describeTask(task.name, file)}: columns.${key} is column ${value} (counting from 0), but the file has ${fileColumns.length} column(s): ${fileColumns.join(', ') || 'none'}.`,
            { task: task.name, file, field: `columns.${key}` },
          );
        }
        return name;
      });
    },
    withoutFile() {
      return build((key) => {
        const value = columns[key];
        return typeof value === 'number' ? `column ${value}` : value;
      });
    },
  };
}

function formatMapping(task: RecipeTask, column: (key: string) => string | undefined, options: MappingPlanOptions): FormatMapping {
  const settings = task.columns ?? {};
  const setting = (key: string): string | undefined => {
    const value = settings[key];
    return typeof value === 'string' ? value : undefined;
  };
  switch (task.format) {
    case 'instruction':
      return withoutUndefined({ format: 'instruction', instruction: column('instruction'), input: column('input'), output: column('output'), system: column('system') });
    case 'messages': {
      const roles: Record<string, Role> = {};
      for (const [key, role] of Object.entries(ROLE_SETTINGS)) {
        const name = setting(key);
        if (name !== undefined) roles[name] = role;
      }
      return withoutUndefined({ format: 'chat', messages: column('messages'), roles: Object.keys(roles).length > 0 ? roles : undefined });
    }
    case 'prompt_completion':
      return withoutUndefined({ format: 'prompt-completion', prompt: column('prompt'), completion: column('completion') });
    case 'text':
      return withoutUndefined({ format: 'text', text: column('text') });
    case 'classification':
      return withoutUndefined({
        format: 'classification',
        text: column('text'),
        label: column('label'),
        verbalizer: task.labels,
        template: options.promptTemplate ?? defaultClassificationTemplate(task),
      });
    case 'qa':
      return withoutUndefined({
        format: 'question-answer',
        question: column('question'),
        answer: column('answer'),
        extractor: answerExtractor(task, setting('answer_marker'), setting('answer_pattern')),
        template: options.promptTemplate,
      });
    case 'tokens':
      return withoutUndefined({ format: 'tokens', inputIds: column('input_ids'), labels: column('labels'), vocabSize: options.vocabSize });
  }
}

/**
 * With a label set, the prompt lists the label words: in a cocktail, Financial PhraseBank's
 * "negative/neutral/positive" and the tweets' "Bearish/Bullish/Neutral" are two vocabularies for one
 * kind of question, and without the list a shared adapter could not tell which one a prompt wants.
 * Without a label set (gathered from the rows) there is no list to show, so the text stands alone.
 */
export function defaultClassificationTemplate(task: Pick<RecipeTask, 'labels'>): string {
  return task.labels === undefined ? '{text}' : '{text}\nAnswer with one of: {labels}.';
}

function answerExtractor(task: RecipeTask, marker: string | undefined, pattern: string | undefined): AnswerExtractor {
  if (marker !== undefined && pattern !== undefined) throw badMapping(task, 'give columns.answer_marker or columns.answer_pattern, not both.');
  if (pattern !== undefined) return { kind: 'regex', pattern };
  if (marker !== undefined) return { kind: 'after-marker', marker, removeThousandsSeparators: true };
  return GSM8K_EXTRACTOR;
}

function badMapping(task: RecipeTask, message: string): PrepareError {
  return new PrepareError('PREPARE_BAD_MAPPING', `${describeTask(task.name)}: ${message}`, { task: task.name });
}

/** Leaves out the parts the recipe did not give, so the mapping (in reports and cache keys) says only what was chosen. */
function withoutUndefined<T extends object>(mapping: T): T {
  return Object.fromEntries(Object.entries(mapping).filter(([, value]) => value !== undefined)) as T;
}
