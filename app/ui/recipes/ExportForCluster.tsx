import { useRef, useState } from 'react';
import { toErrorReport, type ErrorReport } from '../../errors.ts';
import { EXPORT_MODES, EXPORT_TARGETS, TARGET_TITLES, type ExportMode, type ExportTarget } from '../../export/targets.ts';
import { useStudio } from '../../state/store.ts';
import { saveFile } from '../../studio/download.ts';
import type { ExportRecipeResult, TrainProgress } from '../../../workers/protocol.ts';
import { ErrorNotice } from '../components/ErrorNotice.tsx';
import { Field } from '../components/Field.tsx';

const MODE_HINTS: Record<ExportMode, string> = {
  native: 'each task its own data set, mixed by the engine where it can (LLaMA-Factory, TRL) — fixed probabilities only',
  premixed: 'one pre-tokenized file in exactly this studio’s sampling order, read in order once: faithful for every strategy',
};

function describeProgress(progress: TrainProgress | undefined): string {
  if (!progress) return 'Starting…';
  if (progress.kind === 'prepare') return `Preparing ${progress.progress.task}: ${progress.progress.stage} ${progress.progress.done} of ${progress.progress.total}`;
  if (progress.kind === 'stage') return { model: 'Reading the tokenizer…', data: 'Preparing the tasks…', export: 'Writing the files…' }[progress.stage as 'model' | 'data' | 'export'] ?? 'Working…';
  return 'Working…';
}

/**
 * Take the recipe to a GPU cluster: the same folder `cocktail export` writes (data, configuration,
 * run.sh, MAPPING.md) for Axolotl, LLaMA-Factory or TRL, downloaded as a zip, with what could not be
 * carried over exactly listed here as well as in MAPPING.md.
 */
export function ExportForCluster() {
  const problems = useStudio((state) => state.recipeProblems.length);
  const [target, setTarget] = useState<ExportTarget>('axolotl');
  const [mode, setMode] = useState<ExportMode>('premixed');
  const [gpus, setGpus] = useState(1);
  const [nodes, setNodes] = useState(1);
  const [running, setRunning] = useState<TrainProgress | 'starting' | undefined>();
  const [done, setDone] = useState<Omit<ExportRecipeResult, 'zip'>>();
  const [error, setError] = useState<ErrorReport>();
  const abort = useRef<AbortController | undefined>(undefined);

  const start = async () => {
    const controller = new AbortController();
    abort.current = controller;
    setRunning('starting');
    setDone(undefined);
    setError(undefined);
    try {
      const result = await useStudio.getState().exportForCluster({ target, mode, gpus, nodes }, { signal: controller.signal, onProgress: setRunning });
      saveFile(result.zip, result.fileName, 'application/zip');
      setDone({ fileName: result.fileName, notes: result.notes, copiedSources: result.copiedSources });
    } catch (caught) {
      if (!controller.signal.aborted) setError(toErrorReport(caught));
    } finally {
      setRunning(undefined);
      abort.current = undefined;
    }
  };

  return (
    <section className="panel" aria-labelledby="export-cluster-title">
      <h2 id="export-cluster-title">Take it to a GPU cluster</h2>
      <p className="muted">Writes this recipe for an engine that trains on rented GPUs — data in its format, its configuration, launch commands for one GPU, one node or several, and MAPPING.md of every field — as a zip.</p>
      <div className="row">
        <Field label="Engine">
          {(props) => (
            <select {...props} value={target} onChange={(event) => setTarget(event.target.value as ExportTarget)}>
              {EXPORT_TARGETS.map((name) => (
                <option key={name} value={name}>
                  {TARGET_TITLES[name]}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label="Mixture" hint={MODE_HINTS[mode]}>
          {(props) => (
            <select {...props} value={mode} onChange={(event) => setMode(event.target.value as ExportMode)}>
              {EXPORT_MODES.map((name) => (
                <option key={name} value={name}>
                  {name}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label="GPUs per node">{(props) => <input {...props} type="number" min={1} value={gpus} onChange={(event) => setGpus(Math.max(1, Math.floor(Number(event.target.value) || 1)))} />}</Field>
        <Field label="Nodes">{(props) => <input {...props} type="number" min={1} value={nodes} onChange={(event) => setNodes(Math.max(1, Math.floor(Number(event.target.value) || 1)))} />}</Field>
      </div>
      <div className="row">
        <button type="button" disabled={running !== undefined || problems > 0} onClick={() => void start()}>
          Download for {TARGET_TITLES[target]}
        </button>
        {running !== undefined && (
          <>
            <span role="status">{describeProgress(running === 'starting' ? undefined : running)}</span>
            <button type="button" className="secondary" onClick={() => abort.current?.abort()}>
              Cancel
            </button>
          </>
        )}
      </div>
      {problems > 0 && <p className="muted">The recipe has problems to fix first (listed above).</p>}
      {error && <ErrorNotice error={error} title="The recipe could not be exported" />}
      {done && (
        <div role="status" aria-label="Export result">
          <p>
            Downloaded <code>{done.fileName}</code>: unzip it on the cluster and start <code>run.sh</code>.
            {done.copiedSources.length > 0 && ` The recipe’s task files are copied into it (${done.copiedSources.join(', ')}).`}
          </p>
          {done.notes.length > 0 && (
            <>
              <h3>Not carried over exactly</h3>
              <ul className="export-notes">
                {done.notes.map((note) => (
                  <li key={`${note.field}:${note.message}`}>
                    <code>{note.field}</code>: {note.message}
                  </li>
                ))}
              </ul>
            </>
          )}
        </div>
      )}
    </section>
  );
}
