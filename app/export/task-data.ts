/**
 * Each task's rows as the export writes them: training and validation examples rendered to segments
 * (segments.ts), and the premixed sequence: every draw of the run, in our sampler's order, as the
 * tokenized example the trainer would build its batch row from.
 */
import type { Draw } from '../mix/types.ts';
import type { TextTokenizer } from '../model/tokenizer.ts';
import type { TaskExamples } from '../train/prepare.ts';
import type { Recipe } from '../train/recipe.ts';
import type { PreparedTask } from '../train/task-data.ts';
import { exampleRow, type ExportRow } from './segments.ts';

export interface TaskRows {
  name: string;
  /** A name safe in file names and in the targets' data set names. */
  fileStem: string;
  kind: ExportRow['kind'];
  train: ExportRow[];
  validation: ExportRow[];
}

export interface PremixedRow {
  task: string;
  input_ids: number[];
  attention_mask: number[];
  labels: number[];
}

export function taskRows(recipe: Recipe, tasks: readonly PreparedTask[], examples: readonly TaskExamples[], tokenizer: Pick<TextTokenizer, 'applyChatTemplate' | 'eosToken'>): TaskRows[] {
  const stems = new Set<string>();
  return tasks.map((task, index) => {
    const { rendering, train, validation } = examples[index]!;
    // Only the examples tokenization kept (by row), so the target gets the rows we trained on.
    const keep = (part: readonly { source: { row: number } }[]) => new Set(part.map((example) => example.source.row));
    const keptTrain = keep(task.train);
    const keptValidation = keep(task.validation);
    const render = (example: (typeof train)[number]) => exampleRow(example, rendering, tokenizer, recipe.train_on_prompts, `${task.name} row ${example.source.row}`);
    const trainRows = train.filter((example) => keptTrain.has(example.source.row)).map(render);
    const validationRows = validation.filter((example) => keptValidation.has(example.source.row)).map(render);
    let stem = task.name.replace(/[^A-Za-z0-9_-]+/g, '_') || 'task';
    while (stems.has(stem)) stem += '_';
    stems.add(stem);
    return { name: task.name, fileStem: stem, kind: trainRows[0]?.kind ?? 'segments', train: trainRows, validation: validationRows };
  });
}

export function premixedRows(tasks: readonly PreparedTask[], steps: readonly Draw[][]): PremixedRow[] {
  return steps.flatMap((draws) =>
    draws.map(({ task, row }) => {
      const example = tasks[task]!.train[row]!;
      return { task: tasks[task]!.name, input_ids: [...example.inputIds], attention_mask: new Array<number>(example.inputIds.length).fill(1), labels: [...example.labels] };
    }),
  );
}

/** A validation example pre-tokenized as the trainer evaluates it, for premixed mode's evaluation sets. */
export function tokenizedValidation(task: PreparedTask): Omit<PremixedRow, 'task'>[] {
  return task.validation.map((example) => ({ input_ids: [...example.inputIds], attention_mask: new Array<number>(example.inputIds.length).fill(1), labels: [...example.labels] }));
}
