/**
 * Duplicates across tasks and leakage between training and validation, compared on the input (the
 * prompt, near-normalized: text.ts): tasks word their answers differently, so the same sentence under
 * two tasks, or a validation sentence in any training split, is what matters.
 */
import { atRow, type StreamContext } from './stream.ts';
import type { Example } from '../data/example.ts';
import { exampleText, inputKey, snippet, type ExampleText } from './text.ts';
import type { AuditTaskInput, CrossAudit } from './types.ts';

export async function auditAcrossTasks(tasks: readonly AuditTaskInput[], maxExamples: number, context: StreamContext = {}): Promise<CrossAudit> {
  const trainInputs: Map<string, number>[] = [];
  const total = tasks.reduce((sum, task) => sum + task.train.length + task.validation.length, 0);
  let done = 0;
  for (const task of tasks) {
    const inputs = new Map<string, number>();
    for (const example of task.train) {
      await atRow(done++, total, context, task.name);
      const key = inputKey(exampleText(example));
      if (key !== '' && !inputs.has(key)) inputs.set(key, example.source.row);
    }
    trainInputs.push(inputs);
  }
  const duplicates: CrossAudit['duplicates'] = [];
  tasks.forEach((b, j) => {
    for (let i = 0; i < j; i++) {
      const entry = { task_a: tasks[i]!.name, task_b: b.name, count: 0, examples: [] as CrossAudit['duplicates'][number]['examples'] };
      for (const example of b.train) {
        const text = exampleText(example);
        const rowA = trainInputs[i]!.get(inputKey(text));
        if (rowA === undefined) continue;
        entry.count++;
        if (entry.examples.length < maxExamples) entry.examples.push({ row_a: rowA, row_b: example.source.row, text: snippet(text) });
      }
      if (entry.count > 0) duplicates.push(entry);
    }
  });
  const leakage: CrossAudit['leakage'] = [];
  for (const validationTask of tasks) {
    const keys: { example: Example; text: ExampleText }[] = [];
    for (const example of validationTask.validation) {
      await atRow(done++, total, context, validationTask.name);
      keys.push({ example, text: exampleText(example) });
    }
    tasks.forEach((trainTask, i) => {
      const entry = { train_task: trainTask.name, validation_task: validationTask.name, count: 0, examples: [] as CrossAudit['leakage'][number]['examples'] };
      for (const { example, text } of keys) {
        const trainRow = trainInputs[i]!.get(inputKey(text));
        if (trainRow === undefined) continue;
        entry.count++;
        if (entry.examples.length < maxExamples) entry.examples.push({ train_row: trainRow, validation_row: example.source.row, text: snippet(text) });
      }
      if (entry.count > 0) leakage.push(entry);
    });
  }
  context.onProgress?.(total, total);
  return { duplicates, leakage };
}
