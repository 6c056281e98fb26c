/**
 * max_length against the model's context. A max_length beyond the positions the model was trained for
 * would train and evaluate on positions it never saw (RoPE extrapolates poorly): runs use the model's
 * context instead and say so, and the Train, Tasks and Mixture pages say it before a run starts; the token
 * view, the Mixture counts and the data audit count at the clamped length too. Pure, so the pages, the
 * engine and the CLI share one rule and one sentence.
 */
import type { Recipe } from './recipe.ts';

export function contextNotice(maxLength: number, contextLength: number): string | undefined {
  if (maxLength <= contextLength) return undefined;
  return `max_length ${maxLength} is longer than the model's context of ${contextLength} positions (max_position_embeddings): this run uses ${contextLength}.`;
}

export function clampToContext(recipe: Recipe, contextLength: number): { recipe: Recipe; notice?: string } {
  const notice = contextNotice(recipe.max_length, contextLength);
  return notice === undefined ? { recipe } : { recipe: { ...recipe, max_length: contextLength }, notice };
}
