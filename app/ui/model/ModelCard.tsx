import type { ModelSummary } from '../../../workers/protocol.ts';
import { formatBytes } from '../format.ts';
import { weightsLabel } from './weights-label.ts';

/** 1_240_000_000 → "1.24B", 231_872 → "232K": how model sizes are usually said. */
export function formatCount(count: number): string {
  for (const [size, suffix] of [
    [1e9, 'B'],
    [1e6, 'M'],
    [1e3, 'K'],
  ] as const) {
    if (count >= size) return `${Number((count / size).toPrecision(3))}${suffix}`;
  }
  return String(count);
}

/** What the loaded model is: its shape, size, weights and files. */
export function ModelCard({ summary }: { summary: ModelSummary }) {
  return (
    <section className="panel" aria-labelledby="model-card-title" data-testid="model-card">
      <h2 id="model-card-title">{summary.label}</h2>
      <p className="banner ok" role="status">
        Loaded: the recipe trains {summary.source.startsWith('local/') ? summary.source : `${summary.source}@${summary.revision}`}.
      </p>
      <dl className="facts model-facts">
        <dt>Architecture</dt>
        <dd>{summary.architecture}</dd>
        <dt>Layers</dt>
        <dd>{summary.layers}</dd>
        <dt>Hidden size</dt>
        <dd>{summary.hiddenSize.toLocaleString('en-US')}</dd>
        <dt>Attention heads</dt>
        <dd>
          {summary.heads}
          {summary.kvHeads !== summary.heads && ` (${summary.kvHeads} key/value heads)`}
        </dd>
        <dt>Vocabulary</dt>
        <dd>{summary.vocabSize.toLocaleString('en-US')} tokens</dd>
        <dt>Context</dt>
        <dd>{summary.maxPositions.toLocaleString('en-US')} positions</dd>
        <dt>Parameters</dt>
        <dd>
          {summary.parameters.toLocaleString('en-US')} ({formatCount(summary.parameters)})
        </dd>
        <dt>Weights</dt>
        <dd data-testid="model-weights">{weightsLabel(summary)}</dd>
        <dt>Chat template</dt>
        <dd>{summary.hasChatTemplate ? 'yes' : 'no (prompts are plain text)'}</dd>
        <dt>ONNX export</dt>
        <dd>{summary.hasOnnx ? 'yes (the engine can be verified against it)' : 'no'}</dd>
      </dl>
      <h3>
        Files: {summary.files.length}, {formatBytes(summary.totalBytes)}
      </h3>
      <table className="limits model-files" aria-label="Model files">
        <tbody>
          {summary.files.map((file) => (
            <tr key={file.path}>
              <th scope="row">{file.path}</th>
              <td>{formatBytes(file.bytes)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
