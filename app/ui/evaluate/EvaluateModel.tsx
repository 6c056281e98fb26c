import { useState } from 'react';
import { useStudio } from '../../state/store.ts';
import { Field } from '../components/Field.tsx';
import { EvaluationSettings } from './EvaluationSettings.tsx';
import { hrefFor } from '../routes.ts';

const BASE_MODEL = '';

/**
 * Evaluates the current recipe's tasks with the base model or any adapter in the library, so an
 * adapter trained elsewhere (or the untouched model) can be compared with this studio's runs.
 */
export function EvaluateModel() {
  const model = useStudio((state) => state.recipe.model.source);
  const tasks = useStudio((state) => state.recipe.tasks.length);
  const problems = useStudio((state) => state.recipeProblems.length);
  const adapters = useStudio((state) => state.library.adapters);
  const running = useStudio((state) => state.evaluation.status === 'running');
  const [choice, setChoice] = useState(BASE_MODEL);
  const adapterKey = adapters.some((a) => a.key === choice) ? choice : BASE_MODEL;

  return (
    <section className="panel" aria-labelledby="evaluate-model-title">
      <h2 id="evaluate-model-title">Evaluate a model</h2>
      <p className="muted">
        Scores the current recipe’s {tasks} task{tasks === 1 ? '' : 's'} on their validation splits with <code>{model}</code>, as a run’s final evaluation does.
      </p>
      <div className="row eval-model-row">
        <Field label="Model to evaluate" hint="The base model without an adapter, or an adapter from the library (trained here or imported).">
          {(props) => (
            <select {...props} value={adapterKey} onChange={(event) => setChoice(event.target.value)}>
              <option value={BASE_MODEL}>Base model ({model})</option>
              {adapters.map((adapter) => (
                <option key={adapter.key} value={adapter.key}>
                  Adapter {adapter.key}
                  {adapter.baseModel && adapter.baseModel !== model ? ` (for ${adapter.baseModel})` : ''}
                </option>
              ))}
            </select>
          )}
        </Field>
        <button type="button" disabled={running || tasks === 0 || problems > 0} onClick={() => void useStudio.getState().evaluateModel(adapterKey || undefined)}>
          Evaluate
        </button>
      </div>
      <EvaluationSettings />
      {tasks === 0 && (
        <p className="muted">
          The recipe has no tasks yet: add them on the <a href={hrefFor('tasks')}>Tasks page</a>.
        </p>
      )}
      {tasks > 0 && problems > 0 && (
        <p className="muted">
          The recipe has problems to fix first; the <a href={hrefFor('train')}>Train page</a> lists them.
        </p>
      )}
    </section>
  );
}
