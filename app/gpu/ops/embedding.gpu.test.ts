import { describe, expect, it } from 'vitest';
import { setUpTestGpu } from '../../../test/gpu-harness.ts';
import { relativeError } from '../../../test/numeric.ts';
import { Random } from '../../util/random.ts';
import { decodeTensorData, encodeTensorData, storageBytes, type DType } from '../dtype.ts';
import { ShapeError } from '../errors.ts';
import { embeddingReference } from '../reference/embedding.ts';
import { createIndexTensor, createTensor, readIndexTensor, readTensor, type GpuTensor } from '../tensor.ts';
import { encodeEmbedding, planEmbeddingParts } from './embedding.ts';

const gpu = setUpTestGpu();
const { submit, track } = gpu;

const random = Random.fromSeed(37);

interface Table {
  V: number;
  C: number;
  dtype: DType;
  /** The values the GPU decodes, [V, C]. */
  values: Float64Array;
}

function randomTable(V: number, C: number, dtype: DType): Table {
  const raw = random.fillUniform(new Float32Array(V * C), -1, 1);
  return { V, C, dtype, values: decodeTensorData(dtype, encodeTensorData(dtype, raw), V * C) };
}

/** Uploads rows [rowStart, rowStart + rows) of the table as its own packed buffer. */
function uploadRows(table: Table, rowStart: number, rows: number): GpuTensor {
  const slice = table.values.subarray(rowStart * table.C, (rowStart + rows) * table.C);
  return track(createTensor(gpu.ctx.device, `embed_tokens[${rowStart}:${rowStart + rows}]`, [rows, table.C], table.dtype, encodeTensorData(table.dtype, slice)));
}

const reference = ({ V, C, values }: Table, ids: number[]) => embeddingReference({ V, C, table: values, ids });

const randomIds = (count: number, V: number): number[] => Array.from({ length: count }, () => random.int(V));

async function gather(table: Table, ids: number[], partRows: number[], flag?: GpuTensor): Promise<Float32Array> {
  const parts: GpuTensor[] = [];
  let rowStart = 0;
  for (const rows of partRows) {
    parts.push(uploadRows(table, rowStart, rows));
    rowStart += rows;
  }
  const out = track(createTensor(gpu.ctx.device, 'hidden', [ids.length, table.C], 'f32'));
  const idsTensor = track(createIndexTensor(gpu.ctx.device, 'input_ids', [ids.length], 'u32', ids));
  await submit((encoder) => encodeEmbedding(gpu.ctx, encoder, { ids: idsTensor, parts }, out, flag));
  return readTensor(gpu.ctx.device, out);
}

describe('embedding forward: out[bt] = E[ids[bt]]', () => {
  const cases = [
    { V: 512, C: 64, BT: 37, dtype: 'f32', label: 'the fixture model' },
    { V: 512, C: 64, BT: 37, dtype: 'bf16', label: 'the fixture model' },
    { V: 777, C: 576, BT: 5, dtype: 'bf16', label: 'SmolLM2-135M width' },
    { V: 101, C: 63, BT: 13, dtype: 'f16', label: 'an odd width, so rows start mid-word' },
    { V: 7, C: 1, BT: 1, dtype: 'bf16', label: 'one id, one channel' },
    { V: 50, C: 576, BT: 1001, dtype: 'f32', label: 'more outputs than the 2048 × 256 invocations of the capped grid' },
  ] as const;
  for (const c of cases) {
    it(`copies rows exactly for V=${c.V} C=${c.C} BT=${c.BT} ${c.dtype}: ${c.label}`, async () => {
      const table = randomTable(c.V, c.C, c.dtype);
      const ids = randomIds(c.BT, c.V);
      ids[0] = c.V - 1;
      const got = await gather(table, ids, [c.V]);
      expect(relativeError(got, reference(table, ids).out)).toBe(0);
    });
  }
});

