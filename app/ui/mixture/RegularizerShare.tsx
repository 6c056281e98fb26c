import { useId } from 'react';
import { DEFAULT_REGULARIZER_SHARE } from '../../mix/index.ts';
import { useStudio } from '../../state/store.ts';
import { hrefFor } from '../routes.ts';
import { formatPercent } from './format.ts';
import { NumberInput } from './NumberInput.tsx';

/**
 * The share of draws that go to regularizers (general data mixed in to keep the model's other
 * skills), whatever the strategy: the strategy's formula then splits the rest among the tasks.
 */
export function RegularizerShare({ regularizers }: { regularizers: readonly string[] }) {
  const share = useStudio((state) => state.recipe.mixture.regularizer_share);
  const id = useId();
  const none = regularizers.length === 0;
  const effective = share ?? DEFAULT_REGULARIZER_SHARE;
  const onShare = (value: number | undefined) =>
    useStudio.getState().updateRecipe((recipe) => {
      const mixture = { ...recipe.mixture };
      if (value === undefined) delete mixture.regularizer_share;
      else mixture.regularizer_share = value;
      return { ...recipe, mixture };
    });

  return (
    <section className="mix-regularizers" aria-labelledby={`${id}-title`}>
      <h3 id={`${id}-title`}>Regularizer share</h3>
      <p className="muted">
        {none ? (
          <>
            No task is a regularizer. Mark general-purpose data (instructions, math problems) as a regularizer on the <a href={hrefFor('tasks')}>Tasks page</a> to keep the
            model’s other skills while it learns your tasks.
          </>
        ) : (
          <>
            Regularizers ({regularizers.join(', ')}) together get this share of the draws, whatever the strategy; the tasks share the rest. Empty means the default,{' '}
            {DEFAULT_REGULARIZER_SHARE}.
          </>
        )}
      </p>
      <div className="field">
        <label id={`${id}-label`} htmlFor={`${id}-number`}>
          Share of draws
        </label>
        <div className="mix-temperature">
          <input type="range" aria-labelledby={`${id}-label`} min={0} max={0.5} step={0.01} value={effective} disabled={none} onChange={(event) => onShare(Number(event.target.value))} />
          <NumberInput id={`${id}-number`} className="mix-number" min={0} max={0.99} step={0.01} value={share} placeholder={String(DEFAULT_REGULARIZER_SHARE)} disabled={none} onValue={onShare} />
          {!none && <span className="muted">{formatPercent(effective)} regularizers, {formatPercent(1 - effective)} tasks</span>}
        </div>
      </div>
    </section>
  );
}
