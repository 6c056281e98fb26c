import { useEffect, useMemo, useState } from 'react';
import type { LoraTarget } from '../../model/config.ts';
import { loraTargetsOfArchitecture } from '../../model/config.ts';
import { formatMiB } from '../../model/memory.ts';
import { describeQuantizationError, describeWeightFormat } from '../../model/quantization.ts';
import { quantizationKey } from '../../state/slices/model.ts';
import type { Recipe } from '../../train/recipe.ts';
import { useStudio } from '../../state/store.ts';
import type { ModelSummary, TrainingPlanRequest } from '../../../workers/protocol.ts';
import { ErrorNotice } from '../components/ErrorNotice.tsx';
import { Field } from '../components/Field.tsx';
import { defaultBudget } from './memory-budget.ts';
import { plannedWeightFormat, planWeightFields, storedDtypeOfSummary } from './planned-weights.ts';

const GiB = 2 ** 30;

/** The frozen-weight choices of the planner, as recipe.model settings (empty: as stored). */
const WEIGHT_CHOICES: { value: string; label: string; model: Pick<Recipe['model'], 'dtype' | 'group_size'> }[] = [
  { value: '', label: 'as stored', model: {} },
  { value: 'f32', label: 'f32', model: { dtype: 'f32' } },
  { value: 'bf16', label: 'bf16', model: { dtype: 'bf16' } },
  { value: 'f16', label: 'f16', model: { dtype: 'f16' } },
  { value: 'int8', label: 'int8 (a scale per row)', model: { dtype: 'int8' } },
  { value: 'int4-32', label: 'int4, groups of 32', model: { dtype: 'int4', group_size: 32 } },
  { value: 'int4-64', label: 'int4, groups of 64 (QLoRA)', model: { dtype: 'int4', group_size: 64 } },
  { value: 'int4-128', label: 'int4, groups of 128', model: { dtype: 'int4', group_size: 128 } },
];

function weightChoiceOf(model: Recipe['model']): string {
  if (model.dtype === 'int4') return `int4-${model.group_size ?? 64}`;
  return model.dtype ?? '';
}

/** A whole number in [min, max], or undefined for anything else typed into the field. */
function wholeNumber(text: string, min: number, max: number): number | undefined {
  const value = Number(text);
  return Number.isInteger(value) && value >= min && value <= max ? value : undefined;
}

function NumberField({ label, hint, value, onChange, min, max, step = 1 }: { label: string; hint: string; value: string; onChange(value: string): void; min: number; max: number; step?: number }) {
  return (
    <Field label={label} hint={hint}>
      {(props) => <input {...props} type="number" inputMode="numeric" min={min} max={max} step={step} value={value} onChange={(event) => onChange(event.target.value)} />}
    </Field>
  );
}

