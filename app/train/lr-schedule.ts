/**
 * Learning-rate schedules with linear warmup, as transformers' get_scheduler defines them, so a run
 * here and a run with the Hugging Face Trainer use the same rates. `step` is the 0-based index of the
 * optimizer step about to be taken (transformers steps its scheduler after each optimizer step).
 *   warmup (step < W):  lr · step / max(1, W)
 *   constant:           lr
 *   linear:             lr · max(0, (S − step) / max(1, S − W))
 *   cosine:             lr · max(0, ½ (1 + cos(π · (step − W) / max(1, S − W))))
 */
export type ScheduleKind = 'constant' | 'linear' | 'cosine';

export interface LrSchedule {
  kind: ScheduleKind;
  lr: number;
  warmupSteps: number;
  totalSteps: number;
}

export function learningRate({ kind, lr, warmupSteps, totalSteps }: LrSchedule, step: number): number {
  if (step < warmupSteps) return (lr * step) / Math.max(1, warmupSteps);
  const span = Math.max(1, totalSteps - warmupSteps);
  switch (kind) {
    case 'constant':
      return lr;
    case 'linear':
      return lr * Math.max(0, (totalSteps - step) / span);
    case 'cosine':
      return lr * Math.max(0, 0.5 * (1 + Math.cos((Math.PI * (step - warmupSteps)) / span)));
  }
}
