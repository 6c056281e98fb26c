import { useEffect } from 'react';
import { useStudio } from '../../state/store.ts';
import { expertsLabel } from '../../studio/router-plan.ts';
import { latestRunAdapter } from '../../studio/library-items.ts';
import { Field } from '../components/Field.tsx';
import { GenerationSettings } from '../playground/GenerationSettings.tsx';
import { OutputPane } from '../playground/OutputPane.tsx';
import { PromptInput } from '../playground/PromptInput.tsx';
import { RoutingBars } from '../playground/RoutingBars.tsx';
import { hrefFor, useRoute } from '../routes.ts';

const NO_ADAPTER = '';

/**
 * Playground: the recipe's model answers the same prompt twice, side by side: on the right with an
 * adapter from the library, on the left as it is or with a second adapter to compare the two. The
 * right adapter is the one chosen here, else one named by the link (#/playground?adapter=<key>, as
 * the Train page links), else the latest run's for this model.
 */
export function PlaygroundPage() {
  const model = useStudio((state) => state.recipe.model);
  const settings = useStudio((state) => state.playground.settings);
  const panes = useStudio((state) => state.playground.panes);
  const running = useStudio((state) => state.playground.running);
  const adapters = useStudio((state) => state.library.adapters);
  const linked = useRoute().params.get('adapter');
  const modelLoaded = useStudio((state) => state.model.status === 'ready');
  const summary = useStudio((state) => state.model.summary);

  const routers = useStudio((state) => state.routers.items);

  useEffect(() => {
    void useStudio.getState().refreshLibrary();
    void useStudio.getState().refreshRouters();
  }, []);

  const known = (key: string | null | undefined) => (key && adapters.some((a) => a.key === key) ? key : undefined);
  const adapterKey = settings.adapterKey === NO_ADAPTER ? undefined : (known(settings.adapterKey) ?? known(linked) ?? latestRunAdapter(adapters, model.source)?.key);
  const compareKey = known(settings.compareAdapterKey);
  const routerKey = settings.routerKey && routers.some((router) => router.key === settings.routerKey) ? settings.routerKey : undefined;
  const router = routers.find((candidate) => candidate.key === routerKey);
  const modelLabel = model.source.startsWith('local/') ? model.source : `${model.source}@${model.revision}`;
  const summaryOfThisModel = summary && summary.source === model.source && summary.revision === model.revision ? summary : undefined;
  const noChatTemplate =
    settings.mode === 'chat' && (summaryOfThisModel?.hasChatTemplate === false || Object.values(panes).some((pane) => pane.chatRendering === 'plain'));
  const adapterOptions = adapters.map((adapter) => (
    <option key={adapter.key} value={adapter.key}>
      {adapter.label ?? adapter.key}
      {adapter.baseModel && adapter.baseModel !== model.source ? ` (for ${adapter.baseModel})` : ''}
    </option>
  ));

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
            void useStudio.getState().generateInPlayground(adapterKey, compareKey, routerKey);
          }}
        >
          <PromptInput settings={settings} disabled={running} />
          {noChatTemplate && (
            <p className="banner warn" role="note" data-testid="no-chat-template">
              This model has no chat template, so the messages are written as plain text: “User: …” and “Assistant: …” turns, the template a messages task trains
              it with. A base model may not answer like a chat model.
            </p>
          )}
          <Field label="Left pane" hint="The base model as it is, or a second adapter to compare with the one on the right.">
            {(props) => (
              <select {...props} value={compareKey ?? NO_ADAPTER} disabled={running} onChange={(event) => useStudio.getState().updatePlayground({ compareAdapterKey: event.target.value })}>
                <option value={NO_ADAPTER}>Base model (no adapter)</option>
                {adapterOptions}
              </select>
            )}
          </Field>
          <Field label="Adapter" hint="For the right-hand pane: an adapter from the library, trained here or imported.">
            {(props) => (
              <select {...props} value={adapterKey ?? NO_ADAPTER} disabled={running} onChange={(event) => useStudio.getState().updatePlayground({ adapterKey: event.target.value })}>
                <option value={NO_ADAPTER}>No adapter (base model only)</option>
                {adapterOptions}
              </select>
            )}
          </Field>
          <Field label="Router" hint={<>A third, “routed” column: the router picks the expert that answers this prompt (routers are trained on the <a href={hrefFor('router')}>Router page</a>).</>}>
            {(props) => (
              <select {...props} value={routerKey ?? ''} disabled={running} onChange={(event) => useStudio.getState().updatePlayground({ routerKey: event.target.value })}>
                <option value="">No routed column</option>
                {routers.map((candidate) => (
                  <option key={candidate.key} value={candidate.key}>
                    {candidate.name} ({expertsLabel(candidate)}){candidate.baseModel.name !== model.source ? ` (for ${candidate.baseModel.name})` : ''}
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
      <div className={routerKey ? 'playground-panes with-routed' : 'playground-panes'}>
        <OutputPane
          id="base"
          title={panes.base.adapterKey ?? compareKey ? 'Left adapter' : 'Base model'}
          subtitle={panes.base.adapterKey ?? compareKey ?? modelLabel}
          pane={panes.base}
        />
        <OutputPane
          id="adapter"
          title={compareKey ? 'Right adapter' : 'With adapter'}
          subtitle={panes.adapter.adapterKey ?? adapterKey ?? 'no adapter chosen'}
          pane={panes.adapter}
          empty={adapters.length === 0 ? 'No adapters in the library yet: train a run, or import one on the Library page.' : adapterKey ? undefined : 'Choose an adapter to compare with the base model.'}
        />
        {routerKey && (
          <OutputPane
            id="routed"
            title="Routed"
            subtitle={`router ${router?.name ?? routerKey}: ${router?.experts.join(', ') ?? ''}`}
            pane={panes.routed}
            header={panes.routed.routing && <RoutingBars routing={panes.routed.routing} />}
          />
        )}
      </div>
    </div>
  );
}
