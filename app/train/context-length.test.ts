import { describe, expect, it } from 'vitest';
import { clampToContext, contextNotice } from './context-length.ts';
import { parseRecipe } from './recipe.ts';

const recipe = (maxLength: number) => parseRecipe({ model: { source: 'm' }, tasks: [{ name: 't', source: { file: 't.jsonl' }, format: 'text' }], max_length: maxLength, steps: 1 });

describe("max_length against the model's context", () => {
  it('leaves a max_length within the context as it is, with nothing to say', () => {
    expect(contextNotice(128, 128)).toBeUndefined();
    const within = recipe(64);
    expect(clampToContext(within, 128)).toEqual({ recipe: within });
  });

  it('clamps a longer max_length to the context and says both numbers', () => {
    const { recipe: clamped, notice } = clampToContext(recipe(256), 128);
    expect(clamped.max_length).toBe(128);
    expect({ ...clamped, max_length: 256 }).toEqual(recipe(256));
    expect(notice).toBe("max_length 256 is longer than the model's context of 128 positions (max_position_embeddings): this run uses 128.");
  });
});
