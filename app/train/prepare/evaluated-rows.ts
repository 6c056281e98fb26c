/**
 * Which validation examples a run tokenizes: only those its evaluations score. A 50 MB file's
 * validation split holds thousands of examples while an evaluation scores `eval_examples` of them, and
 * tokenizing the rest cost most of a preparation's time. The evaluation's own seeded, label-stratified
 * sample (app/train/eval-sample.ts) is drawn here from the split's examples, before tokenization, with
 * each example's expected answer standing for its prompt's; the evaluator then scores all of them and
 * reports the whole split's size and label counts.
 */
import type { Example } from '../../data/index.ts';
import { evaluationSample, type EvaluationSample } from '../eval-sample.ts';
import type { PreparedTask } from '../task-data.ts';

export interface EvaluatedValidation {
  readonly examples: readonly Example[];
  /** Absent when every example of the split is evaluated (the whole split was asked for, or it is no larger than the sample). */
  readonly sample?: Omit<EvaluationSample, 'indices'>;
}

export function evaluatedValidation(
  task: { name: string; metric: PreparedTask['metric']; labelWords?: readonly string[] },
  examples: readonly Example[],
  requested: number | 'all',
  seed: number,
): EvaluatedValidation {
  if (requested === 'all' || requested >= examples.length) return { examples };
  const prompts = task.labelWords === undefined ? [] : examples.map((example) => ({ expected: example.kind === 'conversation' && example.expected?.kind === 'label' ? example.expected.word : '' }));
  const { indices, ...sample } = evaluationSample({ ...task, validation: examples, validationPrompts: prompts }, requested, seed);
  return { examples: indices.map((index) => examples[index]!), sample };
}
