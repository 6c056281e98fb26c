import { useEffect } from 'react';
import { useStudio } from '../../state/store.ts';
import { latestRunAdapter } from '../../studio/library-items.ts';
import { Field } from '../components/Field.tsx';
import { GenerationSettings } from '../playground/GenerationSettings.tsx';
import { OutputPane } from '../playground/OutputPane.tsx';
import { PromptInput } from '../playground/PromptInput.tsx';
import { hrefFor, useRoute } from '../routes.ts';

const NO_ADAPTER = '';

/**
 * Playground: the recipe's model answers the same prompt twice, as it is and with an adapter from
 * the library, side by side. The adapter is the one chosen here, else one named by the link
 * (#/playground?adapter=<key>, as the Train page links), else the latest run's for this model.
 */
export function PlaygroundPage() {
  const model = useStudio((state) => state.recipe.model);
  const settings = useStudio((state) => state.playground.settings);
  const panes = useStudio((state) => state.playground.panes);
  const running = useStudio((state) => state.playground.running);
  const adapters = useStudio((state) => state.library.adapters);
  const linked = useRoute().params.get('adapter');
  const modelLoaded = useStudio((state) => state.model.status === 'ready');

  useEffect(() => {
    void useStudio.getState().refreshLibrary();
  }, []);

  const known = (key: string | null | undefined) => (key && adapters.some((a) => a.key === key) ? key : undefined);
  const adapterKey = settings.adapterKey === NO_ADAPTER ? undefined : (known(settings.adapterKey) ?? known(linked) ?? latestRunAdapter(adapters, model.source)?.key);
  const modelLabel = model.source.startsWith('local/') ? model.source : `${model.source}@${model.revision}`;

  return (
    <div className="playground-page">
      <section className="panel" aria-labelledby="playground-title">
        <h2 id="playground-title">Playground</h2>
        <p className="muted">
          Model: <code>{modelLabel}</code> (change it on the <a href={hrefFor('model')}>Model page</a>). Both panes use the same prompt and settings; only the adapter differs.
        </p>
        {!modelLoaded && (
          <p className="muted">
            The first Generate downloads the model if this browser does not have it yet; load it on the <a href={hrefFor('model')}>Model page</a> to watch the download.
          </p>
        )}
        <form
          className="playground-form"
          // Steps are for the arrow keys; any value is allowed, and the engine explains one it refuses, in the pane.
          noValidate
          onSubmit={(event) => {
            event.preventDefault();
            void useStudio.getState().generateInPlayground(adapterKey);
          }}
        >
          <PromptInput settings={settings} disabled={running} />
          <Field label="Adapter" hint="For the right-hand pane: an adapter from the library, trained here or imported.">
            {(props) => (
              <select {...props} value={adapterKey ?? NO_ADAPTER} disabled={running} onChange={(event) => useStudio.getState().updatePlayground({ adapterKey: event.target.value })}>
                <option value={NO_ADAPTER}>No adapter (base model only)</option>
                {adapters.map((adapter) => (
                  <option key={adapter.key} value={adapter.key}>
                    {adapter.key}
                    {adapter.baseModel && adapter.baseModel !== model.source ? ` (for ${adapter.baseModel})` : ''}
                  </option>
                ))}
              </select>
            )}
          </Field>
          <GenerationSettings settings={settings} disabled={running} />
          <div className="row">
            <button type="submit" disabled={running}>
              Generate
            </button>
            <button type="button" className="secondary" disabled={!running} onClick={() => useStudio.getState().stopPlayground()}>
              Stop
            </button>
          </div>
        </form>
      </section>
      <div className="playground-panes">
        <OutputPane id="base" title="Base model" subtitle={modelLabel} pane={panes.base} />
        <OutputPane
          id="adapter"
          title="With adapter"
          subtitle={panes.adapter.adapterKey ?? adapterKey ?? 'no adapter chosen'}
          pane={panes.adapter}
          empty={adapters.length === 0 ? 'No adapters in the library yet: train a run, or import one on the Library page.' : adapterKey ? undefined : 'Choose an adapter to compare with the base model.'}
        />
      </div>
    </div>
  );
}
