/**
 * One task's evaluation as `cocktail eval --json` and `cocktail train --json` print it: the fields a
 * script reads (issue 11 names them), in snake_case like the recipe, and a line for people.
 */
import type { TaskEvaluation } from '../train/evaluate.ts';

export function evalJson(task: TaskEvaluation): Record<string, unknown> {
  const { classification } = task;
  return {
    task: task.task,
    metric: task.metric,
    score: task.score,
    loss: task.loss,
    examples: task.examples,
    ...(classification
      ? {
          per_class: Object.fromEntries(Object.entries(classification.perClass).map(([label, { precision, recall, f1, support }]) => [label, { precision, recall, f1, support }])),
          macro_f1: classification.macroF1,
          majority_accuracy: classification.majorityAccuracy,
          majority_label: classification.majorityLabel,
          confusion: classification.confusion,
          label_scoring: task.labelScoring,
        }
      : {}),
    ...(task.sample ? { split_examples: task.sample.splitSize, whole_split: task.sample.whole, ...(task.sample.labels ? { sample_labels: task.sample.labels, split_labels: task.sample.splitLabels } : {}) } : {}),
    notices: task.notices ?? [],
    samples: task.samples,
  };
}

export function evalLine(task: TaskEvaluation): string {
  const classification = task.classification ? ` macro-F1 ${task.classification.macroF1.toFixed(4)} (majority class ${task.classification.majorityAccuracy.toFixed(4)})` : '';
  const notices = (task.notices ?? []).map((notice) => `\n  note: ${notice}`).join('');
  return `${task.task}: loss ${task.loss.toFixed(4)} ${task.metric} ${task.score.toFixed(4)}${classification} (${task.examples} examples)${notices}`;
}
