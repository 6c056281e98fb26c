import { describe, expect, it } from 'vitest';
import { modelAdvice } from './model-advice.ts';

describe('advice when a model does not load', () => {
  it('tells a missing repository from a network failure', () => {
    expect(modelAdvice({ code: 'HUB_HTTP', message: '', details: { status: 404 } }, 'hub')).toMatch(/no such model or revision/);
    expect(modelAdvice({ code: 'HUB_HTTP', message: '', details: { status: 500 } }, 'hub')).toBeUndefined();
    expect(modelAdvice({ code: 'HUB_NETWORK', message: '' }, 'hub')).toMatch(/what was downloaded is kept/);
  });

  it('lists the supported architectures', () => {
    expect(modelAdvice({ code: 'MODEL_UNSUPPORTED', message: '' }, 'local')).toMatch(/LlamaForCausalLM, Qwen2ForCausalLM, MistralForCausalLM/);
  });

  it('asks for the model folder itself when local files lack config or tokenizer', () => {
    expect(modelAdvice({ code: 'MODEL_FILE_MISSING', message: '' }, 'local')).toMatch(/config\.json, tokenizer\.json/);
  });
});
