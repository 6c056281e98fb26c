import { useState } from 'react';
import { useStudio } from '../../state/store.ts';
import type { ModelSummary } from '../../../workers/protocol.ts';
import { ErrorNotice } from '../components/ErrorNotice.tsx';
import { Field } from '../components/Field.tsx';

const STAGES = { download: 'Fetching the ONNX export…', onnx: 'Running ONNX Runtime…', engine: 'Running the WebGPU engine…' } as const;

/** "Verify engine": the same prompt through ONNX Runtime and through our kernels, compared logit by logit. */
export function VerifyEngine({ summary }: { summary: ModelSummary }) {
  const verify = useStudio((state) => state.verify);
  const [prompt, setPrompt] = useState('');
  const running = verify.status === 'running';
  const result = verify.result;
  return (
    <section className="panel" aria-labelledby="model-verify-title">
      <h2 id="model-verify-title">Verify engine</h2>
      <p className="muted">
        Runs a prompt through ONNX Runtime, an independent implementation, on the model’s ONNX export and through the studio’s WebGPU kernels, and compares every
        logit. A pass means training and generation compute what the model means on this GPU.
      </p>
      {!summary.hasOnnx && <p className="banner warn">This model has no ONNX export (onnx/model.onnx), so there is nothing to compare against.</p>}
      <Field label="Prompt" hint="Leave empty for a standard test sentence.">
        {(props) => <input {...props} type="text" value={prompt} disabled={running} onChange={(event) => setPrompt(event.target.value)} />}
      </Field>
      <div className="row">
        <button type="button" disabled={!summary.hasOnnx || running} onClick={() => void useStudio.getState().verifyEngine(prompt.trim() || undefined)}>
          Verify engine
        </button>
        {running && (
          <>
            <span aria-live="polite" className="muted">
              {verify.stage ? STAGES[verify.stage] : 'Starting…'}
            </span>
            <button type="button" className="secondary" onClick={() => useStudio.getState().cancelVerify()}>
              Cancel
            </button>
          </>
        )}
      </div>
      {verify.status === 'failed' && verify.error && <ErrorNotice error={verify.error} title="The engine check did not run" />}
      {verify.status === 'done' && result && (
        <div data-testid="verify-result">
          <p role="status" className={result.passed ? 'banner ok' : 'banner error'}>
            {result.passed
              ? `Pass: the engines agree to ${result.relativeDifference.toExponential(2)} relative (tolerance ${result.tolerance.toExponential(0)}).`
              : `Fail: the engines differ by ${result.relativeDifference.toExponential(2)} relative, over the tolerance of ${result.tolerance.toExponential(0)}. Please report this with your GPU’s name.`}
          </p>
          <dl className="facts">
            <dt>Prompt</dt>
            <dd>{result.prompt}</dd>
            <dt>Tokens compared</dt>
            <dd>{result.tokens}</dd>
            <dt>Max abs difference</dt>
            <dd>{result.maxAbsDifference.toExponential(3)}</dd>
            <dt>Relative difference</dt>
            <dd>{result.relativeDifference.toExponential(3)}</dd>
            <dt>Top-token disagreements</dt>
            <dd>
              {result.argmaxDisagreements} of {result.tokens} positions
            </dd>
          </dl>
        </div>
      )}
    </section>
  );
}
