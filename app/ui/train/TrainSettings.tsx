import { loraTargetsOfArchitecture, type LoraTarget } from '../../model/config.ts';
import { useStudio } from '../../state/store.ts';
import { DEFAULT_RECIPE } from '../../studio/presets.ts';
import type { Recipe } from '../../train/recipe.ts';
import { EvaluationSampleFields } from '../evaluate/EvaluationSettings.tsx';
import { CheckboxField, NumberField, problemsAt, SelectField } from './fields.tsx';

const TARGET_PARTS: Record<LoraTarget, string> = {
  q_proj: 'attention query',
  k_proj: 'attention key',
  v_proj: 'attention value',
  qkv_proj: 'attention query, key and value (one fused projection)',
  o_proj: 'attention output',
  gate_proj: 'MLP gate',
  up_proj: 'MLP up',
  gate_up_proj: 'MLP gate and up (one fused projection)',
  down_proj: 'MLP down',
};
/** Before a model is loaded, the Llama family's seven. */
const DEFAULT_ARCHITECTURE = 'LlamaForCausalLM';

/** The parts of the recipe this page owns (everything but the model, the tasks and the mixture). */
export function trainingSettingsOf(recipe: Recipe): Omit<Recipe, 'name' | 'model' | 'tasks' | 'mixture'> {
  const { name: _name, model: _model, tasks: _tasks, mixture: _mixture, ...settings } = recipe;
  return settings;
}

/**
 * LoRA, optimizer, schedule, batching, length, evaluation and checkpoint settings: every field edits
 * the studio's one recipe, with a one-line explanation. Disabled while a run is in flight, whose
 * recipe is already fixed.
 */
