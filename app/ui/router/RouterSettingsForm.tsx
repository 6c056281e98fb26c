import { useStudio } from '../../state/store.ts';
import { BASE_CHOICE, candidateAdapters, defaultExperts, perTaskRuns, plannedExperts, runTasks, SHARED_CHOICE, type RouterSettings } from '../../studio/router-plan.ts';
import { Field } from '../components/Field.tsx';

const NOT_ROUTED = '';

/**
 * What the router routes between and how it is trained: the run whose tasks teach it, who answers each
 * task (the run's per-task adapter, any library adapter for the same base model, the shared cocktail
 * adapter or the base model with no adapter; tasks with the same answer teach one expert), the
 * fallback below a confidence threshold, the balance of its training set, the layer and pooling of its
 * features, and its head.
 */
export function RouterSettingsForm({ disabled }: { disabled: boolean }) {
  const settings = useStudio((state) => state.routerSettings);
  const runs = useStudio((state) => state.library.runs);
  const adapters = useStudio((state) => state.library.adapters);
  const layers = useStudio((state) => state.model.summary?.layers);
  const update = (change: Partial<RouterSettings>) => useStudio.getState().updateRouterSettings(change);
  const perTask = perTaskRuns(runs);
  const run = runs.find((candidate) => candidate.runId === settings.runId);
  const offered = run ? candidateAdapters(run, adapters) : [];
  const planned = run ? plannedExperts(settings, runTasks(run)) : [];
  const sharedWanted = settings.fallback === 'shared' || Object.values(settings.experts).includes(SHARED_CHOICE);
  const number = (text: string, fallback: number) => (text.trim() === '' || !Number.isFinite(Number(text)) ? fallback : Number(text));

  return (
    <div className="router-settings">
      <Field label="Run" hint="Its recipe’s tasks teach the router (their training splits) and its per-task adapters are the experts offered first. Runs with lora.layout “per_task” are listed.">
        {(props) => (
          <select
            {...props}
            value={run?.runId ?? ''}
            disabled={disabled}
            onChange={(event) => {
              const chosen = runs.find((candidate) => candidate.runId === event.target.value);
              update({ runId: event.target.value || undefined, experts: chosen ? defaultExperts(chosen) : {}, ...(settings.name === '' && chosen ? { name: `${chosen.name || chosen.runId} router` } : {}) });
            }}
          >
            <option value="">{perTask.length === 0 ? 'No per-task run yet: train one with lora.layout “per_task”' : 'Choose a run…'}</option>
            {perTask.map((candidate) => (
              <option key={candidate.runId} value={candidate.runId}>
                {candidate.name || candidate.runId} ({runTasks(candidate).join(', ')})
              </option>
            ))}
          </select>
        )}
      </Field>
      {run && (
        <fieldset disabled={disabled}>
          <legend>Experts (who answers each task; its training prompts teach that expert)</legend>
          {runTasks(run).map((task) => (
            <Field key={task} label={`Expert for ${task}`}>
              {(props) => (
                <select {...props} value={settings.experts[task] ?? NOT_ROUTED} onChange={(event) => update({ experts: { ...settings.experts, [task]: event.target.value } })}>
                  <option value={NOT_ROUTED}>Not routed</option>
                  <option value={BASE_CHOICE}>The base model (no adapter)</option>
                  <option value={SHARED_CHOICE}>The shared cocktail adapter</option>
                  {offered.map((adapter) => (
                    <option key={adapter.key} value={adapter.key}>
                      {adapter.label ?? adapter.key}
                    </option>
                  ))}
                </select>
              )}
            </Field>
          ))}
          <p className="muted" data-testid="router-experts">
            {planned.length === 0 ? 'No expert chosen yet.' : `Experts: ${planned.map((expert) => `${expert.name} ← ${expert.tasks!.join(' + ')}`).join('; ')}`}
          </p>
        </fieldset>
      )}
      <Field label="Router name">{(props) => <input {...props} value={settings.name} disabled={disabled} onChange={(event) => update({ name: event.target.value })} />}</Field>
      <Field label="Balance" hint="Train on the same number of prompts from each task (the smallest task’s), or repeat the smaller tasks’ prompts up to the largest. “Unbalanced” keeps every prompt: it is there to compare, and routes toward the large task.">
        {(props) => (
          <select {...props} value={settings.balance} disabled={disabled} onChange={(event) => update({ balance: event.target.value as RouterSettings['balance'] })}>
            <option value="balanced">Balanced (smallest task sets the count)</option>
            <option value="oversample">Balanced by oversampling the smaller tasks</option>
            <option value="unbalanced">Unbalanced (for comparison)</option>
          </select>
        )}
      </Field>
      <Field label="Layer" hint={`Which hidden state the features read (0 = embeddings${layers ? `, ${layers} = after the final norm` : ''}); empty: the middle layer.`}>
        {(props) => (
          <input
            {...props}
            type="number"
            min={0}
            {...(layers ? { max: layers } : {})}
            value={settings.layer ?? ''}
            disabled={disabled}
            onChange={(event) => update({ layer: event.target.value === '' ? undefined : Math.trunc(Number(event.target.value)) })}
          />
        )}
      </Field>
      <Field label="Pooling" hint="The mean over the prompt’s tokens, the last token’s state, or both joined (twice the features; the most accurate on small models).">
        {(props) => (
          <select {...props} value={settings.pooling} disabled={disabled} onChange={(event) => update({ pooling: event.target.value as RouterSettings['pooling'] })}>
            <option value="mean">Mean over the prompt</option>
            <option value="last">Last token</option>
            <option value="mean_last">Mean and last token, joined</option>
          </select>
        )}
      </Field>
      <Field label="Head" hint="A linear layer, or one hidden layer (relu) of this many units.">
        {(props) => (
          <select {...props} value={String(settings.hidden)} disabled={disabled} onChange={(event) => update({ hidden: Number(event.target.value) })}>
            <option value="0">Linear</option>
            <option value="16">One hidden layer, 16 units</option>
            <option value="32">One hidden layer, 32 units</option>
            <option value="64">One hidden layer, 64 units</option>
            <option value="256">One hidden layer, 256 units</option>
          </select>
        )}
      </Field>
      <Field label="Temperature" hint="Probabilities are softmax(logits / temperature): above 1 flattens them, below 1 sharpens them.">
        {(props) => <input {...props} type="number" min={0.05} step={0.05} value={settings.temperature} disabled={disabled} onChange={(event) => update({ temperature: number(event.target.value, settings.temperature) })} />}
      </Field>
      <Field label="Experts that answer" hint="The most probable expert alone, or the top k mixed: their LoRA deltas weighted by the router’s renormalized probabilities (one adapter of rank k·r).">
        {(props) => (
          <select {...props} value={String(settings.topK)} disabled={disabled} onChange={(event) => update({ topK: Number(event.target.value) })}>
            {Array.from({ length: Math.max(1, planned.length) }, (_, index) => index + 1).map((k) => (
              <option key={k} value={k}>
                {k === 1 ? 'The top expert (top-1)' : `The top ${k}, mixed`}
              </option>
            ))}
          </select>
        )}
      </Field>
      <Field label="Confidence threshold" hint="Below this top probability the fallback answers instead (0: never).">
        {(props) => <input {...props} type="number" min={0} max={1} step={0.05} value={settings.threshold} disabled={disabled} onChange={(event) => update({ threshold: number(event.target.value, settings.threshold) })} />}
      </Field>
      <Field label="Fallback" hint="Who answers a prompt the router is unsure of.">
        {(props) => (
          <select {...props} value={settings.fallback ?? ''} disabled={disabled} onChange={(event) => update({ fallback: (event.target.value || null) as RouterSettings['fallback'] })}>
            <option value="">None</option>
            <option value="base">The base model (no adapter)</option>
            <option value="shared">A shared cocktail adapter</option>
          </select>
        )}
      </Field>
      {sharedWanted && (
        <Field label="Shared adapter" hint="The cocktail adapter trained on every task, from the library: the expert of the tasks given to it, and the fallback when chosen.">
          {(props) => (
            <select {...props} value={settings.sharedKey ?? ''} disabled={disabled} onChange={(event) => update({ sharedKey: event.target.value || undefined })}>
              <option value="">Choose an adapter…</option>
              {(run ? offered : adapters).map((adapter) => (
                <option key={adapter.key} value={adapter.key}>
                  {adapter.label ?? adapter.key}
                </option>
              ))}
            </select>
          )}
        </Field>
      )}
      <Field label="Most head steps" hint="Training stops earlier once the held-out loss has not improved for 5 evaluations (one every 10 steps).">
        {(props) => <input {...props} type="number" min={10} step={10} value={settings.maxSteps} disabled={disabled} onChange={(event) => update({ maxSteps: Math.trunc(number(event.target.value, settings.maxSteps)) })} />}
      </Field>
    </div>
  );
}
