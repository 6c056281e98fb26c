/**
 * What a classification evaluation says beyond accuracy: per-class precision, recall and F1, their
 * unweighted mean (macro-F1), the confusion matrix, and the accuracy of always answering the most
 * common expected label — the bar a model must clear to have learned anything.
 *
 * Conventions follow scikit-learn's classification_report: a class never predicted has precision 0,
 * a class never expected has recall 0 (zero_division=0), and macro-F1 averages over the classes that
 * were expected or predicted.
 */

export interface ClassScores {
  precision: number;
  recall: number;
  f1: number;
  /** Examples whose expected label is this class. */
  support: number;
}

export interface ClassificationReport {
  /** Accuracy: the share of answers equal to the expected label. */
  accuracy: number;
  perClass: Record<string, ClassScores>;
  macroF1: number;
  /** The share of the most common expected label: the accuracy of always answering it. */
  majorityAccuracy: number;
  majorityLabel: string;
  /** confusion[expected][predicted] = count, over every label (rows and columns in `labels` order). */
  confusion: Record<string, Record<string, number>>;
  /** The labels in order: the task's label words, then any other expected or predicted answer. */
  labels: string[];
}

export function classificationReport(answers: readonly { expected: string; got: string }[], labelWords: readonly string[]): ClassificationReport {
  const labels = [...new Set([...labelWords, ...answers.flatMap(({ expected, got }) => [expected, got])].map((label) => label.trim()))];
  const confusion = Object.fromEntries(labels.map((expected) => [expected, Object.fromEntries(labels.map((got) => [got, 0]))])) as Record<string, Record<string, number>>;
  for (const { expected, got } of answers) confusion[expected.trim()]![got.trim()]! += 1;

  const perClass: Record<string, ClassScores> = {};
  const averaged: number[] = [];
  for (const label of labels) {
    const truePositives = confusion[label]![label]!;
    const support = labels.reduce((sum, got) => sum + confusion[label]![got]!, 0);
    const predicted = labels.reduce((sum, expected) => sum + confusion[expected]![label]!, 0);
    const precision = predicted === 0 ? 0 : truePositives / predicted;
    const recall = support === 0 ? 0 : truePositives / support;
    const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
    perClass[label] = { precision, recall, f1, support };
    if (support > 0 || predicted > 0) averaged.push(f1);
  }
  const correct = labels.reduce((sum, label) => sum + confusion[label]![label]!, 0);
  const majorityLabel = labels.reduce((best, label) => (perClass[label]!.support > perClass[best]!.support ? label : best), labels[0] ?? '');
  const total = answers.length;
  return {
    accuracy: total === 0 ? 0 : correct / total,
    perClass,
    macroF1: averaged.length === 0 ? 0 : averaged.reduce((a, b) => a + b, 0) / averaged.length,
    majorityAccuracy: total === 0 ? 0 : (perClass[majorityLabel]?.support ?? 0) / total,
    majorityLabel,
    confusion,
    labels,
  };
}
