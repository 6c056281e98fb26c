import type { Recipe } from '../../train/recipe.ts';
import { STRATEGIES } from '../mixture/strategies.ts';

/** The facts that tell recipes apart at a glance: model, tasks, mixture, length and LoRA rank. */
export function RecipeSummary({ recipe }: { recipe: Recipe }) {
  const strategy = STRATEGIES.find((s) => s.name === recipe.mixture?.strategy)?.label ?? recipe.mixture?.strategy ?? '—';
  return (
    <dl className="facts recipe-summary">
      <dt>Model</dt>
      <dd>
        {recipe.model?.source ?? '—'}
        {recipe.model?.revision && recipe.model.revision !== 'main' ? `@${recipe.model.revision}` : ''}
      </dd>
      <dt>Tasks</dt>
      <dd>{recipe.tasks?.length ? recipe.tasks.map((task) => (task.role === 'regularizer' ? `${task.name} (regularizer)` : task.name)).join(', ') : 'none yet'}</dd>
      <dt>Mixture</dt>
      <dd>
        {strategy}
        {recipe.mixture?.strategy === 'temperature' && recipe.mixture.temperature !== undefined ? `, T = ${recipe.mixture.temperature}` : ''}
      </dd>
      <dt>Length</dt>
      <dd>{recipe.steps !== undefined ? `${recipe.steps} steps` : recipe.epochs !== undefined ? `${recipe.epochs} epochs` : '—'}</dd>
      <dt>LoRA</dt>
      <dd>{recipe.lora ? `r = ${recipe.lora.r}, α = ${recipe.lora.alpha}` : '—'}</dd>
    </dl>
  );
}
