import { WANTED_FEATURES } from '../gpu/device.ts';
import { useStudio } from '../state/store.ts';
import { formatBytes } from './format.ts';

/** Limits that decide what fits: shown first, the rest behind a disclosure. */
const KEY_LIMITS = [
  'maxBufferSize',
  'maxStorageBufferBindingSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBuffersPerShaderStage',
] as const;

const BYTE_LIMITS = new Set(['maxBufferSize', 'maxStorageBufferBindingSize', 'maxComputeWorkgroupStorageSize', 'maxUniformBufferBindingSize']);

function limitValue(name: string, value: number) {
  return BYTE_LIMITS.has(name) ? `${formatBytes(value)} (${value.toLocaleString('en-US')})` : value.toLocaleString('en-US');
}

export function GpuPanel() {
  const { status, info, error } = useStudio((state) => state.gpu);
  return (
    <section className="panel" aria-labelledby="gpu-title">
      <h2 id="gpu-title">GPU</h2>
      {status === 'loading' || status === 'idle' ? <p aria-live="polite">Looking for a WebGPU adapter…</p> : null}
      {status === 'lost' && (
        <div role="alert" className="banner error">
          <p>{error?.message}</p>
          <button type="button" onClick={() => void useStudio.getState().loadGpuInfo()}>
            Reconnect to the GPU
          </button>
        </div>
      )}
      {info && (
        <>
          <dl className="facts" data-testid="adapter">
            <dt>Vendor</dt>
            <dd>{info.adapter.vendor || '—'}</dd>
            <dt>Architecture</dt>
            <dd>{info.adapter.architecture || '—'}</dd>
            <dt>Device</dt>
            <dd>{info.adapter.device || info.adapter.description || '—'}</dd>
            <dt>Description</dt>
            <dd>{info.adapter.description || '—'}</dd>
          </dl>
          {info.adapter.isFallbackAdapter || info.adapter.architecture === 'swiftshader' ? (
            <p className="banner warn">This is a software adapter: results are right but training will be slow.</p>
          ) : null}
          <h3>Features</h3>
          <ul className="chips" aria-label="Features the engine uses">
            {WANTED_FEATURES.map((feature) => (
              <li key={feature} className={info.wantedFeatures[feature] ? 'chip on' : 'chip off'}>
                {feature}: {info.wantedFeatures[feature] ? 'yes' : 'no'}
              </li>
            ))}
          </ul>
          <h3>Limits</h3>
          <table className="limits">
            <tbody>
              {KEY_LIMITS.map((name) => (
                <tr key={name}>
                  <th scope="row">{name}</th>
                  <td>{limitValue(name, info.limits[name] ?? NaN)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <details>
            <summary>All {Object.keys(info.limits).length} limits and {info.features.length} features</summary>
            <table className="limits">
              <tbody>
                {Object.entries(info.limits)
                  .sort(([a], [b]) => a.localeCompare(b))
                  .map(([name, value]) => (
                    <tr key={name}>
                      <th scope="row">{name}</th>
                      <td>{limitValue(name, value)}</td>
                    </tr>
                  ))}
              </tbody>
            </table>
            <p className="muted">{info.features.join(', ')}</p>
          </details>
        </>
      )}
    </section>
  );
}
