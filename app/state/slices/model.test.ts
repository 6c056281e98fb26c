import { describe, expect, it } from 'vitest';
import { recipeModelFor, storedState } from './model.ts';

const file = (path: string, complete = true, absent = false) => ({ path, complete, absent });

describe('what storage holds of a model', () => {
  it('is absent when nothing of it was ever cached', () => {
    expect(storedState([])).toBe('absent');
  });

  it('is complete with config, tokenizer and weights, optional files recorded as absent', () => {
    expect(storedState([file('config.json'), file('tokenizer.json'), file('model.safetensors'), file('chat_template.jinja', false, true)])).toBe('complete');
    expect(storedState([file('config.json'), file('tokenizer.json'), file('model.safetensors.index.json'), file('model-00001-of-00002.safetensors')])).toBe('complete');
  });

  it('is partial when a download stopped part way or the weights never started', () => {
    expect(storedState([file('config.json'), file('tokenizer.json'), file('model.safetensors', false)])).toBe('partial');
    expect(storedState([file('config.json'), file('tokenizer.json')])).toBe('partial');
  });
});

describe('the recipe model after the studio opens a model', () => {
  const before = { source: 'fixtures/aidreams260K', revision: 'main', dtype: 'f16', group_size: 128, symmetric: false } as const;

  it('of a GPTQ checkpoint says int4 in the checkpoint’s group and symmetry, which a run requires of it', () => {
    const gptq = { source: 'local/tiny-gptq', revision: 'local', prequantized: { method: 'gptq', group: 32, symmetric: true } } as const;
    expect(recipeModelFor({ source: 'fixtures/aidreams260K', revision: 'main' }, gptq)).toEqual({ source: 'local/tiny-gptq', revision: 'local', dtype: 'int4', group_size: 32, symmetric: true });
    expect(recipeModelFor(before, gptq)).toEqual({ source: 'local/tiny-gptq', revision: 'local', dtype: 'int4', group_size: 32, symmetric: true });
  });

  it('of an AWQ checkpoint says int4 with zero points (not symmetric) in its group', () => {
    const awq = { source: 'org/tiny-awq', revision: 'main', prequantized: { method: 'awq', group: 64, symmetric: false } } as const;
    expect(recipeModelFor({ source: 'x/y', revision: 'main', dtype: 'bf16' }, awq)).toEqual({ source: 'org/tiny-awq', revision: 'main', dtype: 'int4', group_size: 64, symmetric: false });
  });

  it('of any other model keeps the weight settings the recipe had', () => {
    expect(recipeModelFor(before, { source: 'local/aidreams260K', revision: 'local' })).toEqual({ ...before, source: 'local/aidreams260K', revision: 'local' });
    expect(recipeModelFor({ source: 'a/b', revision: 'main' }, { source: 'local/aidreams260K', revision: 'local' })).toEqual({ source: 'local/aidreams260K', revision: 'local' });
  });

  it('of a 16-bit model after a GPTQ checkpoint drops the int4 settings the checkpoint set, so its weights load as stored', () => {
    const gptq = { source: 'local/tiny-gptq', revision: 'local', prequantized: { method: 'gptq', group: 32, symmetric: true } } as const;
    const plain = { source: 'local/aidreams260K', revision: 'local' } as const;
    const afterGptq = recipeModelFor(before, gptq);
    expect(recipeModelFor(afterGptq, plain, gptq)).toEqual({ source: 'local/aidreams260K', revision: 'local' });
    // A 16-bit model after another 16-bit one keeps int4 the user chose (quantized on upload, QLoRA-style).
    const chosen = { ...before, dtype: 'int4', group_size: 64 } as const;
    expect(recipeModelFor(chosen, plain, {})).toEqual({ ...chosen, ...plain });
  });
});
