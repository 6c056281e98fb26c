import type { PrepareProgress, PrepareStage } from '../../train/prepare.ts';

/** What each stage of preparing a task (app/train/prepare.ts) is called on screen. */
export const PREPARE_STAGE_LABELS: Readonly<Record<PrepareStage, string>> = { import: 'Reading the data', map: 'Mapping rows', tokenize: 'Tokenizing' };

/** "Tokenizing tweets": the stage of a progress report and the task it is for. */
export function prepareProgressLabel(progress: PrepareProgress | undefined, task: string): string {
  return progress ? `${PREPARE_STAGE_LABELS[progress.stage]} of ${task}` : `Preparing ${task}`;
}
