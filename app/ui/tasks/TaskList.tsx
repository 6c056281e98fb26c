import { useStudio } from '../../state/store.ts';
import { METRIC_LABELS, TASK_FORMATS, defaultMetric, taskProblems } from '../../studio/task-mapping.ts';
import type { RecipeTask } from '../../train/recipe.ts';

function describeSource(source: RecipeTask['source']): string {
  if ('file' in source) {
    const how = [
      source.file_format !== undefined && `read as ${source.file_format}${source.splitting === 'paragraphs' ? ' by paragraph' : ''}`,
      source.delimiter !== undefined && `delimiter ${JSON.stringify(source.delimiter)}`,
      source.header !== undefined && (source.header ? 'with header' : 'no header'),
    ].filter(Boolean);
    return `file ${source.file}${how.length > 0 ? ` (${how.join(', ')})` : ''}`;
  }
  return `Hub ${source.hub} (${source.config}/${source.split}${source.validation_split ? `, validation ${source.validation_split}` : ''})`;
}

/** The recipe's tasks, each with what it reads, how it is scored, its problems, and edit, tokens and remove. */
export function TaskList({ onEdit, onShowTokens }: { onEdit(task: RecipeTask): void; onShowTokens(taskName: string): void }) {
  const tasks = useStudio((state) => state.recipe.tasks);
  const problems = useStudio((state) => state.recipeProblems);
  const files = useStudio((state) => state.importedFiles);

  if (tasks.length === 0) {
    return <p className="muted">The recipe has no tasks yet. Import a file above, or add a Hub data set below.</p>;
  }
  return (
    <ul className="task-list" aria-label="Tasks in the recipe">
      {tasks.map((task, index) => {
        const own = taskProblems(problems, index);
        const fileName = 'file' in task.source ? task.source.file : undefined;
        const file = files.files.find((f) => f.name === fileName);
        const missingFile = fileName !== undefined && files.status === 'ready' && !file;
        const metric = task.metric ?? defaultMetric(task.format);
        return (
          <li key={task.name} className="task-item" data-testid={`task-${task.name}`}>
            <div className="task-head">
              <strong>{task.name}</strong>
              <span className={`role-badge ${task.role}`}>{task.role}</span>
              <span className="muted">{TASK_FORMATS.find((f) => f.format === task.format)?.label ?? task.format}</span>
            </div>
            <p className="task-facts muted">
              {describeSource(task.source)}
              {file && ` — ${file.rows.toLocaleString('en')} rows`} · {METRIC_LABELS[metric]} · validation {Math.round(task.validation_fraction * 100)}%
              {task.max_examples !== undefined && ` · at most ${task.max_examples.toLocaleString('en')} examples`}
              {task.labels && ` · labels ${Object.entries(task.labels).map(([label, word]) => (label === word ? word : `${label}→${word}`)).join(', ')}`}
            </p>
            {missingFile && (
              <p className="banner warn">
                {fileName} is not imported in this browser: import it above before training.
              </p>
            )}
            {own.length > 0 && (
              <ul className="banner error task-problems" aria-label={`Problems of task ${task.name}`}>
                {own.map((problem) => (
                  <li key={`${problem.path}:${problem.message}`}>
                    {problem.path && <code>{problem.path}</code>} {problem.message}
                  </li>
                ))}
              </ul>
            )}
            <div className="row">
              <button type="button" className="secondary" onClick={() => onEdit(task)}>
                Edit
              </button>
              {!missingFile && (
                <button type="button" className="secondary" onClick={() => onShowTokens(task.name)}>
                  Show tokens
                </button>
              )}
              <button type="button" className="secondary" onClick={() => useStudio.getState().removeTask(task.name)}>
                Remove
              </button>
            </div>
          </li>
        );
      })}
    </ul>
  );
}
