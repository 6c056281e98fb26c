import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openFileStorage, writeRawItemFile } from '../store/fs.ts';
import type { Json, Storage } from '../store/storage.ts';
import { checkpointKey, CHECKPOINT_FORMAT_VERSION, deleteCheckpoints, listCheckpoints, loadCheckpoint, saveCheckpoint, type CheckpointMeta } from './checkpoint.ts';

const TENSORS = [
  { name: 'shared/0/param', length: 6 },
  { name: 'shared/0/m', length: 6 },
  { name: 'shared/0/v', length: 6 },
];
const EXPECTED = { recipeHash: 'hash-1', totalSteps: 10, tensors: TENSORS };

/** A checkpoint whose values say which step it is (param = step + i / 10). */
function checkpointAt(step: number) {
  return {
    meta: {
      formatVersion: CHECKPOINT_FORMAT_VERSION,
      recipeHash: 'hash-1',
      runId: 'run',
      step,
      totalSteps: 10,
      adamSteps: [step],
      sampler: { version: 1, step } as unknown as CheckpointMeta['sampler'],
      tensors: TENSORS,
      history: [],
      savedAt: 0,
    },
    tensors: new Map(TENSORS.map(({ name, length }) => [name, Float32Array.from({ length }, (_, i) => step + i / 10)])),
  };
}

describe('checkpoints', () => {
  let dir = '';
  let storage: Storage;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cocktail-checkpoint-'));
    storage = await openFileStorage(dir);
  });
  afterEach(async () => {
    await storage.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** Saves checkpoints at steps 2 and 4 (the default keeps both). */
  const saveTwo = async () => {
    await saveCheckpoint(storage, checkpointAt(2));
    await saveCheckpoint(storage, checkpointAt(4));
  };
  /** Rewrites the stored meta of a checkpoint, keeping its bytes (a meta edited or damaged after the write). */
  const rewriteMeta = async (step: number, change: (meta: Record<string, Json>) => Record<string, Json>) => {
    const key = checkpointKey('run', step);
    const info = (await storage.getInfo('checkpoints', key))!;
    await storage.put('checkpoints', key, change(info.meta as Record<string, Json>), await storage.getBytes('checkpoints', key));
  };
  const expectFallback = async (reason: RegExp) => {
    const { checkpoint, refused } = await loadCheckpoint(storage, 'run', EXPECTED);
    expect(checkpoint?.meta.step).toBe(2);
    expect(Array.from(checkpoint!.tensors.get('shared/0/param')!)).toEqual(Array.from(checkpointAt(2).tensors.get('shared/0/param')!));
    expect(refused).toHaveLength(1);
    expect(refused[0]!.location).toBe(join(dir, 'checkpoints', 'run%400000000004.item'));
    expect(refused[0]!.reason).toContain(refused[0]!.location);
    expect(refused[0]!.reason).toMatch(reason);
  };

  it('loads the newest of the checkpoints kept, bit for bit, and keeps only the newest N', async () => {
    await saveTwo();
    await saveCheckpoint(storage, checkpointAt(6));
    expect((await listCheckpoints(storage, 'run')).map((item) => item.key)).toEqual([checkpointKey('run', 6), checkpointKey('run', 4)]);
    await saveCheckpoint(storage, checkpointAt(8), 3);
    expect((await listCheckpoints(storage, 'run')).map((item) => (item.meta as { step: number }).step)).toEqual([8, 6, 4]);
    const { checkpoint, refused } = await loadCheckpoint(storage, 'run', EXPECTED);
    expect(refused).toEqual([]);
    expect(checkpoint!.meta.step).toBe(8);
    expect(checkpoint!.tensors.get('shared/0/v')).toEqual(checkpointAt(8).tensors.get('shared/0/v'));
    expect(await deleteCheckpoints(storage, 'run')).toBe(3);
    expect(await loadCheckpoint(storage, 'run', EXPECTED)).toEqual({ refused: [] });
  });

  it('refuses random bytes in the tensor data by their checksum and falls back to the one before', async () => {
    await saveTwo();
    const key = checkpointKey('run', 4);
    const bytes = (await storage.getBytes('checkpoints', key))!;
    for (let i = 8; i < 24; i++) bytes[i] = (i * 97 + 13) & 0xff;
    await storage.put('checkpoints', key, (await storage.getInfo('checkpoints', key))!.meta, bytes);
    await expectFallback(/do not match their checksum/);
  });

  it('refuses a corrupt item header with its path, not a SyntaxError, and falls back', async () => {
    await saveTwo();
    const prefix = new DataView(new ArrayBuffer(12));
    prefix.setUint32(0, 0x54534b43, true);
    prefix.setUint32(4, 1, true);
    prefix.setUint32(8, 5, true);
    await writeRawItemFile(dir, 'checkpoints', checkpointKey('run', 4), new Uint8Array([...new Uint8Array(prefix.buffer), ...new TextEncoder().encode('{"inf')]));
    await expect(storage.getInfo('checkpoints', checkpointKey('run', 4))).rejects.toMatchObject({ code: 'STORAGE_CORRUPT' });
    await expectFallback(/header is not valid JSON/);
  });

  it('refuses a meta without its tensor list (not a TypeError) and falls back', async () => {
    await saveTwo();
    await rewriteMeta(4, ({ tensors: _tensors, ...meta }) => meta);
    await expectFallback(/meta field "tensors" is missing/);
  });

  it('refuses a checkpoint past the run’s end and falls back', async () => {
    await saveTwo();
    await rewriteMeta(4, (meta) => ({ ...meta, step: 40 }));
    await expectFallback(/at step 40, past the run's end at step 10/);
  });

  it('refuses tensors that are not the run’s, and a bytes length that does not match the meta', async () => {
    await saveTwo();
    await rewriteMeta(4, (meta) => ({ ...meta, tensors: [{ name: 'shared/0/param', length: 6 }, { name: 'shared/0/m', length: 6 }, { name: 'other', length: 6 }] }));
    await expectFallback(/tensor "other" is not one of the run's/);
    await rewriteMeta(4, (meta) => ({ ...meta, tensors: TENSORS.map((t) => ({ ...t, length: 5 })) }));
    await expectFallback(/tensor "shared\/0\/param" has 5 values; the run's has 6/);
  });

  it('reports every refusal when none can be used, and refuses a different recipe outright', async () => {
    await saveTwo();
    await rewriteMeta(4, (meta) => ({ ...meta, checksum: 'sha256:00' }));
    await rewriteMeta(2, (meta) => ({ ...meta, adamSteps: [-1] }));
    const { checkpoint, refused } = await loadCheckpoint(storage, 'run', EXPECTED);
    expect(checkpoint).toBeUndefined();
    expect(refused.map((r) => r.step)).toEqual([4, 2]);
    expect(refused[1]!.reason).toMatch(/meta field "adamSteps" is \[-1\]/);
    await expect(loadCheckpoint(storage, 'run', { ...EXPECTED, recipeHash: 'hash-2' })).rejects.toMatchObject({ code: 'CHECKPOINT_RECIPE_MISMATCH' });
  });
});