/** What a training configuration needs on this GPU, whether it fits, and writing it into the recipe. */
export function MemoryPlanner({ summary }: { summary: ModelSummary }) {
  const recipe = useStudio((state) => state.recipe);
  const adapter = useStudio((state) => state.gpu.info?.adapter);
  const budgetOverride = useStudio((state) => state.memoryBudgetBytes);
  const plan = useStudio((state) => state.plan);
  const quantError = useStudio((state) => state.quantError);
  const [rank, setRank] = useState(String(recipe.lora.r));
  const [seqLength, setSeqLength] = useState(String(recipe.max_length));
  const [batchSize, setBatchSize] = useState(String(recipe.batch_size));
  // Only the projections this model has: Phi-3's are fused (qkv_proj, gate_up_proj).
  const TARGETS = loraTargetsOfArchitecture(summary.architecture);
  const [targets, setTargets] = useState<LoraTarget[]>(() => {
    const usable = recipe.lora.targets.filter((target) => TARGETS.includes(target));
    return usable.length > 0 ? usable : [...TARGETS];
  });
  const [recompute, setRecompute] = useState(recipe.recompute);
  // A GPTQ/AWQ checkpoint loads as int4 in its own group size, and only so.
  const prequantized = summary.prequantized;
  const [weights, setWeights] = useState(prequantized ? `int4-${prequantized.group}` : weightChoiceOf(recipe.model));
  const guess = defaultBudget(adapter);
  const budgetBytes = budgetOverride ?? guess.bytes;
  // What the user is typing; until then the field shows the budget in use (the default follows gpu.info when it arrives).
  const [budgetText, setBudgetText] = useState<string | undefined>(undefined);

  const adapters = recipe.lora.layout === 'per_task' ? Math.max(1, recipe.tasks.length) : 1;
  const stored = storedDtypeOfSummary(summary);
  const weightModel = WEIGHT_CHOICES.find((choice) => choice.value === weights)?.model ?? {};
  const format = plannedWeightFormat(summary, { ...weightModel, ...(recipe.model.symmetric !== undefined ? { symmetric: recipe.model.symmetric } : {}) });
  const int4 = format.spec?.dtype === 'int4' ? { group: format.spec.group, symmetric: format.spec.symmetric } : undefined;
  const measuredKey = format.spec ? quantizationKey(format.spec.dtype, int4) : undefined;
  const measured = quantError.key === measuredKey ? quantError : undefined;
  const r = wholeNumber(rank, 1, 1024);
  const seq = wholeNumber(seqLength, 1, 131_072);
  const batch = wholeNumber(batchSize, 1, 1024);
  const request = useMemo<TrainingPlanRequest | undefined>(
    () =>
      r && seq && batch && targets.length > 0
        ? {
            batchSize: batch,
            seqLength: seq,
            r,
            targets,
            adapters,
            recompute,
            ...planWeightFields(format),
            budgetBytes,
          }
        : undefined,
    // format is derived from these three.
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [r, seq, batch, targets, adapters, recompute, weights, stored, summary.prequantized, recipe.model.symmetric, budgetBytes],
  );

  useEffect(() => {
    if (!request) return;
    // Typing "256" passes through "2" and "25": plan once the typing stops.
    const timer = setTimeout(() => void useStudio.getState().planTraining(request), 250);
    return () => clearTimeout(timer);
  }, [request, summary.source, summary.revision]);

  const inRecipe =
    recipe.batch_size === batch &&
    recipe.max_length === seq &&
    recipe.lora.r === r &&
    recipe.recompute === recompute &&
    weightChoiceOf(recipe.model) === weights &&
    recipe.lora.targets.length === targets.length &&
    targets.every((target) => recipe.lora.targets.includes(target));
  // The last estimate stays on screen while a newer one is made, marked busy.
  const estimate = plan.estimate;
  const current = plan.status === 'done' && plan.request === request;

  const useSettings = () => {
    if (!request) return;
    useStudio.getState().updateRecipe((old) => ({
      ...old,
      batch_size: request.batchSize,
      max_length: request.seqLength,
      recompute: request.recompute,
      model: { source: old.model.source, revision: old.model.revision, ...weightModel, ...(weightModel.dtype === 'int4' && old.model.symmetric !== undefined ? { symmetric: old.model.symmetric } : {}) },
      lora: { ...old.lora, r: request.r, targets: TARGETS.filter((target) => request.targets.includes(target)) },
    }));
  };

  return (
    <section className="panel" aria-labelledby="model-plan-title">
      <h2 id="model-plan-title">Memory planner</h2>
      <p className="muted">What training {summary.label} needs on this GPU with these settings, and whether it fits.</p>
      <div className="model-plan-grid">
        <NumberField label="LoRA rank" hint="Size of each adapter; 8–16 is typical." value={rank} onChange={setRank} min={1} max={1024} />
        <NumberField
          label="Sequence length"
          hint={`Tokens per example (max_length); longer examples are cut. This model knows ${summary.maxPositions.toLocaleString('en-US')} positions.`}
          value={seqLength}
          onChange={setSeqLength}
          min={1}
          max={131072}
        />
        <NumberField label="Batch size" hint="Examples per micro-batch; memory grows with it." value={batchSize} onChange={setBatchSize} min={1} max={1024} />
        <Field
          label="GPU memory budget (GiB)"
          hint={
            <>
              WebGPU does not tell a page how much memory the GPU has. {guess.reason}
              {budgetOverride !== undefined && (
                <>
                  {' '}
                  <button
                    type="button"
                    className="secondary model-inline-button"
                    onClick={() => {
                      useStudio.getState().setMemoryBudget(undefined);
                      setBudgetText(undefined);
                    }}
                  >
                    Use the default
                  </button>
                </>
              )}
            </>
          }
        >
          {(props) => (
            <input
              {...props}
              type="number"
              min={0.25}
              step={0.25}
              value={budgetText ?? String(budgetBytes / GiB)}
              onChange={(event) => {
                setBudgetText(event.target.value);
                const gib = Number(event.target.value);
                if (gib > 0) useStudio.getState().setMemoryBudget(Math.round(gib * GiB));
              }}
            />
          )}
        </Field>
      </div>
      <Field
        label="Frozen weights"
        hint="How the base model's weights are kept on the GPU. int8 and int4 quantize the layers' projections when the model loads (QLoRA-style): the LoRA still trains in f32; the embedding and LM head stay 16-bit. Pre-quantized GPTQ (4-bit, without act-order) and AWQ (GEMM) checkpoints load as int4 in their own group size; other quantization_config methods are refused by name."
      >
        {(props) => (
          <select {...props} value={weights} disabled={prequantized !== undefined} onChange={(event) => setWeights(event.target.value)}>
            {WEIGHT_CHOICES.map((choice) => (
              <option key={choice.value} value={choice.value}>
                {choice.value === '' ? `as stored (${stored})` : choice.label}
              </option>
            ))}
          </select>
        )}
      </Field>
      {prequantized && (
        <p className="muted" data-testid="plan-prequantized">
          This {prequantized.method.toUpperCase()} checkpoint’s projections are int4 in groups of {prequantized.group}: the plan counts them so, and the recipe must say so.
        </p>
      )}
      <fieldset className="model-targets">
        <legend>LoRA targets</legend>
        {TARGETS.map((target) => (
          <label key={target}>
            <input
              type="checkbox"
              checked={targets.includes(target)}
              onChange={(event) => setTargets((old) => (event.target.checked ? [...old, target] : old.filter((t) => t !== target)))}
            />{' '}
            {target}
          </label>
        ))}
      </fieldset>
      <label className="model-check">
        <input type="checkbox" checked={recompute} onChange={(event) => setRecompute(event.target.checked)} /> Recompute activations
      </label>
      <small className="muted field-hint"> Keeps only each layer’s input and recomputes the layer in the backward pass: far less memory, about a third more compute.</small>
      {adapters > 1 && <p className="muted">The per-task layout trains {adapters} adapters at once, one per task.</p>}
      {!request && <p className="banner warn">Enter whole numbers above 0 and choose at least one target to see the estimate.</p>}
      {seq !== undefined && seq > summary.maxPositions && (
        <p className="banner warn">The sequence length is longer than the {summary.maxPositions} positions this model was trained for.</p>
      )}

      {plan.status === 'failed' && plan.error && <ErrorNotice error={plan.error} title="The plan could not be made" />}
      {estimate && (
        <div className="model-estimate" aria-busy={!current}>
          <table className="limits" aria-label="Memory estimate">
            <tbody>
              {estimate.lines.map((line) => (
                <tr key={line.what}>
                  <th scope="row">{line.what}</th>
                  <td>{formatMiB(line.bytes)}</td>
                </tr>
              ))}
              <tr className="model-total">
                <th scope="row">Total</th>
                <td>{formatMiB(estimate.totalBytes)}</td>
              </tr>
            </tbody>
          </table>
          {estimate.quantization && (
            <p data-testid="plan-quantization">
              Quantized frozen weights take {formatMiB(estimate.quantization.bytes)} instead of {formatMiB(estimate.quantization.sixteenBitBytes)} in 16 bits: they save{' '}
              {formatMiB(estimate.quantization.sixteenBitBytes - estimate.quantization.bytes)}.
            </p>
          )}
          {format.spec && !prequantized && (
            <div className="row" data-testid="quantization-error">
              <button
                type="button"
                className="secondary"
                disabled={measured?.status === 'running'}
                onClick={() => void useStudio.getState().measureQuantization(format.spec!.dtype, int4)}
              >
                Measure the quantization error
              </button>
              <span role="status" className="muted">
                {measured?.status === 'running' && `Loading ${summary.label} with ${describeWeightFormat(format)} weights and measuring…`}
                {measured?.status === 'done' && measured.result && `${describeQuantizationError(describeWeightFormat(format), measured.result)}.`}
                {measured === undefined && 'Loads the model quantized and compares each projection’s outputs with the stored weights’ on a few calibration rows.'}
              </span>
              {measured?.status === 'failed' && measured.error && <ErrorNotice error={measured.error} title="The quantization error could not be measured" />}
            </div>
          )}
          <p className="muted">
            Largest single buffer: {estimate.largestBinding.what}, {formatMiB(estimate.largestBinding.bytes)}.
          </p>
          <div role="status" data-testid="plan-verdict" className={estimate.fits ? 'banner ok' : 'banner error'}>
            {estimate.fits ? `Fits: about ${formatMiB(estimate.totalBytes)} of the ${formatMiB(budgetBytes)} budget.` : 'Does not fit on this GPU with these settings.'}
            {estimate.advice.length > 0 && (
              <ul className="model-advice">
                {estimate.advice.map((line) => (
                  <li key={line}>{line}</li>
                ))}
              </ul>
            )}
          </div>
        </div>
      )}
      <div className="row">
        <button type="button" disabled={!request || inRecipe} onClick={useSettings}>
          Use these settings
        </button>
        <span className="muted" role="status">
          {inRecipe ? 'The recipe uses these settings.' : 'Writes batch size, sequence length, rank, targets, recomputation and the frozen weights\' dtype into the recipe.'}
        </span>
      </div>
    </section>
  );
}
