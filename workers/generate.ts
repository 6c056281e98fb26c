/**
 * model.generate inside the engine worker: the prompt (text, or chat messages rendered as a model of
 * this kind is prompted after training) through the session model, with a library adapter or without,
 * streaming each token's text.
 */
import { PLAIN_TEMPLATES, plainGenerationPrompt } from '../app/data/tokenize/plain-templates.ts';
import { leadingIdsFor, tokenizerFacts } from '../app/data/tokenize/tokenizer-facts.ts';
import { CocktailError } from '../app/errors.ts';
import type { GpuContext } from '../app/gpu/device.ts';
import { Generator } from '../app/model/generate.ts';
import type { LoadedModel } from '../app/model/load.ts';
import type { GpuLora } from '../app/model/lora-gpu.ts';
import type { TextTokenizer } from '../app/model/tokenizer.ts';
import type { Storage } from '../app/store/storage.ts';
import { PLAIN_TEMPLATE_BY_FORMAT } from '../app/train/prepare.ts';
import type { Commands, GenerateRequest, GenerateResponse } from './protocol.ts';
import { uploadStoredAdapter } from './studio-env.ts';

/**
 * The prompt's ids. Chat messages go through the model's chat template with the generation prompt;
 * a model without one gets the plain template a "messages" task trains it with (user-assistant), so
 * an adapter is prompted as it was taught. BOS goes first unless the text already starts with it.
 */
export function promptIds(tokenizer: TextTokenizer, prompt: GenerateRequest['prompt']): number[] {
  const text =
    typeof prompt === 'string'
      ? prompt
      : tokenizer.hasChatTemplate
        ? tokenizer.applyChatTemplate(prompt, { addGenerationPrompt: true })
        : plainGenerationPrompt(PLAIN_TEMPLATES[PLAIN_TEMPLATE_BY_FORMAT.messages], prompt);
  const ids = tokenizer.encode(text, { addSpecialTokens: false });
  return [...leadingIdsFor(tokenizerFacts(tokenizer), ids), ...ids];
}

export async function generateInStudio(
  request: GenerateRequest,
  model: LoadedModel,
  ctx: GpuContext,
  storage: Storage,
  signal: AbortSignal,
  progress: (progress: Commands['model.generate']['progress']) => void,
): Promise<GenerateResponse> {
  checkSettings(request);
  const lora = request.adapterKey ? await uploadStoredAdapter(ctx, storage, request.adapterKey, model.config) : undefined;
  try {
    return await generateWithLora(request, model, ctx, lora, signal, progress);
  } finally {
    lora?.destroy();
  }
}

/** Generates for the request with an adapter already on the GPU (or none: the base model). */
export async function generateWithLora(
  request: GenerateRequest,
  model: LoadedModel,
  ctx: GpuContext,
  lora: GpuLora | undefined,
  signal: AbortSignal,
  progress: (progress: Commands['model.generate']['progress']) => void,
): Promise<GenerateResponse> {
  checkSettings(request);
  const prompt = promptIds(model.tokenizer, request.prompt);
  // The KV cache holds what this request can reach, not the model's whole context.
  const capacity = Math.min(model.config.maxPositionEmbeddings, prompt.length + request.maxNewTokens);
  let generator: Generator | undefined;
  try {
    generator = new Generator(ctx, model.gpu, { capacity, ...(lora ? { lora } : {}) });
    const started = performance.now();
    const result = await generator.generate(prompt, {
      maxNewTokens: request.maxNewTokens,
      temperature: request.temperature,
      topP: request.topP,
      seed: request.seed ?? 0,
      eosIds: model.tokenizer.eosIds,
      ...(request.stop && request.stop.length > 0 ? { stopStrings: request.stop } : {}),
      decode: (ids) => model.tokenizer.decode(ids, { skipSpecialTokens: true }),
      onToken: (id, text) => progress({ id, text }),
      signal,
    });
    const seconds = (performance.now() - started) / 1000;
    return {
      ids: result.ids,
      text: result.text ?? '',
      stopReason: result.stopReason,
      tokensPerSecond: seconds > 0 ? result.ids.length / seconds : 0,
      ...(typeof request.prompt === 'string' ? {} : { chatRendering: model.tokenizer.hasChatTemplate ? 'chat-template' : 'plain' }),
    };
  } finally {
    generator?.destroy();
  }
}

function checkSettings(request: GenerateRequest): void {
  const bad = (field: string, rule: string, value: unknown) =>
    new CocktailError('GENERATE_BAD_SETTING', `${field} must be ${rule}; got ${JSON.stringify(value)}`, { field });
  if (!Number.isSafeInteger(request.maxNewTokens) || request.maxNewTokens < 1) throw bad('maxNewTokens', 'a whole number of at least 1', request.maxNewTokens);
  if (!(request.temperature >= 0)) throw bad('temperature', '0 (greedy) or more', request.temperature);
  if (!(request.topP > 0 && request.topP <= 1)) throw bad('topP', 'above 0 and at most 1', request.topP);
}