export function TrainSettings({ disabled }: { disabled: boolean }) {
  const recipe = useStudio((state) => state.recipe);
  const problems = useStudio((state) => state.recipeProblems);
  const updateRecipe = useStudio((state) => state.updateRecipe);
  const set = (change: (recipe: Recipe) => Recipe) => updateRecipe(change);
  const lora = (change: Partial<Recipe['lora']>) => set((r) => ({ ...r, lora: { ...r.lora, ...change } }));
  const optimizer = (change: Partial<Recipe['optimizer']>) => set((r) => ({ ...r, optimizer: { ...r.optimizer, ...change } }));
  const schedule = (change: Partial<Recipe['schedule']>) => set((r) => ({ ...r, schedule: { ...r.schedule, ...change } }));
  const top = (change: Partial<Recipe>) => set((r) => ({ ...r, ...change }));
  const lengthUnit = recipe.epochs !== undefined && recipe.steps === undefined ? 'epochs' : 'steps';
  const architecture = useStudio((state) => state.model.summary?.architecture) ?? DEFAULT_ARCHITECTURE;
  // The loaded model's projections; a target the recipe names that the model lacks stays listed, so it can be unticked.
  const modelTargets = loraTargetsOfArchitecture(architecture);
  const TARGETS = [...modelTargets, ...recipe.lora.targets.filter((target) => !modelTargets.includes(target))].map((target) => ({ target, part: TARGET_PARTS[target] }));
  const missing = recipe.lora.targets.filter((target) => !modelTargets.includes(target));
  const targetProblems = [...problemsAt(problems, 'lora.targets'), ...(missing.length > 0 ? [{ message: `${architecture} has no ${missing.join(', ')}; its projections are ${modelTargets.join(', ')}.` }] : [])];

  return (
    <section className="panel" aria-labelledby="train-settings-title">
      <div className="row train-settings-head">
        <h2 id="train-settings-title">Settings</h2>
        <button type="button" className="secondary" disabled={disabled} onClick={() => set((r) => ({ ...r, ...trainingSettingsOf(DEFAULT_RECIPE) }))}>
          Reset settings to defaults
        </button>
      </div>
      <fieldset className="train-settings" disabled={disabled}>
        <fieldset className="settings-group">
          <legend>LoRA adapter</legend>
          <NumberField label="Rank (r)" path="lora.r" integer min={1} max={1024} value={recipe.lora.r} onChange={(r) => lora({ r })} problems={problems} hint="Size of each adapter: a higher rank learns more and needs more memory; 8 to 32 is typical." />
          <NumberField label="Alpha" path="lora.alpha" min={0} value={recipe.lora.alpha} onChange={(alpha) => lora({ alpha })} problems={problems} hint="Scales the adapter’s effect by alpha / r; twice the rank is a common choice." />
          <NumberField label="Dropout" path="lora.dropout" min={0} max={0.99} step={0.01} value={recipe.lora.dropout} onChange={(dropout) => lora({ dropout })} problems={problems} hint="Share of adapter inputs dropped at random while training, against overfitting; 0 to 0.1." />
          <fieldset className="targets" aria-describedby="lora-targets-hint">
            <legend>Target modules</legend>
            <div className="target-boxes">
              {TARGETS.map(({ target, part }) => (
                <label key={target} title={part}>
                  <input
                    type="checkbox"
                    data-recipe-path="lora.targets"
                    checked={recipe.lora.targets.includes(target)}
                    aria-invalid={targetProblems.length > 0 ? true : undefined}
                    onChange={(event) => lora({ targets: event.target.checked ? TARGETS.map((t) => t.target).filter((t) => t === target || recipe.lora.targets.includes(t)) : recipe.lora.targets.filter((t) => t !== target) })}
                  />{' '}
                  {target}
                </label>
              ))}
            </div>
            <small id="lora-targets-hint" className="muted field-hint">
              Which projections of every layer get an adapter: attention (q, k, v, o) is the cheapest; adding the MLP (gate, up, down) learns more.
              {targetProblems.map((p) => (
                <span key={p.message} className="field-problem">
                  {p.message}
                </span>
              ))}
            </small>
          </fieldset>
          <CheckboxField label="rsLoRA scaling" path="lora.rslora" checked={recipe.lora.rslora} onChange={(rslora) => lora({ rslora })} hint="Scales by alpha / √r instead of alpha / r, which keeps high ranks stable." />
          <SelectField
            label="Adapter layout"
            path="lora.layout"
            value={recipe.lora.layout}
            options={[
              { value: 'shared', label: 'One adapter shared by all tasks' },
              { value: 'per_task', label: 'One adapter per task' },
            ]}
            onChange={(layout) => lora({ layout })}
            problems={problems}
            hint="A shared adapter is the cocktail: the tasks help each other. One per task gives single-task adapters to compare with."
          />
        </fieldset>

        <fieldset className="settings-group">
          <legend>Optimizer (AdamW)</legend>
          <NumberField label="Learning rate" path="optimizer.lr" min={0} value={recipe.optimizer.lr} onChange={(lr) => optimizer({ lr })} problems={problems} hint="How big each update is; 1e-4 to 3e-4 suits LoRA." />
          <NumberField label="Weight decay" path="optimizer.weight_decay" min={0} value={recipe.optimizer.weight_decay} onChange={(weight_decay) => optimizer({ weight_decay })} problems={problems} hint="Pulls adapter weights towards zero every step; 0 is usual for LoRA." />
          <NumberField label="Beta 1" path="optimizer.betas[0]" min={0} max={0.9999} value={recipe.optimizer.betas[0]} onChange={(beta) => optimizer({ betas: [beta, recipe.optimizer.betas[1]] })} problems={problems} hint="How long AdamW remembers past gradients (momentum); 0.9 is standard." />
          <NumberField label="Beta 2" path="optimizer.betas[1]" min={0} max={0.99999} value={recipe.optimizer.betas[1]} onChange={(beta) => optimizer({ betas: [recipe.optimizer.betas[0], beta] })} problems={problems} hint="How long AdamW remembers the gradients’ size; 0.999 is standard." />
          <NumberField label="Epsilon" path="optimizer.eps" min={0} value={recipe.optimizer.eps} onChange={(eps) => optimizer({ eps })} problems={problems} hint="Keeps AdamW’s division finite; rarely worth changing." />
          <NumberField label="Gradient clip" path="clip" min={0} value={recipe.clip} onChange={(clip) => top({ clip })} problems={problems} hint="Gradients with a larger total norm are scaled down to it, so one odd batch cannot derail training." />
        </fieldset>

        <fieldset className="settings-group">
          <legend>Learning-rate schedule</legend>
          <SelectField
            label="Schedule"
            path="schedule.kind"
            value={recipe.schedule.kind}
            options={[
              { value: 'cosine', label: 'Cosine decay' },
              { value: 'linear', label: 'Linear decay' },
              { value: 'constant', label: 'Constant' },
            ]}
            onChange={(kind) => schedule({ kind })}
            problems={problems}
            hint="How the learning rate falls from its peak to the end of the run after warmup."
          />
          <NumberField label="Warmup steps" path="schedule.warmup_steps" integer min={0} value={recipe.schedule.warmup_steps} onChange={(warmup_steps) => schedule({ warmup_steps })} problems={problems} hint="Steps over which the rate rises from zero, so the first updates are gentle." />
        </fieldset>

        <fieldset className="settings-group">
          <legend>Batches and sequences</legend>
          <NumberField label="Batch size" path="batch_size" integer min={1} value={recipe.batch_size} onChange={(batch_size) => top({ batch_size })} problems={problems} hint="Examples per micro-batch; GPU memory grows with it." />
          <NumberField label="Gradient accumulation" path="grad_accum" integer min={1} value={recipe.grad_accum} onChange={(grad_accum) => top({ grad_accum })} problems={problems} hint="Micro-batches per optimizer step: a batch this many times larger without more memory." />
          <NumberField label="Max length (tokens)" path="max_length" integer min={2} value={recipe.max_length} onChange={(max_length) => top({ max_length })} problems={problems} hint="Longer examples lose the end of their answer (the prompt stays whole); memory grows with it. Clamped to the model's context." />
          <SelectField
            label="Examples longer than max length"
            path="overlong"
            value={recipe.overlong}
            options={[
              { value: 'truncate', label: 'Cut the end of the answer' },
              { value: 'drop', label: 'Leave them out' },
            ]}
            onChange={(overlong) => top({ overlong })}
            problems={problems}
            hint="Either way the start of the prompt is never cut; the Tasks page's report counts what was cut or left out."
          />
          <CheckboxField label="Packing" path="packing" checked={recipe.packing} onChange={(packing) => top({ packing })} hint="Puts several short examples into one sequence, so fewer tokens are padding." />
          <CheckboxField label="Train on prompts" path="train_on_prompts" checked={recipe.train_on_prompts} onChange={(train_on_prompts) => top({ train_on_prompts })} hint="Also learn from the prompt tokens, not only the answers; usually off." />
        </fieldset>

        <fieldset className="settings-group">
          <legend>Length</legend>
          <SelectField
            label="Run length in"
            path="length-unit"
            value={lengthUnit}
            options={[
              { value: 'steps', label: 'Optimizer steps' },
              { value: 'epochs', label: 'Epochs' },
            ]}
            onChange={(unit) =>
              set((r) => {
                const { steps: _steps, epochs: _epochs, ...rest } = r;
                return unit === 'steps' ? { ...rest, steps: DEFAULT_RECIPE.steps ?? 200 } : { ...rest, epochs: 1 };
              })
            }
            problems={[]}
            hint="Count optimizer steps, or passes over the training examples."
          />
          {lengthUnit === 'steps' ? (
            <NumberField label="Steps" path="steps" integer min={1} value={recipe.steps} onChange={(steps) => top({ steps })} problems={problems} hint="Optimizer steps to train for." />
          ) : (
            <NumberField label="Epochs" path="epochs" min={0} step={0.1} value={recipe.epochs} onChange={(epochs) => top({ epochs })} problems={problems} hint="Passes over the training examples; fractions are fine." />
          )}
        </fieldset>

        <fieldset className="settings-group">
          <legend>Evaluation and checkpoints</legend>
          <NumberField label="Evaluate every (steps)" path="eval_every" integer min={1} value={recipe.eval_every} onChange={(eval_every) => top({ eval_every })} problems={problems} hint="Steps between evaluations on each task’s validation split; the run also ends with one." />
          <EvaluationSampleFields recipe={recipe} set={top} problems={problems} />
          <NumberField label="Generated tokens per answer" path="eval_max_new_tokens" integer min={1} value={recipe.eval_max_new_tokens} onChange={(eval_max_new_tokens) => top({ eval_max_new_tokens })} problems={problems} hint="For metrics scored on generated text (ROUGE-L, exact and numeric match)." />
          <NumberField label="Checkpoint every (steps)" path="checkpoint_every" integer min={1} value={recipe.checkpoint_every} onChange={(checkpoint_every) => top({ checkpoint_every })} problems={problems} hint="A reload or a crash loses at most this many steps; resuming starts from the last checkpoint." />
          <NumberField label="Checkpoints kept" path="keep_checkpoints" integer min={1} value={recipe.keep_checkpoints} onChange={(keep_checkpoints) => top({ keep_checkpoints })} problems={problems} hint="The newest ones are kept; when the latest is damaged, resuming falls back to the one before." />
        </fieldset>

        <fieldset className="settings-group">
          <legend>Reproducibility and memory</legend>
          <NumberField label="Seed" path="seed" integer min={0} max={4294967295} value={recipe.seed} onChange={(seed) => top({ seed })} problems={problems} hint="The same seed, recipe and data give the same run, step for step." />
          <SelectField
            label="On a non-finite loss"
            path="nonfinite"
            value={recipe.nonfinite}
            options={[
              { value: 'skip', label: 'Skip the step' },
              { value: 'stop', label: 'Stop the run' },
            ]}
            onChange={(nonfinite) => top({ nonfinite })}
            problems={problems}
            hint="What a step whose loss or gradients are NaN or infinite does."
          />
          <CheckboxField label="Recompute activations" path="recompute" checked={recipe.recompute} onChange={(recompute) => top({ recompute })} hint="Recomputes activations in the backward pass instead of keeping them: less memory, about a third slower." />
        </fieldset>
      </fieldset>
    </section>
  );
}