describe('embedding split by vocab rows across several buffers', () => {
  for (const dtype of ['bf16', 'f16', 'f32'] as const) {
    it(`gives the same result as one table for three uneven parts (${dtype}, odd C, odd part sizes)`, async () => {
      const table = randomTable(777, 45, dtype);
      const ids = [...randomIds(40, 777), 0, 250, 251, 500, 501, 502, 776];
      const whole = await gather(table, ids, [777]);
      const split = await gather(table, ids, [251, 251, 275]);
      expect(relativeError(split, whole)).toBe(0);
      expect(relativeError(split, reference(table, ids).out)).toBe(0);
    });
  }

  it('plans parts within the binding and buffer limits for a 151936 × 896 bf16 table (272 MB)', () => {
    const limits = { maxStorageBufferBindingSize: 134217728, maxBufferSize: 268435456 };
    const parts = planEmbeddingParts({ limits } as GPUDevice, 151936, 896, 'bf16');
    expect(parts.map((part) => part.rows)).toEqual([74898, 74898, 2140]);
    expect(parts.map((part) => part.rowStart)).toEqual([0, 74898, 149796]);
    for (const part of parts) expect(storageBytes('bf16', part.rows * 896)).toBeLessThanOrEqual(limits.maxStorageBufferBindingSize);
  });

  it('plans one part when the table fits a binding', () => {
    expect(planEmbeddingParts(gpu.ctx.device, 49152, 576, 'bf16')).toEqual([{ rowStart: 0, rows: 49152 }]);
  });
});

describe('embedding with ids ≥ V: zeros, never an out-of-bounds read, and a raised flag', () => {
  it('writes zero rows and sets the flag to 1, with the table split in two', async () => {
    const table = randomTable(100, 16, 'bf16');
    const ids = [5, 100, 99, 0xffffffff, 57, 1000];
    const flag = track(createIndexTensor(gpu.ctx.device, 'out_of_vocab', [1], 'u32', [0]));
    const got = await gather(table, ids, [40, 60], flag);
    const want = reference(table, ids);
    expect(relativeError(got, want.out)).toBe(0);
    expect(Array.from(got.subarray(16, 32))).toEqual(new Array(16).fill(0));
    expect(Array.from(await readIndexTensor(gpu.ctx.device, flag))).toEqual([1]);
  });

  it('leaves the flag at 0 when every id is in the vocabulary', async () => {
    const table = randomTable(100, 16, 'f32');
    const flag = track(createIndexTensor(gpu.ctx.device, 'out_of_vocab', [1], 'u32', [0]));
    await gather(table, [0, 99, 42], [100], flag);
    expect(Array.from(await readIndexTensor(gpu.ctx.device, flag))).toEqual([0]);
  });
});

describe('embedding refuses bad calls before dispatch', () => {
  const ids = (count: number) => track(createIndexTensor(gpu.ctx.device, 'input_ids', [count], 'u32', new Array(count).fill(0)));
  const tensor = (name: string, shape: number[], dtype: DType = 'f32') => track(createTensor(gpu.ctx.device, name, shape, dtype));

  it('names the part whose width differs from the first part', () => {
    const call = () => encodeEmbedding(gpu.ctx, gpu.ctx.device.createCommandEncoder(), { ids: ids(3), parts: [tensor('E0', [10, 8], 'bf16'), tensor('E1', [10, 9], 'bf16')] }, tensor('out', [3, 8]));
    expect(call).toThrow(ShapeError);
    expect(call).toThrow(/tensor "E1" has shape \[10, 9\], expected \[rows, C\] = \[10, 8\]/);
  });

  it('names the output when it is not [BT, C]', () => {
    const call = () => encodeEmbedding(gpu.ctx, gpu.ctx.device.createCommandEncoder(), { ids: ids(3), parts: [tensor('E', [10, 8])] }, tensor('out', [4, 8]));
    expect(call).toThrow(/tensor "out" has shape \[4, 8\], expected \[BT, C\] = \[3, 8\]/);
  });

  it('refuses a table with no parts', () => {
    expect(() => encodeEmbedding(gpu.ctx, gpu.ctx.device.createCommandEncoder(), { ids: ids(3), parts: [] }, tensor('out', [3, 8]))).toThrow(/at least one part/);
  });

  it('refuses ids that are not integers in [0, 2³²) when uploading them', () => {
    expect(() => createIndexTensor(gpu.ctx.device, 'input_ids', [2], 'u32', [1, -1])).toThrow(/element 1 is -1, not a u32/);
  });
});
