import { useStudio } from '../../state/store.ts';
import { formatBytes, plural } from '../format.ts';
import { hrefFor } from '../routes.ts';
import { ConfirmDelete } from './ConfirmDelete.tsx';
import { RenameInPlace } from './RenameInPlace.tsx';
import { ImportAdapter } from './ImportAdapter.tsx';
import { LibrarySection } from './LibraryTable.tsx';

const COLUMNS = [{ label: 'Adapter' }, { label: 'Base model' }, { label: 'Rank', number: true }, { label: 'Steps', number: true }, { label: 'Size', number: true }];

/**
 * Trained and imported LoRA adapters, each downloadable as a PEFT zip (adapter_config.json +
 * adapter_model.safetensors, loadable with PeftModel.from_pretrained) or as the two files.
 */
export function AdaptersSection() {
  const adapters = useStudio((state) => state.library.adapters);
  const error = useStudio((state) => state.library.sectionErrors.adapters);
  const total = adapters.reduce((sum, adapter) => sum + adapter.bytes, 0);
  const rows = adapters.map((adapter) => (
    <tr key={adapter.key}>
      <th scope="row">
        {adapter.label && (
          <>
            {adapter.label}
            <br />
          </>
        )}
        <code className={adapter.label ? 'muted' : undefined}>{adapter.key}</code>
        {!adapter.runId && <span className="tag">imported</span>}
      </th>
      <td>
        {adapter.baseModel ? <code>{adapter.baseModel}</code> : '—'}
        {adapter.baseModelNote && (
          <details className="base-model-note">
            <summary>For Python: set the base model</summary>
            <p className="muted">{adapter.baseModelNote} The zip holds this note as README.md.</p>
          </details>
        )}
      </td>
      <td className="number">{adapter.r ?? '—'}</td>
      <td className="number">{adapter.steps ?? '—'}</td>
      <td className="number">{formatBytes(adapter.bytes)}</td>
      <td className="actions">
        <button type="button" onClick={() => void useStudio.getState().exportAdapter(adapter.key, 'zip')}>
          Download PEFT zip
        </button>
        <details className="adapter-files">
          <summary>Separate files</summary>
          <button type="button" className="secondary" onClick={() => void useStudio.getState().exportAdapter(adapter.key, 'config')}>
            Download adapter_config.json
          </button>
          <button type="button" className="secondary" onClick={() => void useStudio.getState().exportAdapter(adapter.key, 'weights')}>
            Download adapter_model.safetensors
          </button>
        </details>
        <a className="playground-link" href={hrefFor('playground', { adapter: adapter.key })}>
          Try in Playground
        </a>
        <RenameInPlace what={`adapter ${adapter.label ?? adapter.key}`} current={adapter.label ?? adapter.name} onRename={(label) => useStudio.getState().renameAdapter(adapter.key, label)} />
        <ConfirmDelete what={adapter.key} onConfirm={() => useStudio.getState().deleteAdapter(adapter.key)} />
      </td>
    </tr>
  ));
  return (
    <LibrarySection
      id="adapters"
      title="Adapters"
      error={error}
      errorTitle="The adapter could not be exported, renamed or deleted"
      empty={
        <>
          No adapters yet. A run exports its adapters when it completes (<a href={hrefFor('train')}>Train page</a>), or import a PEFT adapter below.
        </>
      }
      caption={`${plural(adapters.length, 'adapter')}, ${formatBytes(total)}`}
      columns={COLUMNS}
      rows={rows}
    >
      <ImportAdapter />
    </LibrarySection>
  );
}
