import { useId, useRef } from 'react';
import { useStudio } from '../../state/store.ts';
import type { MixtureStrategyName } from '../../train/recipe.ts';
import { Field } from '../components/Field.tsx';
import { NumberInput } from './NumberInput.tsx';
import { rememberParameters, STRATEGIES, usesCap, withStrategy, type Mixture, type RememberedParameters } from './strategies.ts';

/** Temperatures the slider offers; the number box takes any T > 0. */
const SLIDER_TEMPERATURE = { min: 0.5, max: 10, step: 0.5 };

/**
 * How tasks are drawn: the strategy as a radio group (arrow keys move between strategies) with each
 * one's formula, then the parameters of the chosen strategy and the sampling unit.
 */
export function StrategyControl({ taskNames }: { taskNames: readonly string[] }) {
  const mixture = useStudio((state) => state.recipe.mixture);
  const remembered = useRef<RememberedParameters>({});
  const groupId = useId();

  const update = (change: (mixture: Mixture) => Mixture) => useStudio.getState().updateRecipe((recipe) => ({ ...recipe, mixture: change(recipe.mixture) }));
  const choose = (strategy: MixtureStrategyName) =>
    update((current) => {
      remembered.current = rememberParameters(current, remembered.current);
      return withStrategy(current, strategy, taskNames, remembered.current);
    });

  return (
    <>
      <fieldset className="mix-strategies">
        <legend>Strategy</legend>
        {STRATEGIES.map((strategy) => (
          <div key={strategy.name} className="mix-strategy">
            <input
              type="radio"
              id={`${groupId}-${strategy.name}`}
              name={groupId}
              value={strategy.name}
              checked={mixture.strategy === strategy.name}
              onChange={() => choose(strategy.name)}
              aria-describedby={`${groupId}-${strategy.name}-hint`}
            />
            <label htmlFor={`${groupId}-${strategy.name}`}>{strategy.label}</label>
            <small id={`${groupId}-${strategy.name}-hint`} className="muted">
              {strategy.explanation}
            </small>
          </div>
        ))}
      </fieldset>

      {mixture.strategy === 'temperature' && <TemperatureField temperature={mixture.temperature} onTemperature={(temperature) => update((current) => withValue(current, 'temperature', temperature))} />}

      {usesCap(mixture.strategy) && (
        <Field label="Cap K" hint="Optional: a task larger than K counts as K examples (mᵢ = min(nᵢ, K)), so one huge task cannot crowd out the rest. Leave empty for no cap.">
          {(props) => <NumberInput {...props} className="mix-number" min={1} step={1} value={mixture.cap} onValue={(cap) => update((current) => withValue(current, 'cap', cap))} />}
        </Field>
      )}

      {mixture.strategy === 'manual' && <ManualWeights taskNames={taskNames} weights={mixture.weights ?? {}} onWeight={(name, weight) => update((current) => withWeight(current, name, weight))} />}

      <Field label="Sample by" hint="Per example: every example of a batch picks its own task. Per batch: a whole batch comes from one task (per-task adapters need this).">
        {(props) => (
          <select {...props} value={mixture.per} onChange={(event) => update((current) => ({ ...current, per: event.target.value as Mixture['per'] }))}>
            <option value="example">example</option>
            <option value="batch">batch</option>
          </select>
        )}
      </Field>
    </>
  );
}

function TemperatureField({ temperature, onTemperature }: { temperature: number | undefined; onTemperature(value: number | undefined): void }) {
  const id = useId();
  return (
    <div className="field">
      <label id={`${id}-label`} htmlFor={`${id}-number`}>
        Temperature T
      </label>
      <div className="mix-temperature">
        <input
          type="range"
          aria-labelledby={`${id}-label`}
          aria-describedby={`${id}-hint`}
          {...SLIDER_TEMPERATURE}
          value={temperature ?? SLIDER_TEMPERATURE.min}
          onChange={(event) => onTemperature(Number(event.target.value))}
        />
        <NumberInput id={`${id}-number`} className="mix-number" aria-describedby={`${id}-hint`} min={0} step="any" value={temperature} onValue={onTemperature} />
      </div>
      <small id={`${id}-hint`} className="muted field-hint">
        T = 1 samples in proportion to size, T = 2 by the square root of size; from about T = 5 it is nearly uniform.
      </small>
    </div>
  );
}

function ManualWeights({ taskNames, weights, onWeight }: { taskNames: readonly string[]; weights: Readonly<Record<string, number>>; onWeight(name: string, weight: number | undefined): void }) {
  return (
    <fieldset className="mix-weights">
      <legend>Weights</legend>
      <p className="muted">Relative: 2 draws a task twice as often as 1. Regularizers are weighed among themselves, within their share.</p>
      {taskNames.map((name) => (
        <Field key={name} label={`Weight of ${name}`}>
          {(props) => <NumberInput {...props} className="mix-number" min={0} step="any" value={weights[name]} onValue={(weight) => onWeight(name, weight)} />}
        </Field>
      ))}
    </fieldset>
  );
}

function withValue(mixture: Mixture, field: 'temperature' | 'cap', value: number | undefined): Mixture {
  const next = { ...mixture };
  if (value === undefined) delete next[field];
  else next[field] = value;
  return next;
}

function withWeight(mixture: Mixture, name: string, weight: number | undefined): Mixture {
  const weights = { ...mixture.weights };
  if (weight === undefined) delete weights[name];
  else weights[name] = weight;
  return { ...mixture, weights };
}
