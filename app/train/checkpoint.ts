/**
 * Checkpoints: everything a run needs to continue exactly where it stopped — every adapter's A and B,
 * their AdamW moments and step counts, the sampler's state (PRNG included), the step, the recipe's
 * hash and a format version. Each is one storage item (JSON meta + the tensors' bytes) under
 * `<runId>@<step>`, which the storage layer writes atomically; the last `keep` are kept, so a
 * checkpoint spoiled after it was written (a disk error, a stray edit) falls back to the one before.
 *
 * Nothing in a checkpoint is trusted on load: the meta is checked field by field, the tensors against
 * the SHA-256 the writer recorded, the names and lengths against what the trainer holds, and the step
 * against the run's length. A checkpoint that fails is refused with where it is stored and why.
 */
import { sha256Hex } from '../data/tokenize/hash.ts';
import { CocktailError } from '../errors.ts';
import type { MixSamplerState } from '../mix/types.ts';
import type { ItemInfo, Json, Storage } from '../store/storage.ts';

export const CHECKPOINT_FORMAT_VERSION = 2;

export interface CheckpointMeta {
  formatVersion: number;
  recipeHash: string;
  runId: string;
  /** Optimizer steps completed. */
  step: number;
  /** The run's length when it was saved (a checkpoint past it cannot belong to this run). */
  totalSteps: number;
  /** AdamW's t per adapter (a skipped step does not advance it). */
  adamSteps: number[];
  sampler: MixSamplerState;
  /** Tensor names and element counts, in the order their bytes follow. */
  tensors: { name: string; length: number }[];
  /** "sha256:<hex>" of the tensors' bytes. */
  checksum: string;
  /** Per-step records kept for the charts after a reload. */
  history: Json[];
  savedAt: number;
}

export interface Checkpoint {
  meta: CheckpointMeta;
  tensors: Map<string, Float32Array>;
}

/** What a checkpoint must match to continue a run: the recipe, the run's length and the trainer's tensors. */
export interface CheckpointExpectation {
  recipeHash: string;
  totalSteps: number;
  tensors: readonly { name: string; length: number }[];
}

/** A checkpoint that was found and refused: where it is stored and why. */
export interface RefusedCheckpoint {
  key: string;
  location: string;
  step: number | undefined;
  reason: string;
}

export const DEFAULT_KEEP_CHECKPOINTS = 2;

const STEP_DIGITS = 10;
const SEPARATOR = '@';

export function checkpointKey(runId: string, step: number): string {
  return `${runId}${SEPARATOR}${String(step).padStart(STEP_DIGITS, '0')}`;
}

/** The run's stored checkpoints, newest first. */
export async function listCheckpoints(storage: Storage, runId: string): Promise<ItemInfo[]> {
  const prefix = `${runId}${SEPARATOR}`;
  const items = await storage.list('checkpoints', prefix);
  return items.filter((item) => /^\d+$/.test(item.key.slice(prefix.length))).sort((a, b) => (a.key < b.key ? 1 : -1));
}

/** Deletes every checkpoint of a run; the number deleted. */
export async function deleteCheckpoints(storage: Storage, runId: string): Promise<number> {
  let deleted = 0;
  for (const item of await listCheckpoints(storage, runId)) if (await storage.delete('checkpoints', item.key)) deleted++;
  return deleted;
}

/** Whether a stored checkpoint key belongs to the run. */
export function isCheckpointOf(key: string, runId: string): boolean {
  return key.startsWith(`${runId}${SEPARATOR}`) && /^\d+$/.test(key.slice(runId.length + 1));
}

/** Writes a checkpoint, then deletes the run's older ones beyond the newest `keep`. */
export async function saveCheckpoint(storage: Storage, checkpoint: Omit<Checkpoint, 'meta'> & { meta: Omit<CheckpointMeta, 'checksum'> }, keep = DEFAULT_KEEP_CHECKPOINTS): Promise<void> {
  const total = checkpoint.meta.tensors.reduce((sum, t) => sum + t.length, 0);
  const floats = new Float32Array(total);
  let offset = 0;
  for (const { name, length } of checkpoint.meta.tensors) {
    const values = checkpoint.tensors.get(name);
    if (!values || values.length !== length) throw new CocktailError('CHECKPOINT_INVALID', `checkpoint tensor "${name}" is missing or has the wrong length`, { tensor: name });
    floats.set(values, offset);
    offset += length;
  }
  const bytes = new Uint8Array(floats.buffer);
  const meta: CheckpointMeta = { ...checkpoint.meta, checksum: `sha256:${await sha256Hex(bytes)}` };
  await storage.put('checkpoints', checkpointKey(meta.runId, meta.step), meta as unknown as Json, bytes);
  for (const old of (await listCheckpoints(storage, meta.runId)).slice(Math.max(1, keep))) await storage.delete('checkpoints', old.key);
}

/** The meta of the newest checkpoint of a run that can be read (unchecked: for display); undefined when there is none. */
export async function latestCheckpointMeta(storage: Storage, runId: string): Promise<CheckpointMeta | undefined> {
  const latest = (await listCheckpoints(storage, runId)).find((item) => item.problem === undefined && item.meta !== null);
  return latest ? (latest.meta as unknown as CheckpointMeta) : undefined;
}

/**
 * The run's newest checkpoint that proves whole, with the ones refused before it (newest first);
 * `checkpoint` is undefined when there is none that can be used. A checkpoint made with another
 * recipe is not skipped but refused outright: falling back past it would quietly mix two runs.
 */
