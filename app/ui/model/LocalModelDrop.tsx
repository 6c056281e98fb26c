import { useState, type DragEvent } from 'react';
import { useStudio } from '../../state/store.ts';
import { ErrorNotice } from '../components/ErrorNotice.tsx';
import { Field } from '../components/Field.tsx';
import { DownloadProgress } from './DownloadProgress.tsx';
import { filesFromDrop, filesFromFolderInput, localModelName, type PickedFiles } from './dropped-files.ts';
import { modelAdvice } from './model-advice.ts';

const isLocal = (source: string | undefined) => source?.startsWith('local/') ?? false;

/** A model already on this computer: a folder picked or dropped, copied into storage as local/<name>. */
export function LocalModelDrop() {
  const model = useStudio((state) => state.model);
  const [name, setName] = useState('');
  const [dragging, setDragging] = useState(false);
  const busy = model.status === 'loading' || model.status === 'importing';
  const localRequest = model.request && isLocal(model.request.source) ? model.request : undefined;

  const importFiles = (picked: PickedFiles) => {
    if (picked.files.length === 0) return;
    void useStudio.getState().importLocalModel(localModelName(name, picked), picked.files, picked.paths);
  };

  const drop = (event: DragEvent) => {
    event.preventDefault();
    setDragging(false);
    if (!busy) void filesFromDrop(event.dataTransfer).then(importFiles);
  };

  return (
    <section className="panel" aria-labelledby="model-local-title">
      <h2 id="model-local-title">Open local files</h2>
      <p className="muted">
        Have the model on disk (no network, or a model downloaded elsewhere)? Pick its folder: the one with config.json, tokenizer.json and the .safetensors weights. The
        files are copied into this browser’s storage.
      </p>
      <Field label="Model name" hint="How the studio lists it (as local/<name>); the folder’s name when left empty.">
        {(props) => <input {...props} type="text" value={name} spellCheck={false} onChange={(event) => setName(event.target.value)} />}
      </Field>
      <Field label="Model folder" hint="Choosing a folder starts the import.">
        {(props) => (
          <input
            {...props}
            type="file"
            multiple
            disabled={busy}
            {...{ webkitdirectory: '' }}
            onChange={(event) => {
              if (event.target.files) importFiles(filesFromFolderInput(event.target.files));
              event.target.value = '';
            }}
          />
        )}
      </Field>
      <div
        className={dragging ? 'model-drop dragging' : 'model-drop'}
        data-testid="model-drop"
        onDragOver={(event) => {
          event.preventDefault();
          event.dataTransfer.dropEffect = 'copy';
          setDragging(true);
        }}
        onDragLeave={() => setDragging(false)}
        onDrop={drop}
      >
        Or drop the model folder, or its files, here.
      </div>
      {localRequest && <DownloadProgress />}
      {model.status === 'cancelled' && localRequest && (
        <p className="muted" role="status">
          The import was cancelled; nothing of it was kept.
        </p>
      )}
      {model.status === 'failed' && model.error && localRequest && (
        <ErrorNotice error={model.error} title="The model files were not imported" advice={modelAdvice(model.error, 'local')} />
      )}
    </section>
  );
}
