import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseModelConfig } from '../app/model/config.ts';
import { FIXTURES } from '../test/fixtures.ts';
import { f16Timing, f16Verdict, gflopsOf, kernelProducts, kernelRow, kernelTable, median, onVocabShard, operandShapes, productFlops, type KernelProduct, type KernelResults, type KernelRow } from './kernel-products.ts';

const path = `${FIXTURES}/configs/SmolLM2-135M.config.json`;
const smol = parseModelConfig(JSON.parse(readFileSync(path, 'utf8')), path);

describe('bench:kernels products of a SmolLM2-135M LoRA step', () => {
  const products = kernelProducts(smol, 2048, 16);
  const byName = new Map(products.map((p) => [p.kernel, p]));

  it('has every projection in the three layouts, the LM head forward and input gradient, and six LoRA products per in→out pair', () => {
    // 4 distinct projections x 3 layouts + 2 LM head + 4 pairs (576→576, 576→192, 576→1536, 1536→576) x 6.
    expect(products).toHaveLength(4 * 3 + 2 + 4 * 6);
    expect(new Set(products.map((p) => p.kernel)).size).toBe(products.length);
  });

  it('gives the shapes [M, N, K] of the issue: q/o 576→576, k/v 576→192, gate/up 576→1536, down 1536→576, LM head 576→49152', () => {
    expect(byName.get('q/o_proj X·Wᵀ')!.shape).toEqual([2048, 576, 576]);
    expect(byName.get('k/v_proj dY·W')!.shape).toEqual([2048, 192, 576]);
    expect(byName.get('gate/up_proj dYᵀ·X')!.shape).toEqual([2048, 1536, 576]);
    expect(byName.get('down_proj X·Wᵀ')!.shape).toEqual([2048, 576, 1536]);
    expect(byName.get('lm_head X·Wᵀ')).toMatchObject({ layout: 'nt', shape: [2048, 49152, 576], frozenWeight: true });
    expect(byName.get('lm_head dY·W')).toMatchObject({ layout: 'nn', shape: [2048, 49152, 576] });
    expect(byName.has('lm_head dYᵀ·X')).toBe(false);
  });

  it('gives the LoRA products their rank-16 side in the right place for each layout', () => {
    const pair = '(1536→576, r=16)';
    expect(byName.get(`LoRA U = X·Aᵀ ${pair}`)).toMatchObject({ layout: 'nt', shape: [2048, 16, 1536], frozenWeight: false });
    expect(byName.get(`LoRA Y += U·Bᵀ ${pair}`)).toMatchObject({ layout: 'nt', shape: [2048, 576, 16] });
    expect(byName.get(`LoRA dU = dY·B ${pair}`)).toMatchObject({ layout: 'nn', shape: [2048, 576, 16] });
    expect(byName.get(`LoRA dX += dU·A ${pair}`)).toMatchObject({ layout: 'nn', shape: [2048, 16, 1536] });
    expect(byName.get(`LoRA dA = dUᵀ·X ${pair}`)).toMatchObject({ layout: 'tn', shape: [2048, 16, 1536] });
    expect(byName.get(`LoRA dB = dYᵀ·U ${pair}`)).toMatchObject({ layout: 'tn', shape: [2048, 576, 16] });
  });

  it('marks only the frozen weights of nt and nn as the model dtype', () => {
    for (const product of products) expect(product.frozenWeight).toBe(product.layout !== 'tn' && !product.kernel.startsWith('LoRA'));
  });

  it('measures the LM head on a vocabulary shard by name and shape, and leaves other products whole', () => {
    const head = onVocabShard(byName.get('lm_head dY·W')!, 16);
    // 49,152 / 16 = 3,072 words: 1/16 of the FLOPs, the same layout and operand dtypes.
    expect(head).toEqual({ kernel: 'lm_head dY·W (vocab shard 1/16: 3072 of 49152 words)', layout: 'nn', shape: [2048, 3072, 576], frozenWeight: true });
    expect(productFlops(head.shape) * 16).toBe(productFlops([2048, 49152, 576]));
    expect(onVocabShard(byName.get('lm_head X·Wᵀ')!, 1)).toBe(byName.get('lm_head X·Wᵀ'));
    expect(onVocabShard(byName.get('q/o_proj X·Wᵀ')!, 16)).toBe(byName.get('q/o_proj X·Wᵀ'));
    expect(() => onVocabShard(byName.get('lm_head X·Wᵀ')!, 5)).toThrow(/49152 into 5 equal shards/);
    expect(() => onVocabShard(byName.get('lm_head X·Wᵀ')!, 8192)).toThrow(/multiple of 4/);
  });

  it('names q_proj and o_proj apart when the heads do not span the hidden size', () => {
    const names = kernelProducts({ ...smol, numHeads: 8, headDim: 64 }, 4, 16).map((p) => p.kernel);
    expect(names).toContain('q_proj X·Wᵀ');
    expect(names).toContain('o_proj X·Wᵀ');
  });
});

