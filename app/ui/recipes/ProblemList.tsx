import type { RecipeProblem } from '../../train/recipe.ts';

/** Recipe problems, each with the JSON path of the field at fault ("mixture.temperature"), under a title that says what they stop. */
export function ProblemList({ title, problems, tone = 'warn' }: { title: string; problems: readonly RecipeProblem[]; tone?: 'warn' | 'error' }) {
  if (problems.length === 0) return null;
  return (
    <div className={`banner ${tone} problem-list`} role={tone === 'error' ? 'alert' : 'region'} aria-label={title}>
      <strong>{title}</strong>
      <ul>
        {problems.map((problem) => (
          <li key={`${problem.path}|${problem.message}`}>
            <code>{problem.path || '(recipe)'}</code>: {problem.message}
          </li>
        ))}
      </ul>
    </div>
  );
}
