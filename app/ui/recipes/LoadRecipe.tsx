import { useId, useState } from 'react';
import { toErrorReport, type ErrorReport } from '../../errors.ts';
import { FINANCE_COCKTAIL } from '../../studio/presets.ts';
import { parseRecipe, RecipeError, type Recipe, type RecipeProblem } from '../../train/recipe.ts';
import { RECIPE_LIMITS } from '../../train/recipe-size.ts';
import { formatBytes } from '../format.ts';
import { ErrorNotice } from '../components/ErrorNotice.tsx';
import { ProblemList } from './ProblemList.tsx';

/** A recipe is a few kilobytes; a file larger than a recipe may be (app/train/recipe-size.ts) is refused before it is read. */
const MAX_RECIPE_FILE_BYTES = RECIPE_LIMITS.bytes;

type OpenState = { status: 'idle' } | { status: 'problems'; fileName: string; problems: RecipeProblem[] } | { status: 'failed'; fileName: string; error: ErrorReport };

/**
 * Where a recipe comes from besides the library: the Finance cocktail preset, one click away, and a
 * recipe file, checked with the recipe schema before it replaces anything.
 */
export function LoadRecipe({ onLoad }: { onLoad(recipe: Recipe, what: string): void }) {
  const [opened, setOpened] = useState<OpenState>({ status: 'idle' });
  const fileId = useId();

  const open = async (file: File) => {
    try {
      if (file.size > MAX_RECIPE_FILE_BYTES) {
        throw new RecipeError(file.name, [{ path: '', message: `is ${formatBytes(file.size)}; a recipe file is a few kilobytes of JSON (at most ${formatBytes(MAX_RECIPE_FILE_BYTES)}). Is this the right file?` }]);
      }
      const recipe = parseRecipe(await file.text(), file.name);
      setOpened({ status: 'idle' });
      onLoad(recipe, `the recipe file ${file.name}`);
    } catch (error) {
      setOpened(error instanceof RecipeError ? { status: 'problems', fileName: file.name, problems: error.problems } : { status: 'failed', fileName: file.name, error: toErrorReport(error) });
    }
  };

  return (
    <section className="panel" aria-labelledby="load-recipe-title">
      <h2 id="load-recipe-title">Load a recipe</h2>
      <div className="recipe-preset">
        <div>
          <h3>Finance cocktail</h3>
          <p className="muted">
            Financial phrase and tweet sentiment as tasks, with math word problems and general instructions as regularizers (20% of the draws), mixed at temperature 2, on{' '}
            {FINANCE_COCKTAIL.model.source}. After arXiv 2410.01109.
          </p>
        </div>
        <button type="button" onClick={() => onLoad(FINANCE_COCKTAIL, 'the Finance cocktail')}>
          Load the Finance cocktail
        </button>
      </div>
      <div className="field">
        <label htmlFor={fileId}>Open recipe file</label>
        <input
          id={fileId}
          type="file"
          accept=".json,application/json"
          aria-describedby={`${fileId}-hint`}
          onChange={(event) => {
            const file = event.target.files?.[0];
            // Clear the choice so that picking the same file again (after fixing it) is a change too.
            event.target.value = '';
            if (file) void open(file);
          }}
        />
        <small id={`${fileId}-hint`} className="muted field-hint">
          A recipe.json downloaded from this page or written for the cocktail command line. It is checked before it replaces your current recipe.
        </small>
      </div>
      {opened.status === 'problems' && (
        <ProblemList
          tone="error"
          title={`${opened.fileName} was not opened: it has ${opened.problems.length} problem${opened.problems.length === 1 ? '' : 's'}. Your current recipe is kept.`}
          problems={opened.problems}
        />
      )}
      {opened.status === 'failed' && <ErrorNotice error={opened.error} title={`${opened.fileName} could not be read; your current recipe is kept`} />}
    </section>
  );
}
