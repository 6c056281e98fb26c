import { CocktailError } from '../../errors.ts';

export type PrepareErrorCode =
  | 'PREPARE_UNKNOWN_FORMAT' // the task's format is none of the recipe's seven
  | 'PREPARE_BAD_MAPPING' // a columns key the format has no part for, a column index out of range, labels on a non-classification task, a malformed template
  | 'PREPARE_BAD_TEMPLATE' // the template is neither "chat", a plain template's name, nor a template with {placeholders} for this format
  | 'PREPARE_BAD_METRIC' // a metric that cannot be computed for the format (text and tokens have no answer to compare)
  | 'PREPARE_FILE_NOT_FOUND' // openFile could not open a path of the recipe
  | 'PREPARE_MISSING_COLUMN' // the mapping uses a column the file does not have
  | 'PREPARE_FILE_INVALID' // a problem about the whole file that dropping rows cannot fix
  | 'PREPARE_OUT_OF_VOCABULARY' // a token id or label outside the model's vocabulary (the embedding and LM head have no row for it)
  | 'PREPARE_NO_EXAMPLES' // nothing is left to train on after dropping bad rows, or after tokenization
  | 'PREPARE_TOO_MANY_LABELS'; // a classification whose label column holds more distinct values than a label set plausibly has

/**
 * A task of a recipe that cannot be prepared. Messages start with the task's name and the file (or
 * Hub split) at fault, and go on to the row and field where there is one; `details` holds the same
 * facts (task, file, and the code of the underlying data or tokenization error as `cause`).
 */
export class PrepareError extends CocktailError {
  declare readonly code: PrepareErrorCode;
  constructor(code: PrepareErrorCode, message: string, details: Record<string, unknown> = {}) {
    super(code, message, details);
  }
}

/** `Task "fpb" (fpb/Sentences_50Agree.txt)`: how every message of this folder names where it is. */
export function describeTask(task: string, file?: string): string {
  return file === undefined ? `Task "${task}"` : `Task "${task}" (${file})`;
}
