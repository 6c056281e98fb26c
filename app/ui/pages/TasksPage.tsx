import { useEffect, useRef, useState } from 'react';
import { useStudio } from '../../state/store.ts';
import { rowsWithErrors } from '../../data/import/label-columns.ts';
import { draftFromTask, fileSource, newDraft, settingsOfSource, suggestTaskMapping, taskNameFromFile } from '../../studio/task-mapping.ts';
import type { RecipeTask } from '../../train/recipe.ts';
import { ContextNotice } from '../components/ContextNotice.tsx';
import { ColumnMapping } from '../tasks/ColumnMapping.tsx';
import { HubTaskForm } from '../tasks/HubTaskForm.tsx';
import { ImportedFiles } from '../tasks/ImportedFiles.tsx';
import { RowPreview } from '../tasks/RowPreview.tsx';
import { TaskImport } from '../tasks/TaskImport.tsx';
import { TaskList } from '../tasks/TaskList.tsx';
import { TaskAudit } from '../audit/TaskAudit.tsx';
import { TokenView } from '../tasks/TokenView.tsx';
import { ValidationReport } from '../tasks/ValidationReport.tsx';

/**
 * The Tasks page: bring task files in (or name Hub data sets), see their rows and problems, map
 * their columns to a recipe format, and check in the token view which tokens training learns from.
 */
export function TasksPage() {
  const taskImport = useStudio((state) => state.taskImport);
  const tasks = useStudio((state) => state.recipe.tasks);
  const [editingTask, setEditing] = useState<RecipeTask>();
  // A task removed from the recipe (here or on another page) is no longer being edited.
  const editing = editingTask && tasks.some((task) => task.name === editingTask.name) ? editingTask : undefined;
  const [tokenTask, setTokenTask] = useState<string>();
  const [hubFormVersion, setHubFormVersion] = useState(0);
  const [hubSaved, setHubSaved] = useState<string>();
  /** Bumped by each Edit click, so the mapping form starts again from the task being edited. */
  const [editVersion, setEditVersion] = useState(0);
  const hubHeading = useRef<HTMLHeadingElement>(null);
  const mappingHeading = useRef<HTMLHeadingElement>(null);
  /** Where Edit sent the user: focused (and so scrolled to) once that form is on the page. */
  const pendingFocus = useRef<'mapping' | 'hub'>(undefined);

  useEffect(() => {
    void useStudio.getState().refreshImportedFiles();
  }, []);

  useEffect(() => {
    const heading = pendingFocus.current === 'mapping' ? mappingHeading.current : pendingFocus.current === 'hub' ? hubHeading.current : null;
    if (heading && useStudio.getState().taskImport.status !== 'importing') {
      heading.focus();
      pendingFocus.current = undefined;
    }
  });

  const result = taskImport.status === 'done' ? taskImport.result : undefined;
  const settings = taskImport.settings;
  // Rows with errors say nothing reliable about the columns (a ragged row's "label" may be a word of its text).
  const errorRows = result ? rowsWithErrors(result.report) : undefined;
  const usableRows = result?.preview.filter((row) => !errorRows?.has(row.row)) ?? [];
  const editingFile = editing && 'file' in editing.source && result?.name === editing.source.file ? editing : undefined;
  // A task whose file is not in this browser's storage can still be edited, with its columns typed in.
  const editingMissingFile =
    editing && 'file' in editing.source && taskImport.status === 'failed' && taskImport.fileName === editing.source.file ? { task: editing, source: editing.source } : undefined;
  const editingHub = editing && 'hub' in editing.source ? editing : undefined;

  const edit = (task: RecipeTask) => {
    setEditing(task);
    setEditVersion((version) => version + 1);
    pendingFocus.current = 'file' in task.source ? 'mapping' : 'hub';
    if ('file' in task.source) void useStudio.getState().reopenImportedFile(task.source.file, settingsOfSource(task.source));
  };

  const showTokens = (name: string) => {
    setTokenTask(name);
    void useStudio.getState().showTokenView(name);
  };

  return (
    <div className="tasks-page">
      <section className="panel" aria-labelledby="tasks-title">
        <h2 id="tasks-title">Tasks</h2>
        <p className="muted">
          Each task is a data set the adapter learns from. Import a file (or name a Hub data set), tell the studio which column plays which part, and add it to the recipe.
          The mixture decides how often each task is sampled.
        </p>
        <ContextNotice />
      </section>

      <TaskImport />

      {result && settings && (
        <section className="panel" aria-labelledby="mapping-title" data-testid="file-mapping">
          <h3 id="mapping-title" ref={mappingHeading} tabIndex={-1}>
            {editingFile ? `Edit task ${editingFile.name}` : 'Map columns'} — {result.name}
          </h3>
          <RowPreview result={result} />
          <ValidationReport report={result.report} rows={result.rows} />
          <h4>Column mapping</h4>
          <ColumnMapping
            key={`${result.name}|${JSON.stringify(settings)}|${editVersion}`}
            source={fileSource(result.name, settings)}
            columns={result.columns}
            rows={usableRows}
            initial={editingFile ? draftFromTask(editingFile) : newDraft(taskNameFromFile(result.name), suggestTaskMapping(result.columns, usableRows, result.labelValues))}
            {...(editingFile ? { editing: editingFile } : {})}
            onSaved={setEditing}
          />
        </section>
      )}
      {editingMissingFile && (
        <section className="panel" aria-labelledby="mapping-title" data-testid="file-mapping">
          <h3 id="mapping-title" ref={mappingHeading} tabIndex={-1}>
            Edit task {editingMissingFile.task.name} — {editingMissingFile.source.file}
          </h3>
          <p className="banner warn">{editingMissingFile.source.file} is not imported in this browser, so its column names are typed in. Import it above to see its rows.</p>
          <ColumnMapping
            key={`missing|${editVersion}`}
            source={editingMissingFile.source}
            columns={[]}
            rows={[]}
            initial={draftFromTask(editingMissingFile.task)}
            editing={editingMissingFile.task}
            onSaved={setEditing}
          />
        </section>
      )}

      <section className="panel" aria-labelledby="task-list-title">
        <h3 id="task-list-title">Tasks in the recipe</h3>
        <TaskList onEdit={edit} onShowTokens={showTokens} />
      </section>

      <section className="panel" aria-labelledby="task-audit-title">
        <h3 id="task-audit-title">Data audit</h3>
        <TaskAudit />
      </section>

      <section className="panel" aria-labelledby="token-view-title">
        <h3 id="token-view-title">Token view</h3>
        <TokenView task={tokenTask} onTaskChange={setTokenTask} />
      </section>

      <section className="panel" aria-labelledby="imported-title">
        <h3 id="imported-title">Imported files</h3>
        <ImportedFiles />
      </section>

      <section className="panel" aria-labelledby="hub-task-title">
        <h3 id="hub-task-title" ref={hubHeading} tabIndex={-1}>{editingHub ? `Edit task ${editingHub.name}` : 'Add a task from a Hub data set'}</h3>
        <HubTaskForm
          key={editingHub ? `edit:${editingHub.name}` : `new:${hubFormVersion}`}
          {...(editingHub ? { editing: editingHub } : {})}
          onSaved={(task) => {
            setEditing(undefined);
            setHubSaved(`Saved task "${task.name}" in the recipe.`);
            setHubFormVersion((version) => version + 1);
          }}
        />
        {editingHub && (
          <button type="button" className="secondary" onClick={() => setEditing(undefined)}>
            Stop editing
          </button>
        )}
        {hubSaved && (
          <p role="status" className="muted">
            {hubSaved}
          </p>
        )}
      </section>
    </div>
  );
}
