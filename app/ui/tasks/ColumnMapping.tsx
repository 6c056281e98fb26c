import { useState } from 'react';
import {
  buildRecipeTask,
  defaultMetric,
  formatParts,
  METRIC_LABELS,
  metricsFor,
  replaceTask,
  TASK_FORMATS,
  withFormat,
  type Metric,
  type PartInfo,
  type TaskDraft,
} from '../../studio/task-mapping.ts';
import type { PreviewRow } from '../../data/import/label-columns.ts';
import { useStudio } from '../../state/store.ts';
import type { RecipeTask, TaskFormat } from '../../train/recipe.ts';
import { Field } from '../components/Field.tsx';

export interface ColumnMappingProps {
  /** Where the task's rows come from: an imported file, or a Hub data set. */
  source: RecipeTask['source'];
  /** What is wrong with the source itself (a Hub id left empty, ...). */
  sourceProblems?: readonly string[];
  /** The file's columns; none for a Hub data set, whose column names are typed in. */
  columns: readonly string[];
  rows: readonly PreviewRow[];
  initial: TaskDraft;
  /** The recipe task being edited, if any. */
  editing?: RecipeTask;
  /** Keeps what is missing unsaid until the user changes something or tries to save (an empty form is not an error). */
  quietUntilEdited?: boolean;
  onSaved?(task: RecipeTask): void;
}

/**
 * Which recipe format the rows are in and which column plays which part, plus the task's name,
 * role, validation share, size limit and metric: everything the recipe's task holds.
 */
export function ColumnMapping({ source, sourceProblems = [], columns, rows, initial, editing, quietUntilEdited = false, onSaved }: ColumnMappingProps) {
  const [draft, setDraft] = useState(initial);
  const [saved, setSaved] = useState<string>();
  const [edited, setEdited] = useState(false);
  const taskNames = useStudio((state) => state.recipe.tasks.map((task) => task.name).join('\n'));
  const update = (change: Partial<TaskDraft>) => {
    setSaved(undefined);
    setEdited(true);
    setDraft((previous) => ({ ...previous, ...change }));
  };
  const setPart = (key: string, value: string) => update({ parts: { ...draft.parts, [key]: value } });

  const built = buildRecipeTask(draft, source, columns, editing);
  const names = taskNames === '' ? [] : taskNames.split('\n');
  const name = draft.name.trim();
  const clash = editing !== undefined && name !== editing.name && names.includes(name);
  const problems = [...sourceProblems, ...built.problems, ...(clash ? [`Task name: another task is already called "${name}".`] : [])];
  const replaces = editing !== undefined || names.includes(name);
  const showProblems = edited || !quietUntilEdited;

  const save = () => {
    const task = built.task;
    if (!task || problems.length > 0) {
      setEdited(true);
      return;
    }
    const studio = useStudio.getState();
    if (editing && editing.name !== task.name) studio.updateRecipe((recipe) => replaceTask(recipe, editing.name, task));
    else studio.putTask(task);
    setSaved(`${replaces ? 'Updated' : 'Added'} task "${task.name}" in the recipe.`);
    onSaved?.(task);
  };

  const formatInfo = TASK_FORMATS.find((f) => f.format === draft.format);
  return (
    <form
      className="column-mapping"
      aria-label="Column mapping"
      onSubmit={(event) => {
        event.preventDefault();
        save();
      }}
    >
      <div className="mapping-grid">
        <Field label="Task name" hint="How the mixture, charts and evaluation name this task.">
          {(props) => <input {...props} type="text" value={draft.name} onChange={(event) => update({ name: event.target.value })} />}
        </Field>
        <Field label="Recipe format" hint={formatInfo?.description}>
          {(props) => (
            <select {...props} value={draft.format} onChange={(event) => update(withFormat(draft, event.target.value as TaskFormat, columns, rows))}>
              {TASK_FORMATS.map((f) => (
                <option key={f.format} value={f.format}>
                  {f.label}
                </option>
              ))}
            </select>
          )}
        </Field>
        {formatParts(draft.format).map((part) => (
          <PartField key={part.key} part={part} value={draft.parts[part.key] ?? ''} columns={columns} onChange={(value) => setPart(part.key, value)} />
        ))}
        {draft.format === 'classification' && (
          <Field
            label="Label words"
            hint="One per line: the label as the file writes it, “=”, and the word the model learns to answer, e.g. 0 = Bearish. Rows with other labels are left out. Empty: the labels are taught as written."
          >
            {(props) => <textarea {...props} rows={4} value={draft.labelWords} onChange={(event) => update({ labelWords: event.target.value })} />}
          </Field>
        )}
        <Field label="Role" hint="A regularizer keeps general skills while the tasks are learned; it gets the mixture’s regularizer share.">
          {(props) => (
            <select {...props} value={draft.role} onChange={(event) => update({ role: event.target.value as RecipeTask['role'] })}>
              <option value="task">Task</option>
              <option value="regularizer">Regularizer</option>
            </select>
          )}
        </Field>
        <Field label="Validation fraction" hint="Share of rows held out to measure the task (0 to 0.5). Not used when the source names a validation file or split.">
          {(props) => (
            <input {...props} type="number" min={0} max={0.5} step={0.05} value={draft.validationFraction} onChange={(event) => update({ validationFraction: event.target.value })} />
          )}
        </Field>
        <Field label="Max examples" hint="Use at most this many training examples (a seeded sample). Empty: all.">
          {(props) => <input {...props} type="number" min={1} step={1} value={draft.maxExamples} onChange={(event) => update({ maxExamples: event.target.value })} />}
        </Field>
        <Field label="Metric" hint={`How validation scores this task; ${METRIC_LABELS[defaultMetric(draft.format)].toLowerCase()} by default for this format.`}>
          {(props) => (
            <select {...props} value={draft.metric} onChange={(event) => update({ metric: event.target.value as Metric })}>
              {metricsFor(draft.format).map((metric) => (
                <option key={metric} value={metric}>
                  {METRIC_LABELS[metric]}
                </option>
              ))}
              {!metricsFor(draft.format).includes(draft.metric) && (
                <option value={draft.metric}>
                  {METRIC_LABELS[draft.metric]} (does not suit this format)
                </option>
              )}
            </select>
          )}
        </Field>
      </div>
      {showProblems && problems.length > 0 && (
        <ul className="mapping-problems" aria-label="What to fix before adding the task">
          {problems.map((problem) => (
            <li key={problem}>{problem}</li>
          ))}
        </ul>
      )}
      <div className="row">
        <button type="submit" disabled={showProblems && problems.length > 0}>
          {replaces ? 'Update task' : 'Add to recipe'}
        </button>
        {saved && (
          <span role="status" className="muted">
            {saved}
          </span>
        )}
      </div>
    </form>
  );
}

function PartField({ part, value, columns, onChange }: { part: PartInfo; value: string; columns: readonly string[]; onChange(value: string): void }) {
  if (part.kind === 'setting' || columns.length === 0) {
    return (
      <Field label={part.label} hint={part.hint}>
        {(props) => <input {...props} type="text" value={value} onChange={(event) => onChange(event.target.value)} />}
      </Field>
    );
  }
  const options = value !== '' && !columns.includes(value) ? [...columns, value] : columns;
  return (
    <Field label={part.label} hint={part.hint}>
      {(props) => (
        <select {...props} value={value} onChange={(event) => onChange(event.target.value)}>
          <option value="">Not set</option>
          {options.map((column) => (
            <option key={column} value={column}>
              {column}
            </option>
          ))}
        </select>
      )}
    </Field>
  );
}
