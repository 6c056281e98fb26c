/** What every target's writer is given: the recipe, the cluster's shape, the data, and where notes go. */
import type { Recipe } from '../train/recipe.ts';
import type { ClusterBatch, ClusterShape } from './batch.ts';
import type { FixedMixture } from './mixture.ts';
import type { PremixedRow, TaskRows } from './task-data.ts';
import type { ExportMode, ExportTarget } from './targets.ts';

export interface ExportNote {
  /** The recipe field (JSON path) that could not be carried over exactly. */
  field: string;
  message: string;
}

export interface ExportPlan {
  recipe: Recipe;
  target: ExportTarget;
  mode: ExportMode;
  shape: ClusterShape;
  batch: ClusterBatch;
  /** Optimizer steps of the run (the recipe's steps, or its epochs turned into steps as our trainer does). */
  steps: number;
  tasks: TaskRows[];
  mixture: FixedMixture;
  /** Premixed mode only. */
  premixed?: PremixedRow[];
  /** Premixed mode only: each task's validation examples, tokenized. */
  premixedValidation?: { fileStem: string; rows: Omit<PremixedRow, 'task'>[] }[];
  notes: ExportNote[];
  /** Where the adapter of lora.init_from was copied, when the recipe continues from one. */
  initAdapter?: string;
}

/** One file of the export, by its path inside DIR. */
export type ExportFiles = Map<string, string | Uint8Array>;

export const DEEPSPEED_CONFIG = 'ds_zero2.json';
export const OUTPUT_DIR = 'output';
export const INIT_ADAPTER_DIR = 'init_adapter';
