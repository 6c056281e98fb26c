import { describe, expect, it } from 'vitest';
import { fixturePath } from '../../../test/fixtures.ts';
import { prequantizedFolder, summarizeFolder as summarize } from '../../../test/prequantized-folder.ts';
import { filesFromDirectory } from '../../model/node-source.ts';
import { weightsLabel } from './weights-label.ts';
import { summarizeModel } from '../../../workers/model-summary.ts';

const MODEL = fixturePath('models/aidreams260K');

describe('the model card of a pre-quantized checkpoint', () => {
  it('says int4 with the method and group of a GPTQ checkpoint, not the f16 of its tables', async () => {
    const summary = await summarize(await prequantizedFolder({ quant_method: 'gptq', bits: 4, group_size: 32, desc_act: false, sym: true }), 'gptq');
    expect(summary.weightDtype).toBe('f16');
    expect(summary.prequantized).toEqual({ method: 'gptq', group: 32, symmetric: true });
    expect(weightsLabel(summary)).toBe('int4 (GPTQ, group 32, symmetric); embeddings and norms f16');
  });

  it('says int4 with the method and group of an AWQ checkpoint (zero points, so not symmetric)', async () => {
    const summary = await summarize(await prequantizedFolder({ quant_method: 'awq', bits: 4, group_size: 64, version: 'gemm', zero_point: true }), 'awq');
    expect(summary.prequantized).toEqual({ method: 'awq', group: 64, symmetric: false });
    expect(weightsLabel(summary)).toBe('int4 (AWQ, group 64); embeddings and norms f16');
  });

  it('says the stored dtype of a model that is not pre-quantized', async () => {
    const files = await filesFromDirectory(MODEL);
    const summary = await summarizeModel(files, { source: 'local/tiny', revision: 'local', label: 'local/tiny' }, async () => 0);
    expect(summary.prequantized).toBeUndefined();
    expect(weightsLabel(summary)).toBe('f32');
  });
});
