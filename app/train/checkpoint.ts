/**
 * Checkpoints: everything a run needs to continue exactly where it stopped — every adapter's A and B,
 * their AdamW moments and step counts, the sampler's state (PRNG included), the step, the recipe's
 * hash and a format version. Stored as one storage item (JSON meta + the tensors' bytes), which the
 * storage layer replaces atomically: a crash mid-write leaves the previous checkpoint intact.
 */
import { CocktailError } from '../errors.ts';
import type { MixSamplerState } from '../mix/types.ts';
import type { Json, Storage } from '../store/storage.ts';

export const CHECKPOINT_FORMAT_VERSION = 1;

export interface CheckpointMeta {
  formatVersion: number;
  recipeHash: string;
  runId: string;
  /** Optimizer steps completed. */
  step: number;
  /** AdamW's t per adapter (a skipped step does not advance it). */
  adamSteps: number[];
  sampler: MixSamplerState;
  /** Tensor names and element counts, in the order their bytes follow. */
  tensors: { name: string; length: number }[];
  /** Per-step records kept for the charts after a reload. */
  history: Json[];
  savedAt: number;
}

export interface Checkpoint {
  meta: CheckpointMeta;
  tensors: Map<string, Float32Array>;
}

export async function saveCheckpoint(storage: Storage, checkpoint: Checkpoint): Promise<void> {
  const total = checkpoint.meta.tensors.reduce((sum, t) => sum + t.length, 0);
  const bytes = new Float32Array(total);
  let offset = 0;
  for (const { name, length } of checkpoint.meta.tensors) {
    const values = checkpoint.tensors.get(name);
    if (!values || values.length !== length) throw new CocktailError('CHECKPOINT_INVALID', `checkpoint tensor "${name}" is missing or has the wrong length`, { tensor: name });
    bytes.set(values, offset);
    offset += length;
  }
  await storage.put('checkpoints', checkpoint.meta.runId, checkpoint.meta as unknown as Json, new Uint8Array(bytes.buffer));
}

/** The run's latest checkpoint, checked against the recipe it is to continue; undefined when there is none. */
export async function loadCheckpoint(storage: Storage, runId: string, recipeHash: string): Promise<Checkpoint | undefined> {
  const info = await storage.getInfo<Json>('checkpoints', runId);
  if (!info) return undefined;
  const meta = info.meta as unknown as CheckpointMeta;
  if (meta.formatVersion !== CHECKPOINT_FORMAT_VERSION) {
    throw new CocktailError('CHECKPOINT_VERSION', `the checkpoint of run "${runId}" has format version ${meta.formatVersion}; this build reads version ${CHECKPOINT_FORMAT_VERSION}`, { runId });
  }
  if (meta.recipeHash !== recipeHash) {
    throw new CocktailError(
      'CHECKPOINT_RECIPE_MISMATCH',
      `the checkpoint of run "${runId}" was made with a different recipe; resuming it would not continue the same run. Start a new run, or load the recipe it was made with.`,
      { runId },
    );
  }
  const bytes = await storage.getBytes('checkpoints', runId);
  const total = meta.tensors.reduce((sum, t) => sum + t.length, 0);
  if (!bytes || bytes.byteLength !== total * 4) throw new CocktailError('CHECKPOINT_CORRUPT', `the checkpoint of run "${runId}" holds ${bytes?.byteLength ?? 0} bytes; it should hold ${total * 4}`, { runId });
  const floats = new Float32Array(bytes.slice().buffer);
  const tensors = new Map<string, Float32Array>();
  let offset = 0;
  for (const { name, length } of meta.tensors) {
    tensors.set(name, floats.subarray(offset, offset + length));
    offset += length;
  }
  return { meta, tensors };
}
