import { useState } from 'react';
import { draftFromTask, newDraft } from '../../studio/task-mapping.ts';
import type { RecipeTask } from '../../train/recipe.ts';
import { Field } from '../components/Field.tsx';
import { ColumnMapping } from './ColumnMapping.tsx';

type HubSource = Extract<RecipeTask['source'], { hub: string }>;

function hubSourceProblems(source: HubSource): string[] {
  const problems: string[] = [];
  if (source.hub === '') problems.push('Hub data set: give its id, e.g. zeroshot/twitter-financial-news-sentiment.');
  else if (/\s/.test(source.hub)) problems.push('Hub data set: an id has no spaces (owner/name).');
  if (source.split === '') problems.push('Split: give the split to train on, e.g. train.');
  return problems;
}

/**
 * A task read from a Hub data set. Nothing is downloaded here: training reads the split's Parquet
 * files when it prepares the task, so the column names are typed in as the data set shows them.
 */
export function HubTaskForm({ editing, onSaved }: { editing?: RecipeTask; onSaved?(task: RecipeTask): void }) {
  const initialSource = editing && 'hub' in editing.source ? editing.source : undefined;
  const [hub, setHub] = useState(initialSource?.hub ?? '');
  const [config, setConfig] = useState(initialSource?.config ?? 'default');
  const [split, setSplit] = useState(initialSource?.split ?? 'train');
  const [validationSplit, setValidationSplit] = useState(initialSource?.validation_split ?? '');
  const source: HubSource = { hub: hub.trim(), config: config.trim() || 'default', split: split.trim(), ...(validationSplit.trim() ? { validation_split: validationSplit.trim() } : {}) };
  const initial = editing ? draftFromTask(editing) : newDraft('', { format: 'classification', parts: {}, labelWords: '' });
  const [typed, setTyped] = useState(false);
  const typing =
    (change: (value: string) => void) =>
    (event: { target: { value: string } }): void => {
      setTyped(true);
      change(event.target.value);
    };

  return (
    <div className="hub-task">
      <p className="muted">
        Nothing is downloaded now: when training prepares the task it reads the split from the Hub (its Parquet files), so type the column names as the data set’s page
        shows them.
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
      <ColumnMapping
        key={editing ? `edit:${editing.name}` : 'new'}
        source={source}
        sourceProblems={hubSourceProblems(source)}
        columns={[]}
        rows={[]}
        initial={initial}
        quietUntilEdited={editing === undefined && !typed}
        {...(editing ? { editing } : {})}
        {...(onSaved ? { onSaved } : {})}
      />
    </div>
  );
}
