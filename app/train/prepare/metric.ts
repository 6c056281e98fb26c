/**
 * What a task is scored by when the recipe does not say: the label for classification, the final
 * number for qa (GSM8K's "#### 72"), overlap with the reference for free-form answers, and the loss
 * where there is no answer at all (text and pre-tokenized rows have no prompt to generate from).
 */
import type { RecipeTask, TaskFormat } from '../recipe.ts';
import { describeTask, PrepareError } from './errors.ts';

export type Metric = NonNullable<RecipeTask['metric']>;

export const DEFAULT_METRIC: Readonly<Record<TaskFormat, Metric>> = {
  classification: 'accuracy',
  qa: 'numeric_match',
  instruction: 'rouge_l',
  messages: 'rouge_l',
  prompt_completion: 'rouge_l',
  text: 'loss',
  tokens: 'loss',
};

/** Formats without a prompt and an expected answer, which only the loss can score. */
const LOSS_ONLY: readonly TaskFormat[] = ['text', 'tokens'];

export function taskMetric(task: RecipeTask): Metric {
  const metric = task.metric ?? DEFAULT_METRIC[task.format];
  if (metric !== 'loss' && LOSS_ONLY.includes(task.format)) {
    throw new PrepareError('PREPARE_BAD_METRIC', `${describeTask(task.name)}: a ${task.format} task has no answer to compare, so ${metric} cannot score it; use "loss".`, {
      task: task.name,
      metric,
    });
  }
  return metric;
}

/** Whether the task's validation examples get prompts and expected answers (PreparedTask.validationPrompts). */
export function hasValidationPrompts(format: TaskFormat): boolean {
  return !LOSS_ONLY.includes(format);
}
