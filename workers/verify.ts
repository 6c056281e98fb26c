/**
 * model.verify inside the engine worker: "verify engine" runs the same prompt through ONNX Runtime on
 * the model's ONNX export (onnx/model.onnx, stored with the model by model.load) and through our WGSL
 * engine (the session model), and compares every logit.
 */
import { CocktailError } from '../app/errors.ts';
import type { GpuContext } from '../app/gpu/device.ts';
import type { LoadedModel } from '../app/model/load.ts';
import type { ModelFiles } from '../app/model/source.ts';
import { verifyEngine, type EngineCheck } from '../app/model/verify.ts';
import { ONNX_EXPORT } from './model-files.ts';
import { prepareOnnxRuntime } from './onnx-runtime.ts';

/** A short text every tokenizer splits into a handful of ordinary tokens. */
export const DEFAULT_VERIFY_PROMPT = 'Once upon a time, there was a little girl who loved to read.';

export function requireOnnxExport(files: ModelFiles): void {
  if (!files.has(ONNX_EXPORT)) {
    throw new CocktailError(
      'VERIFY_NO_ONNX',
      `${files.label} has no ONNX export (${ONNX_EXPORT}), so there is nothing to check the engine against. Models exported with Optimum (e.g. the onnx-community and HuggingFaceTB repositories) have one; everything else works without it.`,
      { file: ONNX_EXPORT, source: files.label },
    );
  }
}

/** `files` are the model's files opened with the ONNX export (the session model may have been opened without it). */
export async function verifyInStudio(ctx: GpuContext, model: LoadedModel, files: ModelFiles, prompt: string | undefined): Promise<EngineCheck & { prompt: string }> {
  const text = prompt ?? DEFAULT_VERIFY_PROMPT;
  // With the tokenizer's special tokens (BOS), as the model sees a text; cut to the model's context.
  const ids = model.tokenizer.encode(text).slice(0, model.config.maxPositionEmbeddings);
  if (ids.length === 0) throw new CocktailError('VERIFY_EMPTY_PROMPT', 'The prompt gives no tokens; type some text to check the engine with', {});
  const onnx = new Uint8Array(await (await files.open(ONNX_EXPORT)).arrayBuffer());
  await prepareOnnxRuntime();
  return { ...(await verifyEngine(ctx, model.gpu, onnx, ids)), prompt: text };
}
