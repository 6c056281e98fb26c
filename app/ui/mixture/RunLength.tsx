import { useStudio } from '../../state/store.ts';
import { hrefFor } from '../routes.ts';
import { formatCount } from './format.ts';

/**
 * The run's length and batch, which decide how many examples the mixture hands out. They belong to
 * the Train page; here they are shown, with what each means, because the preview follows from them.
 */
export function RunLength({ optimizerSteps }: { optimizerSteps: number | null }) {
  const steps = useStudio((state) => state.recipe.steps);
  const epochs = useStudio((state) => state.recipe.epochs);
  const batchSize = useStudio((state) => state.recipe.batch_size);
  const gradAccum = useStudio((state) => state.recipe.grad_accum);
  const perStep = batchSize * gradAccum;

  return (
    <section aria-labelledby="mix-length-title">
      <h3 id="mix-length-title">Run length</h3>
      <dl className="facts mix-length" data-testid="run-length">
        {steps !== undefined ? (
          <>
            <dt>Steps</dt>
            <dd>
              {formatCount(steps)} <span className="muted">optimizer updates of the LoRA weights</span>
            </dd>
          </>
        ) : (
          <>
            <dt>Epochs</dt>
            <dd>
              {epochs ?? '—'} <span className="muted">passes over all tasks’ training examples{optimizerSteps !== null && `: ${formatCount(optimizerSteps)} steps`}</span>
            </dd>
          </>
        )}
        <dt>Batch size</dt>
        <dd>
          {batchSize} <span className="muted">examples per micro-batch</span>
        </dd>
        <dt>Gradient accumulation</dt>
        <dd>
          {gradAccum} <span className="muted">micro-batches per step, so {formatCount(perStep)} examples per step</span>
        </dd>
      </dl>
      <p className="muted">
        These come from the recipe; change them on the <a href={hrefFor('train')}>Train page</a>.
      </p>
    </section>
  );
}
