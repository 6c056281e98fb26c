import type { TextSplitting } from '../../data/import/text.ts';
import { useStudio } from '../../state/store.ts';
import type { ImportSettings } from '../../data/import/import-settings.ts';
import { ErrorNotice } from '../components/ErrorNotice.tsx';
import { Field } from '../components/Field.tsx';
import { ProgressBar } from '../components/ProgressBar.tsx';
import { DropZone } from './DropZone.tsx';

const DELIMITERS: readonly { value: string; label: string }[] = [
  { value: '', label: 'Detect' },
  { value: ',', label: 'Comma (,)' },
  { value: '\t', label: 'Tab' },
  { value: ';', label: 'Semicolon (;)' },
  { value: '|', label: 'Bar (|)' },
  { value: '@', label: 'At sign (@)' },
];

const FORMATS: readonly { value: ImportSettings['format']; label: string }[] = [
  { value: 'auto', label: 'Detect from name and content' },
  { value: 'jsonl', label: 'JSON Lines' },
  { value: 'json', label: 'JSON' },
  { value: 'csv', label: 'CSV, TSV or other delimited text' },
  { value: 'parquet', label: 'Parquet' },
  { value: 'text', label: 'Plain text' },
];

const SPLITTINGS: readonly { value: TextSplitting; label: string }[] = [
  { value: 'lines', label: 'One row per line' },
  { value: 'paragraphs', label: 'One row per paragraph' },
];

const ACCEPT = '.jsonl,.ndjson,.json,.csv,.tsv,.tab,.txt,.text,.parquet,text/*,application/json';

function sameSettings(a: ImportSettings, b: ImportSettings | undefined): boolean {
  return b !== undefined && a.delimiter === b.delimiter && a.header === b.header && a.format === b.format && (a.format !== 'text' || a.splitting === b.splitting);
}

/** Reading a task file into the studio: how to read it, the file itself, progress, and what came of it. */
export function TaskImport() {
  const settings = useStudio((state) => state.importSettings);
  const taskImport = useStudio((state) => state.taskImport);
  const importing = taskImport.status === 'importing';
  const set = (change: Partial<ImportSettings>) => useStudio.getState().setImportSettings(change);
  const otherDelimiter = !DELIMITERS.some((d) => d.value === settings.delimiter);
  const result = taskImport.result;

  return (
    <section className="panel" aria-labelledby="task-import-title">
      <h3 id="task-import-title">Import a task file</h3>
      <div className="tasks-settings">
        <Field label="Delimiter" hint="For delimited text. Financial PhraseBank’s Sentences_50Agree.txt is sentence@label: choose @.">
          {(props) => (
            <select {...props} value={otherDelimiter ? 'other' : settings.delimiter} onChange={(event) => set({ delimiter: event.target.value === 'other' ? ':' : event.target.value })}>
              {DELIMITERS.map((d) => (
                <option key={d.label} value={d.value}>
                  {d.label}
                </option>
              ))}
              <option value="other">Other character…</option>
            </select>
          )}
        </Field>
        {otherDelimiter && (
          <Field label="Other delimiter" hint="One character.">
            {(props) => <input {...props} type="text" maxLength={1} size={3} value={settings.delimiter} onChange={(event) => set({ delimiter: event.target.value })} />}
          </Field>
        )}
        <Field label="First row is a header" hint="No: columns are called column_1, column_2, …">
          {(props) => (
            <select {...props} value={settings.header} onChange={(event) => set({ header: event.target.value as ImportSettings['header'] })}>
              <option value="auto">Detect</option>
              <option value="yes">Yes</option>
              <option value="no">No</option>
            </select>
          )}
        </Field>
        <Field label="File format" hint="Detect: a delimiter other than Detect reads the file as delimited text. Training reads the file as chosen here.">
          {(props) => (
            <select {...props} value={settings.format} onChange={(event) => set({ format: event.target.value as ImportSettings['format'] })}>
              {FORMATS.map((f) => (
                <option key={f.value} value={f.value}>
                  {f.label}
                </option>
              ))}
            </select>
          )}
        </Field>
        {settings.format === 'text' && (
          <Field label="Rows of plain text" hint="A paragraph is the lines between blank lines.">
            {(props) => (
              <select {...props} value={settings.splitting} onChange={(event) => set({ splitting: event.target.value as TextSplitting })}>
                {SPLITTINGS.map((splitting) => (
                  <option key={splitting.value} value={splitting.value}>
                    {splitting.label}
                  </option>
                ))}
              </select>
            )}
          </Field>
        )}
      </div>

      <DropZone label="Choose a task file…" accept={ACCEPT} disabled={importing} onFile={(file) => void useStudio.getState().importTaskFile(file)} />

      {importing && (
        <div className="row">
          <ProgressBar
            label={`Reading ${taskImport.fileName}`}
            value={taskImport.progress?.bytesRead ?? 0}
            max={taskImport.progress?.totalBytes ?? null}
            {...(taskImport.progress ? { bytes: { done: taskImport.progress.bytesRead, total: taskImport.progress.totalBytes ?? null } } : {})}
          />
          <button type="button" className="secondary" onClick={() => useStudio.getState().cancelTaskImport()}>
            Cancel import
          </button>
        </div>
      )}
      {taskImport.status === 'cancelled' && <p role="status">Import of {taskImport.fileName} cancelled. Tasks already in the recipe are unchanged.</p>}
      {taskImport.status === 'failed' && taskImport.error && (
        <ErrorNotice
          error={taskImport.error}
          title={`Could not import ${taskImport.fileName}`}
          action={{ label: 'Dismiss', run: () => useStudio.getState().clearTaskImport() }}
        />
      )}
      {taskImport.status === 'failed' && <p className="muted">Tasks already in the recipe and files imported before are unchanged. Check the settings above and choose the file again.</p>}
      {result && (
        <p role="status" data-testid="import-summary">
          <strong>{result.name}</strong>: {result.rows.toLocaleString('en')} rows, {result.columns.length} column{result.columns.length === 1 ? '' : 's'} ({result.columns.join(', ')}), read as{' '}
          {result.format}.{' '}
          {!sameSettings(settings, taskImport.settings) && (
            <button type="button" className="secondary" onClick={() => void useStudio.getState().reopenImportedFile(result.name, settings)}>
              Read {result.name} again with these settings
            </button>
          )}
        </p>
      )}
    </section>
  );
}