export async function loadCheckpoint(storage: Storage, runId: string, expected: CheckpointExpectation): Promise<{ checkpoint?: Checkpoint; refused: RefusedCheckpoint[] }> {
  const refused: RefusedCheckpoint[] = [];
  for (const item of await listCheckpoints(storage, runId)) {
    const location = storage.locate('checkpoints', item.key);
    try {
      return { checkpoint: await readCheckpoint(storage, item, runId, expected, location), refused };
    } catch (error) {
      if (!(error instanceof CocktailError) || !['CHECKPOINT_CORRUPT', 'STORAGE_CORRUPT'].includes(error.code)) throw error;
      const step = (item.meta as { step?: unknown } | null)?.step;
      refused.push({ key: item.key, location, step: typeof step === 'number' ? step : undefined, reason: error.message });
    }
  }
  return { refused };
}

async function readCheckpoint(storage: Storage, item: ItemInfo, runId: string, expected: CheckpointExpectation, location: string): Promise<Checkpoint> {
  const corrupt = (why: string) => new CocktailError('CHECKPOINT_CORRUPT', `checkpoint ${location}: ${why}`, { runId, path: location });
  if (item.problem !== undefined) throw new CocktailError('CHECKPOINT_CORRUPT', item.problem, { runId, path: location });
  const meta = validateMeta(item.meta, corrupt);
  if (meta.formatVersion !== CHECKPOINT_FORMAT_VERSION) throw corrupt(`format version ${meta.formatVersion}; this build reads version ${CHECKPOINT_FORMAT_VERSION}`);
  if (meta.runId !== runId) throw corrupt(`it belongs to run "${meta.runId}", not "${runId}"`);
  if (meta.recipeHash !== expected.recipeHash) {
    throw new CocktailError(
      'CHECKPOINT_RECIPE_MISMATCH',
      `the checkpoint of run "${runId}" (${location}) was made with a different recipe; resuming it would not continue the same run. Start a new run, or load the recipe it was made with.`,
      { runId, path: location },
    );
  }
  if (meta.step > expected.totalSteps) throw corrupt(`it is at step ${meta.step}, past the run's end at step ${expected.totalSteps}`);
  const wanted = new Map(expected.tensors.map((t) => [t.name, t.length]));
  for (const { name, length } of meta.tensors) {
    if (wanted.get(name) !== length) throw corrupt(wanted.has(name) ? `tensor "${name}" has ${length} values; the run's has ${wanted.get(name)}` : `tensor "${name}" is not one of the run's`);
  }
  const missing = expected.tensors.find((t) => !meta.tensors.some((m) => m.name === t.name));
  if (missing) throw corrupt(`tensor "${missing.name}" is missing`);

  const bytes = await storage.getBytes('checkpoints', item.key);
  const total = meta.tensors.reduce((sum, t) => sum + t.length, 0);
  if (!bytes || bytes.byteLength !== total * 4) throw corrupt(`it holds ${bytes?.byteLength ?? 0} bytes of tensors; its meta lists ${total * 4}`);
  const checksum = `sha256:${await sha256Hex(bytes)}`;
  if (checksum !== meta.checksum) throw corrupt(`its tensors do not match their checksum (stored ${meta.checksum}, read ${checksum}): the bytes changed after it was written`);
  const floats = new Float32Array(bytes.slice().buffer);
  const tensors = new Map<string, Float32Array>();
  let offset = 0;
  for (const { name, length } of meta.tensors) {
    tensors.set(name, floats.subarray(offset, offset + length));
    offset += length;
  }
  return { meta, tensors };
}

const isCount = (value: unknown): value is number => typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;

/** Checks every field a resume reads; names the first that is wrong. */
function validateMeta(value: unknown, corrupt: (why: string) => Error): CheckpointMeta {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw corrupt('its meta is not an object');
  const meta = value as Record<string, unknown>;
  const field = (name: string, ok: boolean, should: string) => {
    if (!ok) throw corrupt(`meta field "${name}" ${meta[name] === undefined ? 'is missing' : `is ${JSON.stringify(meta[name])?.slice(0, 80)}`}; it should be ${should}`);
  };
  field('formatVersion', isCount(meta.formatVersion), 'an integer');
  field('runId', typeof meta.runId === 'string', 'a string');
  field('recipeHash', typeof meta.recipeHash === 'string', 'a string');
  field('step', isCount(meta.step), 'a whole number of steps');
  field('totalSteps', isCount(meta.totalSteps), 'a whole number of steps');
  field('adamSteps', Array.isArray(meta.adamSteps) && meta.adamSteps.every((t) => isCount(t) && t <= (meta.step as number)), 'a list of step counts, none past "step"');
  field('sampler', typeof meta.sampler === 'object' && meta.sampler !== null && (meta.sampler as { step?: unknown }).step !== undefined, 'the sampler state');
  field('tensors', Array.isArray(meta.tensors) && meta.tensors.length > 0 && meta.tensors.every((t: { name?: unknown; length?: unknown }) => typeof t?.name === 'string' && isCount(t.length)), 'a non-empty list of {name, length}');
  field('checksum', typeof meta.checksum === 'string' && meta.checksum.startsWith('sha256:'), '"sha256:<hex>"');
  field('history', Array.isArray(meta.history), 'a list of step records');
  return meta as unknown as CheckpointMeta;
}
