/**
 * ONNX Runtime as an independent implementation: the logits of an ONNX export (Hub repositories keep
 * it at onnx/model.onnx, input `input_ids` int64 [batch, sequence], output `logits`) for one sequence.
 * onnxruntime-web runs on its wasm backend both in browsers and in Node (`#onnxruntime`: app/onnxruntime.d.ts).
 */
import * as ort from '#onnxruntime';
import { CocktailError } from '../errors.ts';

export interface OnnxLogits {
  logits: Float32Array;
  T: number;
  V: number;
}

export async function onnxLogits(model: Uint8Array, ids: readonly number[], fileName = 'onnx/model.onnx'): Promise<OnnxLogits> {
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(model, { executionProviders: ['wasm'] });
  } catch (error) {
    throw new CocktailError('ONNX_INVALID', `${fileName}: ONNX Runtime could not load it (${String(error)})`, { file: fileName });
  }
  try {
    if (!session.inputNames.includes('input_ids') || !session.outputNames.includes('logits')) {
      throw new CocktailError(
        'ONNX_INVALID',
        `${fileName}: expected input "input_ids" and output "logits", found inputs [${session.inputNames.join(', ')}] and outputs [${session.outputNames.join(', ')}]`,
        { file: fileName },
      );
    }
    const feeds: Record<string, ort.Tensor> = { input_ids: new ort.Tensor('int64', BigInt64Array.from(ids, BigInt), [1, ids.length]) };
    // Some exports also take an attention mask and explicit positions.
    if (session.inputNames.includes('attention_mask')) feeds.attention_mask = new ort.Tensor('int64', new BigInt64Array(ids.length).fill(1n), [1, ids.length]);
    if (session.inputNames.includes('position_ids')) feeds.position_ids = new ort.Tensor('int64', BigInt64Array.from(ids.keys(), BigInt), [1, ids.length]);
    const output = (await session.run(feeds)).logits!;
    const [, T, V] = output.dims as [number, number, number];
    return { logits: output.data as Float32Array, T, V };
  } finally {
    await session.release();
  }
}