describe('bench:kernels arithmetic and results', () => {
  it('counts a multiply-add as two FLOPs: the LM head at 2048 tokens is 115.96 GFLOP', () => {
    expect(productFlops([2048, 49152, 576])).toBe(2 * 2048 * 49152 * 576);
    expect(productFlops([2048, 49152, 576]) / 1e9).toBeCloseTo(115.964, 3);
  });

  it('turns milliseconds into GFLOP/s and refuses a non-positive time', () => {
    // 2·100·200·300 = 12 MFLOP in 4 ms = 3 GFLOP/s.
    expect(gflopsOf([100, 200, 300], 4)).toBeCloseTo(3, 12);
    expect(() => gflopsOf([1, 1, 1], 0)).toThrow(/positive number of milliseconds/);
  });

  it('makes a row with exactly the issue fields plus the route, ratio = ours over TF.js', () => {
    const row = kernelRow({ kernel: 'q/o_proj X·Wᵀ', layout: 'nt', shape: [512, 576, 576], frozenWeight: true }, { oursMs: 100, tfjsMs: 250, route: 'tiled' });
    expect(Object.keys(row)).toEqual(['kernel', 'shape', 'ours_gflops', 'tfjs_gflops', 'ratio', 'route']);
    expect(row.ours_gflops).toBeCloseTo((2 * 512 * 576 * 576) / 100 / 1e6, 9);
    expect(row.ratio).toBeCloseTo(2.5, 12);
  });

  it('adds the f16 routes to a row where both were timed, the faster named (a tie keeps gemm)', () => {
    const product: KernelProduct = { kernel: 'down_proj dY·W', layout: 'nn', shape: [512, 576, 1536], frozenWeight: true };
    const row = kernelRow(product, { oursMs: 10, tfjsMs: 30, route: 'gemm', f16: { gemmMs: 10, gemmF16Ms: 8 } });
    const flop = 2 * 512 * 576 * 1536;
    expect(row.f16!.gemm_gflops).toBeCloseTo(flop / 10 / 1e6, 9);
    expect(row.f16!.gemm_f16_gflops).toBeCloseTo(flop / 8 / 1e6, 9);
    expect(row.f16!.faster).toBe('gemm-f16');
    expect(f16Timing(product.shape, 5, 5).faster).toBe('gemm');
    expect(f16Timing(product.shape, 4, 5).faster).toBe('gemm');
  });

  it('says whether gemm-f16 was timed, and on how many products it was faster', () => {
    const timed = (gemmMs: number, gemmF16Ms: number): KernelRow =>
      kernelRow({ kernel: 'p', layout: 'nt', shape: [64, 64, 64], frozenWeight: true }, { oursMs: 1, tfjsMs: 1, route: 'gemm', f16: { gemmMs, gemmF16Ms } });
    expect(f16Verdict([], false)).toMatch(/not timed: the device has no shader-f16/);
    expect(f16Verdict([], true)).toMatch(/not timed: no product/);
    expect(f16Verdict([timed(2, 1), timed(2, 1)], true)).toBe("f16 weights: gemm-f16 faster than gemm on 2 of 2 products (median speed 2.00x of gemm's): faster everywhere: F16_GEMM_DEFAULT may be turned on for this GPU.");
    expect(f16Verdict([timed(1, 2), timed(2, 1), timed(1, 4)], true)).toMatch(/on 1 of 3 products \(median speed 0\.50x of gemm's\): faster on some products only: keep gemm/);
    expect(f16Verdict([timed(1, 2)], true)).toMatch(/slower everywhere: keep gemm/);
    const table = kernelTable({ machine: 'm', adapter: 'a', browser: 'b', rows: [timed(2, 1)], features: ['shader-f16'], kernels: 'auto', timing: 'wall', runs: 1, warmups: 0, largest_difference: 0, notes: '' });
    expect(table).toContain('| p | 64 | 64 | 64 | 0.26 | 0.52 | gemm-f16 |');
  });

  it('gives operand shapes per layout that TF.js multiplies with its transposes', () => {
    expect(operandShapes('nt', [5, 6, 7])).toEqual([[5, 7], [6, 7], [5, 6]]);
    expect(operandShapes('nn', [5, 6, 7])).toEqual([[5, 6], [6, 7], [5, 7]]);
    expect(operandShapes('tn', [5, 6, 7])).toEqual([[5, 6], [5, 7], [6, 7]]);
  });

  it('takes the lower middle as the median of an even count', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2);
    expect(() => median([])).toThrow(RangeError);
  });

  it('writes a markdown table that marks rows under the target ratio', () => {
    const results: KernelResults = {
      machine: 'm',
      adapter: 'a',
      browser: 'b',
      rows: [kernelRow({ kernel: 'x', layout: 'nt', shape: [4, 4, 4], frozenWeight: false }, { oursMs: 1, tfjsMs: 1.5, route: 'gemm' })],
      features: [],
      kernels: 'auto',
      timing: 'wall',
      runs: 1,
      warmups: 0,
      largest_difference: 1e-6,
      notes: '',
    };
    const table = kernelTable(results);
    expect(table).toContain('| x | 4 | 4 | 4 | gemm | 0.00 | 0.00 | 1.50x (under 2x) |');
    expect(table).toContain('1 rows; 1 under the target ratio of 2x.');
  });
});
