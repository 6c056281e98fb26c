import { useEffect, useMemo } from 'react';
import { formatMiB } from '../../model/memory.ts';
import { useStudio } from '../../state/store.ts';
import { recipeTrainingShape } from '../../train/plan.ts';
import type { TrainingPlanRequest } from '../../../workers/protocol.ts';
import { defaultBudget } from '../model/memory-budget.ts';
import { plannedWeightFormat, planWeightFields, storedDtypeOfSummary } from '../model/planned-weights.ts';

/**
 * Before a run starts: whether the whole run (trainer, evaluator, the generator of generation
 * metrics) fits this GPU's buffer limits and the memory budget, and what would fit when it does not.
 * The same planner `cocktail plan` prints and the engine refuses a run with.
 */
export function RecipeFit() {
  const recipe = useStudio((state) => state.recipe);
  const summary = useStudio((state) => state.model.summary);
  const adapter = useStudio((state) => state.gpu.info?.adapter);
  const budgetOverride = useStudio((state) => state.memoryBudgetBytes);
  const plan = useStudio((state) => state.plan);
  const budgetBytes = budgetOverride ?? defaultBudget(adapter).bytes;
  const sameModel = summary !== undefined && summary.source === recipe.model.source && summary.revision === recipe.model.revision;

  const request = useMemo<TrainingPlanRequest | undefined>(() => {
    if (!sameModel || !summary || recipe.tasks.length === 0 || recipe.lora.targets.length === 0) return undefined;
    const shape = recipeTrainingShape(recipe, storedDtypeOfSummary(summary));
    return {
      batchSize: shape.batchSize,
      seqLength: shape.seqLength,
      r: shape.lora.r,
      targets: [...shape.lora.targets],
      adapters: shape.adapters ?? 1,
      recompute: shape.recompute,
      // What the load will hold: a GPTQ/AWQ checkpoint's int4, whatever recipe.model says (a run refuses a recipe that says otherwise).
      ...planWeightFields(plannedWeightFormat(summary, recipe.model)),
      budgetBytes,
      gradAccum: recipe.grad_accum,
      ...(shape.evaluation ? { evaluation: shape.evaluation } : {}),
      ...(shape.generation ? { generation: shape.generation } : {}),
    };
  }, [recipe, summary, sameModel, budgetBytes]);
  const key = JSON.stringify(request ?? null);

  useEffect(() => {
    if (!request) return;
    // Settings change keystroke by keystroke: plan once they settle.
    const timer = setTimeout(() => void useStudio.getState().planTraining(request), 250);
    return () => clearTimeout(timer);
    // eslint-disable-next-line react-hooks/exhaustive-deps -- the request's content, not its identity
  }, [key]);

  if (!sameModel) {
    return <p className="banner warn" data-testid="recipe-fit">Load {recipe.model.source} on the Model page to see whether this recipe fits this GPU.</p>;
  }
  const estimate = plan.status === 'done' && JSON.stringify(plan.request ?? null) === key ? plan.estimate : undefined;
  if (!estimate) return <p className="banner" data-testid="recipe-fit" aria-busy="true">Planning this recipe’s GPU memory…</p>;
  return (
    <div role="status" data-testid="recipe-fit" className={estimate.fits ? 'banner ok' : 'banner error'}>
      {estimate.fits
        ? `Fits this GPU: the run needs about ${formatMiB(estimate.totalBytes)} of the ${formatMiB(budgetBytes)} budget.`
        : 'Does not fit this GPU with these settings.'}
      {estimate.advice.length > 0 && (
        <ul>
          {estimate.advice.map((line) => (
            <li key={line}>{line}</li>
          ))}
        </ul>
      )}
    </div>
  );
}
