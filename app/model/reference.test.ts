import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { fixturePath } from '../../test/fixtures.ts';
import { relativeError } from '../util/numeric.ts';
import { onnxLogits } from './onnx-check.ts';
import { parseModelConfig } from './config.ts';
import { filesFromDirectory } from './node-source.ts';
import { referenceLogits, type ReferenceWeights } from './reference.ts';
import { locateWeights, readWeightFloat64 } from './weights.ts';

async function loadReference(): Promise<ReferenceWeights> {
  const dir = fixturePath('models/aidreams260K');
  const config = parseModelConfig(JSON.parse(await readFile(`${dir}/config.json`, 'utf8')));
  const weights = await locateWeights(await filesFromDirectory(dir), config);
  const tensors = new Map<string, Float64Array>();
  for (const ref of weights.refs.values()) tensors.set(ref.name, await readWeightFloat64(ref));
  return { config, tensors };
}

function argmax(row: Float64Array): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i]! > row[best]!) best = i;
  return best;
}

describe('Float64 reference forward on the real aidreams260K model', () => {
  it('greedy decoding from BOS begins with the ids the fixture README lists', async () => {
    const model = await loadReference();
    const ids = [1];
    for (let step = 0; step < 8; step++) {
      const logits = referenceLogits(model, ids);
      const V = model.config.vocabSize;
      ids.push(argmax(logits.subarray((ids.length - 1) * V, ids.length * V)));
    }
    expect(ids.slice(1)).toEqual([319, 459, 355, 260, 275, 429, 339, 315]);
  });
});

describe('Float64 reference against ONNX Runtime', () => {
  it('gives the logits of onnx/model.onnx to 1e-4 of their scale for a 24-token prompt', async () => {
    const model = await loadReference();
    const ids = [1, 319, 459, 355, 260, 275, 429, 339, 315, 42, 7, 100, 200, 300, 400, 500, 3, 4, 5, 6, 77, 88, 99, 111];
    const onnx = await onnxLogits(await readFile(fixturePath('models/aidreams260K/onnx/model.onnx')), ids);
    expect([onnx.T, onnx.V]).toEqual([ids.length, 512]);
    expect(relativeError(onnx.logits, referenceLogits(model, ids))).toBeLessThan(1e-4);
  });
});
