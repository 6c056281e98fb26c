import { useEffect, useId } from 'react';
import { useStudio } from '../../state/store.ts';
import { expertsLabel } from '../../studio/router-plan.ts';
import { ErrorNotice } from '../components/ErrorNotice.tsx';
import { plural } from '../format.ts';
import { hrefFor } from '../routes.ts';
import { ConfirmDelete } from './ConfirmDelete.tsx';
import { LibrarySection } from './LibraryTable.tsx';

const COLUMNS = [{ label: 'Router' }, { label: 'Experts' }, { label: 'Base model' }, { label: 'Features' }, { label: 'Accuracy', number: true }];

/** Imports a router bundle (a zip of router.json, router.safetensors and an adapter folder per expert). */
function ImportRouter() {
  const id = useId();
  const error = useStudio((state) => state.routers.importError);
  const imported = useStudio((state) => state.routers.imported);
  return (
    <div className="import-router">
      <label htmlFor={id}>Import a router bundle (zip)…</label>
      <input
        id={id}
        type="file"
        accept=".zip,application/zip"
        onChange={(event) => {
          const file = event.target.files?.[0];
          if (file) void useStudio.getState().importRouter(file);
          event.target.value = '';
        }}
      />
      {imported && <p role="status">Imported router “{imported}”.</p>}
      {error && <ErrorNotice error={error} title="The router bundle was not imported" />}
    </div>
  );
}

/** Routers over task adapters, each downloadable as a bundle (docs/router-format.md) and deletable. */
export function RoutersSection() {
  const routers = useStudio((state) => state.routers);
  const trained = useStudio((state) => state.routerTraining.record?.key);

  useEffect(() => {
    void useStudio.getState().refreshRouters();
  }, [trained]);

  const rows = routers.items.map((router) => (
    <tr key={router.key}>
      <th scope="row">
        {router.name}
        <br />
        <code className="muted">{router.key}</code>
        {router.expertKeys.length === 0 && <span className="tag">imported</span>}
      </th>
      <td>
        {expertsLabel(router)}
        {router.fallback ? ` (fallback ${router.fallback} below ${router.threshold})` : ''}
      </td>
      <td>
        <code>{router.baseModel.name}</code>
      </td>
      <td>
        layer {router.layer}, {router.pooling} pooling, {router.hidden ? `${router.hidden} hidden units` : 'linear'}
      </td>
      <td className="number">{router.validation?.accuracy !== undefined && router.validation.accuracy !== null ? `${(100 * router.validation.accuracy).toFixed(1)}%` : '—'}</td>
      <td className="actions">
        <button type="button" onClick={() => void useStudio.getState().exportRouter(router.key)}>
          Download bundle
        </button>
        <a className="playground-link" href={hrefFor('playground')} onClick={() => useStudio.getState().updatePlayground({ routerKey: router.key })}>
          Try in Playground
        </a>
        <ConfirmDelete what={`router ${router.name}`} onConfirm={() => useStudio.getState().deleteRouter(router.key)} />
      </td>
    </tr>
  ));
  return (
    <LibrarySection
      id="routers"
      title="Routers"
      error={routers.error}
      errorTitle="The router could not be read, exported or deleted"
      empty={
        <>
          No routers yet. Train one over a per-task run’s adapters on the <a href={hrefFor('router')}>Router page</a>, or import a bundle below.
        </>
      }
      caption={plural(routers.items.length, 'router')}
      columns={COLUMNS}
      rows={rows}
    >
      <ImportRouter />
    </LibrarySection>
  );
}
