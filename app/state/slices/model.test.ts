import { describe, expect, it } from 'vitest';
import { storedState } from './model.ts';

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
