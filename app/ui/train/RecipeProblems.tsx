import type { RecipeProblem } from '../../train/recipe.ts';
import { hrefFor, PAGES } from '../routes.ts';
import { pageForPath } from './recipe-paths.ts';

/** Moves focus to the control on this page that edits `path` (or its nearest parent field). */
function focusField(path: string): void {
  for (let candidate = path; candidate; candidate = candidate.replace(/(\.[^.[]*|\[\d+\])$/, '')) {
    const control = document.querySelector<HTMLElement>(`[data-recipe-path="${CSS.escape(candidate)}"]`);
    if (control) {
      control.focus();
      control.scrollIntoView({ block: 'center' });
      return;
    }
    if (!/[.[]/.test(candidate)) return;
  }
}

/**
 * What stops the run from starting: every recipe problem with its path, and where to fix it — a
 * link to the page that owns that part, or a button that moves focus to the field on this page.
 */
export function RecipeProblems({ problems }: { problems: readonly RecipeProblem[] }) {
  if (problems.length === 0) return null;
  return (
    <div className="banner warn recipe-problems" role="region" aria-labelledby="recipe-problems-title">
      <strong id="recipe-problems-title">
        The recipe has {problems.length} problem{problems.length === 1 ? '' : 's'} to fix before training can start:
      </strong>
      <ul>
        {problems.map((problem) => {
          const page = pageForPath(problem.path);
          const label = PAGES.find((p) => p.id === page)!.label;
          return (
            <li key={`${problem.path}|${problem.message}`}>
              <code>{problem.path || '(recipe)'}</code>: {problem.message}{' '}
              {page === 'train' ? (
                <button type="button" className="link-button" onClick={() => focusField(problem.path)}>
                  Go to the field
                </button>
              ) : (
                <a href={hrefFor(page)}>Fix it on the {label} page</a>
              )}
            </li>
          );
        })}
      </ul>
    </div>
  );
}
