import { useState, type FormEvent } from 'react';
import { useStudio } from '../../state/store.ts';
import { SUGGESTED_MODELS } from '../../studio/presets.ts';
import { ErrorNotice } from '../components/ErrorNotice.tsx';
import { Field } from '../components/Field.tsx';
import { DownloadProgress } from './DownloadProgress.tsx';
import { HubEndpointField } from './HubEndpointField.tsx';
import { HubTokenField } from './HubTokenField.tsx';
import { modelAdvice } from './model-advice.ts';

const isLocal = (source: string | undefined) => source?.startsWith('local/') ?? false;

/** A Hub model: one of the suggested small ones or any id and revision; its download; its errors. */
export function ModelChooser() {
  const recipeModel = useStudio((state) => state.recipe.model);
  const model = useStudio((state) => state.model);
  const [id, setId] = useState(isLocal(recipeModel.source) ? '' : recipeModel.source);
  const [revision, setRevision] = useState(isLocal(recipeModel.source) ? 'main' : recipeModel.revision);
  const busy = model.status === 'loading' || model.status === 'importing' || model.status === 'checking';
  const hubRequest = model.request && !isLocal(model.request.source) ? model.request : undefined;

  const load = (event?: FormEvent) => {
    event?.preventDefault();
    if (id.trim()) void useStudio.getState().loadModel({ source: id, revision });
  };

  return (
    <section className="panel model-chooser" aria-labelledby="model-hub-title">
      <h2 id="model-hub-title">Choose a model</h2>
      <p className="muted">
        A model from the Hugging Face Hub is downloaded once into this browser’s storage; after that it loads without a network. Small models train fastest and fit more
        GPUs.
      </p>
      <form onSubmit={load}>
        <fieldset className="model-suggestions">
          <legend>Suggested models</legend>
          {SUGGESTED_MODELS.map((suggestion) => (
            <label key={suggestion.id} className="model-suggestion">
              <input
                type="radio"
                name="suggested-model"
                checked={id === suggestion.id}
                onChange={() => {
                  setId(suggestion.id);
                  setRevision('main');
                }}
              />
              <span>
                <strong>{suggestion.id}</strong>{' '}
                <span className="muted">
                  {suggestion.parameters} parameters, {suggestion.download}
                </span>
                <br />
                <small>{suggestion.note}</small>
              </span>
            </label>
          ))}
        </fieldset>
        <div className="model-id-row">
          <Field label="Hub model id" hint="owner/name, as in the model’s address on the Hub">
            {(props) => <input {...props} type="text" value={id} spellCheck={false} autoComplete="off" placeholder="HuggingFaceTB/SmolLM2-135M-Instruct" onChange={(event) => setId(event.target.value)} />}
          </Field>
          <Field label="Revision" hint="a branch, tag or commit">
            {(props) => <input {...props} type="text" value={revision} spellCheck={false} className="model-revision" onChange={(event) => setRevision(event.target.value)} />}
          </Field>
          <button type="submit" disabled={busy || !id.trim()}>
            Load
          </button>
        </div>
      </form>
      {model.interrupted && model.status === 'idle' && (
        <div className="banner warn row">
          <span>
            The download of {model.interrupted.source}@{model.interrupted.revision} stopped part way; what was downloaded is kept.
          </span>
          <button type="button" onClick={() => void useStudio.getState().loadModel(model.interrupted!)}>
            Resume download
          </button>
        </div>
      )}
      {hubRequest && <DownloadProgress />}
      {model.status === 'cancelled' && hubRequest && (
        <p className="muted" role="status">
          The download of {hubRequest.source} was cancelled. Finished parts are kept: Load resumes it.
        </p>
      )}
      {model.status === 'failed' && model.error && hubRequest && (
        <ErrorNotice
          error={model.error}
          title={`${hubRequest.source}@${hubRequest.revision} did not load`}
          advice={modelAdvice(model.error, 'hub')}
          action={{ label: 'Try again', run: () => void useStudio.getState().loadModel(hubRequest) }}
        />
      )}
      <HubEndpointField />
      <HubTokenField />
    </section>
  );
}
