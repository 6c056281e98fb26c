import { useState } from 'react';
import { useStudio } from '../../state/store.ts';
import { saveFile } from '../../studio/download.ts';
import { recipeShareUrl } from '../../studio/recipe-link.ts';
import type { Recipe } from '../../train/recipe.ts';
import { Field } from '../components/Field.tsx';
import { copyText } from './clipboard.ts';
import { ProblemList } from './ProblemList.tsx';
import { RecipeSummary } from './RecipeSummary.tsx';

export const UNTITLED = 'Untitled recipe';

/**
 * The recipe being composed: its name, what it holds, and the ways out of this browser — the
 * library, a recipe.json file, a link. A file or link must hold a valid recipe (the studio and the
 * CLI refuse anything else), so those wait until the problems listed here are fixed.
 */
export function CurrentRecipe({ onSave }: { onSave(name: string, recipe: Recipe): void }) {
  const recipe = useStudio((state) => state.recipe);
  const problems = useStudio((state) => state.recipeProblems);
  const [shared, setShared] = useState<{ url: string; copied: boolean; json: string } | null>(null);
  const [jsonCopied, setJsonCopied] = useState<boolean | null>(null);
  const json = JSON.stringify(recipe, null, 2);
  const valid = problems.length === 0;
  const name = recipe.name?.trim() || UNTITLED;

  const share = async () => {
    const url = recipeShareUrl(recipe, window.location);
    setShared({ url, copied: await copyText(url), json });
  };

  return (
    <section className="panel" aria-labelledby="current-recipe-title">
      <h2 id="current-recipe-title">Current recipe</h2>
      <Field label="Recipe name" hint="Names the recipe in the library, in its file and in a shared link.">
        {(props) => (
          <input
            {...props}
            type="text"
            className="recipe-name"
            value={recipe.name ?? ''}
            placeholder={UNTITLED}
            onChange={(event) => {
              const value = event.target.value;
              useStudio.getState().updateRecipe((current) => ({ ...current, name: value }));
            }}
          />
        )}
      </Field>
      <RecipeSummary recipe={recipe} />
      <ProblemList title={`The recipe has ${problems.length} problem${problems.length === 1 ? '' : 's'}; it can be saved to the library, but not downloaded or shared until they are fixed:`} problems={problems} />
      <div className="row recipe-actions">
        <button type="button" onClick={() => onSave(name, recipe)}>
          Save to library
        </button>
        <button type="button" className="secondary" disabled={!valid} onClick={() => saveFile(`${json}\n`, `${fileNameOf(name)}.recipe.json`, 'application/json')}>
          Download recipe
        </button>
        <button type="button" className="secondary" disabled={!valid} onClick={() => void share()}>
          Copy share link
        </button>
      </div>
      {/* A link copied before the latest change no longer says what the recipe is. */}
      {shared?.json === json && (
        <div className="recipe-share">
          <Field label="Share link" hint={shared.copied ? 'Copied to the clipboard. Whoever opens it sees this recipe and chooses whether to load it.' : 'The browser did not allow copying: select the link and copy it yourself.'}>
            {(props) => <input {...props} type="text" readOnly value={shared.url} onFocus={(event) => event.target.select()} />}
          </Field>
        </div>
      )}
      <details className="recipe-json-view" open>
        <summary>The recipe as JSON</summary>
        <div className="row">
          <button type="button" className="secondary" onClick={() => void copyText(json).then(setJsonCopied)}>
            Copy JSON
          </button>
          {jsonCopied !== null && (
            <span role="status" className="muted">
              {jsonCopied ? 'Copied.' : 'The browser did not allow copying: select the text below.'}
            </span>
          )}
        </div>
        <pre className="recipe-json" tabIndex={0} aria-label="Recipe JSON">
          {json}
        </pre>
      </details>
    </section>
  );
}

/** A file name from a recipe name: lower case, letters and digits joined by dashes. */
export function fileNameOf(name: string): string {
  return (
    name
      .normalize('NFKD')
      .replace(/[\u0300-\u036f]/g, '')
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '') || 'recipe'
  );
}
