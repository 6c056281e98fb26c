import { describe, expect, it } from 'vitest';
import { prequantizedFolder, summarizeFolder } from '../../../test/prequantized-folder.ts';
import { loraTargetsOfArchitecture, parseModelConfig } from '../../model/config.ts';
import { estimateTrainingMemory } from '../../model/memory.ts';
import { planShape } from '../../../workers/model.ts';
import type { TrainingPlanRequest } from '../../../workers/protocol.ts';
import { plannedWeightFormat, planWeightFields } from './planned-weights.ts';

const LIMITS = { maxBufferSize: 2 ** 30, maxStorageBufferBindingSize: 2 ** 30 };

/** A plan request as the Model page's planner sends it, with the weights it chose. */
function request(summaryArchitecture: string, weights: Pick<TrainingPlanRequest, 'dtype' | 'tableDtype' | 'int4'>): TrainingPlanRequest {
  return { batchSize: 1, seqLength: 32, r: 4, targets: [...loraTargetsOfArchitecture(summaryArchitecture)], adapters: 1, recompute: false, budgetBytes: Infinity, ...weights };
}

describe('the memory plan of a GPTQ checkpoint', () => {
  it('counts its projections as the int4 (group 32) the engine holds, not as the f16 of its tables, whatever the planner asked', async () => {
    const files = await prequantizedFolder({ quant_method: 'gptq', bits: 4, group_size: 32, desc_act: false, sym: true });
    const summary = await summarizeFolder(files, 'gptq');
    const config = parseModelConfig(JSON.parse(await files[0]!.text()));
    const { hiddenSize: C, intermediateSize: I, numHeads: H, numKvHeads: Hkv, headDim: D, numLayers: L, vocabSize: V } = config;
    expect([C, I, H * D, Hkv * D, L, V, config.tieWordEmbeddings]).toEqual([64, 128, 64, 64, 4, 512, true]);

    // Counted here from the int4 layout (app/gpu/quant.ts's doc): 4-bit codes, an f32 scale per group of 32, 4-bit zero points.
    const int4 = (N: number, K: number) => (N * K) / 2 + ((N * K) / 32) * 4 + Math.ceil((N * K) / 32 / 8) * 4;
    const f16 = (N: number, K: number) => N * K * 2;
    const weights = (projection: (N: number, K: number) => number) => {
      const perLayer = projection(H * D, C) + 2 * projection(Hkv * D, C) + projection(C, H * D) + 2 * projection(I, C) + projection(C, I);
      // Input and post-attention norms per layer and the final norm in f32; the tied f16 embedding once.
      return L * (perLayer + 2 * C * 4) + C * 4 + V * C * 2;
    };

    for (const asked of [{}, { dtype: 'f16' as const }, { dtype: 'int4' as const, group_size: 64 as const }]) {
      const estimate = estimateTrainingMemory(config, planShape(request(summary.architecture, planWeightFields(plannedWeightFormat(summary, asked)))), LIMITS, Infinity);
      expect(estimate.lines[0]!.what).toBe('frozen weights (int4 (group 32, symmetric), f16 vocabulary tables)');
      expect(estimate.lines[0]!.bytes).toBe(weights(int4));
      expect(estimate.quantization).toEqual({ bytes: weights(int4), sixteenBitBytes: weights(f16) });
    }
    expect(weights(int4)).toBeLessThan(weights(f16) / 2);
  });

  it('plans a model that is not pre-quantized as asked, or as stored', async () => {
    const summary = { weightDtype: 'f16' };
    expect(planWeightFields(plannedWeightFormat(summary, {}))).toEqual({ dtype: 'f16' });
    expect(planWeightFields(plannedWeightFormat(summary, { dtype: 'int4', group_size: 128 }))).toEqual({ dtype: 'int4', tableDtype: 'f16', int4: { group: 128, symmetric: false } });
    expect(planWeightFields(plannedWeightFormat({ weightDtype: 'f32' }, { dtype: 'int8' }))).toEqual({ dtype: 'int8', tableDtype: 'bf16' });
  });
});
