import { useStudio } from '../../state/store.ts';
import type { Recipe, RecipeProblem } from '../../train/recipe.ts';
import { CheckboxField, NumberField, SelectField } from '../train/fields.tsx';

/** How the recipe's evaluations sample and score: the same settings as the Train page's, where evaluating happens. */
export function EvaluationSettings() {
  const recipe = useStudio((state) => state.recipe);
  const problems = useStudio((state) => state.recipeProblems);
  const set = (change: Partial<Recipe>) => useStudio.getState().updateRecipe((r) => ({ ...r, ...change }));
  return (
    <fieldset className="settings-group eval-settings">
      <legend>Evaluation sample and scoring</legend>
      <EvaluationSampleFields recipe={recipe} set={set} problems={problems} />
    </fieldset>
  );
}

/** Which validation examples an evaluation scores and how it scores labels; on the Evaluate and Train pages. */
export function EvaluationSampleFields({ recipe, set, problems }: { recipe: Recipe; set: (change: Partial<Recipe>) => void; problems: readonly RecipeProblem[] }) {
  return (
    <>
      <NumberField
        label="Evaluation examples"
        path="eval_examples"
        integer
        min={1}
        value={recipe.eval_examples}
        onChange={(eval_examples) => set({ eval_examples })}
        problems={problems}
        hint="Validation examples per task: a seeded sample, stratified by label for classification, the same in every evaluation and run of this recipe and seed. More than the split holds uses the whole split."
      />
      <CheckboxField label="Whole validation split" path="eval_whole_split" checked={recipe.eval_whole_split} onChange={(eval_whole_split) => set({ eval_whole_split })} hint="Score every validation example instead of a sample (slower, no sampling error)." />
      <SelectField
        label="Label scoring"
        path="eval_label_scoring"
        value={recipe.eval_label_scoring}
        options={[
          { value: 'sum', label: 'Summed log-probability' },
          { value: 'per_token', label: 'Log-probability per token' },
        ]}
        onChange={(eval_label_scoring) => set({ eval_label_scoring })}
        problems={problems}
        hint="Classification: the sum favours label words of fewer tokens; per token (length-normalized) compares words of different lengths fairly."
      />
    </>
  );
}
