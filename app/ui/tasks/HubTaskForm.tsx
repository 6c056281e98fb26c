import { useState } from 'react';
import { useStudio } from '../../state/store.ts';
import { rowsWithErrors } from '../../data/import/label-columns.ts';
import { draftFromTask, newDraft, suggestTaskMapping, taskNameFromFile } from '../../studio/task-mapping.ts';
import type { RecipeTask } from '../../train/recipe.ts';
import { ErrorNotice } from '../components/ErrorNotice.tsx';
import { Field } from '../components/Field.tsx';
import { ProgressBar } from '../components/ProgressBar.tsx';
import { ColumnMapping } from './ColumnMapping.tsx';
import { RowPreview } from './RowPreview.tsx';
import { ValidationReport } from './ValidationReport.tsx';

type HubSource = Extract<RecipeTask['source'], { hub: string }>;

function hubSourceProblems(source: HubSource): string[] {
  const problems: string[] = [];
  if (source.hub === '') problems.push('Hub data set: give its id, e.g. zeroshot/twitter-financial-news-sentiment.');
  else if (/\s/.test(source.hub)) problems.push('Hub data set: an id has no spaces (owner/name).');
  if (source.split === '') problems.push('Split: give the split to train on, e.g. train.');
  return problems;
}

/**
 * A task read from a Hub data set. "Download and preview" reads the split into this browser (once:
 * training reads the same copy) and shows its rows, columns and problems, so the mapping is suggested
 * from them as for a file; without it the column names are typed in as the data set's page shows them.
 */
export function HubTaskForm({ editing, onSaved }: { editing?: RecipeTask; onSaved?(task: RecipeTask): void }) {
  const initialSource = editing && 'hub' in editing.source ? editing.source : undefined;
  const [hub, setHub] = useState(initialSource?.hub ?? '');
  const [config, setConfig] = useState(initialSource?.config ?? 'default');
  const [split, setSplit] = useState(initialSource?.split ?? 'train');
  const [validationSplit, setValidationSplit] = useState(initialSource?.validation_split ?? '');
  const source: HubSource = { hub: hub.trim(), config: config.trim() || 'default', split: split.trim(), ...(validationSplit.trim() ? { validation_split: validationSplit.trim() } : {}) };
  const [typed, setTyped] = useState(false);
  const typing =
    (change: (value: string) => void) =>
    (event: { target: { value: string } }): void => {
      setTyped(true);
      change(event.target.value);
    };
  const problems = hubSourceProblems(source);

  const preview = useStudio((state) => state.hubPreview);
  const forThisSplit = preview.ref?.hub === source.hub && preview.ref.config === source.config && preview.ref.split === source.split;
  const result = forThisSplit && preview.status === 'done' ? preview.result : undefined;
  const errorRows = result ? rowsWithErrors(result.report) : undefined;
  const usableRows = result?.preview.filter((row) => !errorRows?.has(row.row)) ?? [];
  const initial = editing
    ? draftFromTask(editing)
    : result
      ? newDraft(taskNameFromFile(source.hub), suggestTaskMapping(result.columns, usableRows, result.labelValues))
      : newDraft('', { format: 'classification', parts: {}, labelWords: '' });

  return (
    <div className="hub-task">
      <p className="muted">
        “Download and preview” reads the split into this browser once (training reads the same copy, offline too) and suggests the mapping from its rows. Without it, type
        the column names as the data set’s page shows them.
      </p>
      <div className="mapping-grid">
        <Field label="Hub data set" hint="owner/name, as in the data set’s URL.">
          {(props) => (
            <input
              {...props}
              type="text"
              value={hub}
              placeholder="zeroshot/twitter-financial-news-sentiment"
              onChange={typing(setHub)}
            />
          )}
        </Field>
        <Field label="Config" hint="The subset; most data sets have only “default”.">
          {(props) => <input {...props} type="text" value={config} onChange={typing(setConfig)} />}
        </Field>
        <Field label="Split">
          {(props) => <input {...props} type="text" value={split} onChange={typing(setSplit)} />}
        </Field>
        <Field label="Validation split" hint="Optional, e.g. validation or test. Without one, the validation fraction of the split is held out.">
          {(props) => <input {...props} type="text" value={validationSplit} onChange={typing(setValidationSplit)} />}
        </Field>
      </div>
      <div className="row">
        <button
          type="button"
          className="secondary"
          disabled={problems.length > 0 || preview.status === 'loading'}
          onClick={() => void useStudio.getState().previewHubSplit({ hub: source.hub, config: source.config, split: source.split })}
        >
          Download and preview
        </button>
        {preview.status === 'loading' && forThisSplit && (
          <>
            <ProgressBar
              label={`Downloading ${source.hub} (${source.config}/${source.split})`}
              value={preview.progress?.loaded ?? 0}
              max={preview.progress?.total || null}
              {...(preview.progress ? { bytes: { done: preview.progress.loaded, total: preview.progress.total || null } } : {})}
            />
            <button type="button" className="secondary" onClick={() => useStudio.getState().cancelHubPreview()}>
              Cancel download
            </button>
          </>
        )}
      </div>
      {forThisSplit && preview.status === 'cancelled' && <p role="status">Download cancelled. What came is kept; previewing again goes on from there.</p>}
      {forThisSplit && preview.status === 'failed' && preview.error && <ErrorNotice error={preview.error} title={`Could not read ${source.hub} (${source.config}/${source.split})`} />}
      {result && (
        <div data-testid="hub-preview">
          <RowPreview result={result} />
          <ValidationReport report={result.report} rows={result.rows} />
        </div>
      )}
      <ColumnMapping
        key={`${editing ? `edit:${editing.name}` : 'new'}|${result?.name ?? ''}`}
        source={source}
        sourceProblems={problems}
        columns={result?.columns ?? []}
        rows={usableRows}
        initial={initial}
        quietUntilEdited={editing === undefined && !typed && !result}
        {...(editing ? { editing } : {})}
        {...(onSaved ? { onSaved } : {})}
      />
    </div>
  );
}
