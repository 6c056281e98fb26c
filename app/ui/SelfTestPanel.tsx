import { describeCase } from '../gpu/selftest.ts';
import { useStudio } from '../state/store.ts';
import { formatError } from './format.ts';

/** Runs lora_linear on this GPU against the Float64 reference and shows the errors and the speed. */
export function SelfTestPanel() {
  const ready = useStudio((state) => state.gpu.status === 'ready');
  const { status, progress, report, error } = useStudio((state) => state.selfTest);
  const running = status === 'running';
  const failures = report?.cases.filter((c) => !c.pass) ?? [];
  const worst = report?.cases.reduce((max, c) => Math.max(max, c.relativeError), 0);

  return (
    <section className="panel" aria-labelledby="selftest-title">
      <h2 id="selftest-title">Kernel self-test</h2>
      <p className="muted">
        Runs the fused LoRA linear kernel (Y = X·Wᵀ + bias + s·(X·Aᵀ)·Bᵀ) on your GPU for f32, bf16 and f16 weights and compares every
        output with a Float64 reference computed on the CPU, then measures its throughput.
      </p>
      <div className="row">
        <button type="button" disabled={!ready || running} onClick={() => void useStudio.getState().runSelfTest()}>
          Run kernel self-test
        </button>
        {running && (
          <button type="button" className="secondary" onClick={() => useStudio.getState().cancelSelfTest()}>
            Cancel
          </button>
        )}
      </div>
      {running && progress && (
        <div aria-live="polite">
          <progress max={progress.total} value={progress.done} aria-label="Self-test progress" />
          <span className="muted">
            {' '}
            {progress.done}/{progress.total}: {progress.label}
          </span>
        </div>
      )}
      {status === 'cancelled' && <p role="status">Cancelled.</p>}
      {status === 'failed' && (
        <p role="alert" className="banner error">
          {error?.message}
        </p>
      )}
      {report && (
        <div data-testid="selftest-report">
          <p role="status" className={report.passed ? 'banner ok' : 'banner error'}>
            {report.passed
              ? `All ${report.cases.length} cases pass: max relative error ${formatError(worst ?? 0)} (tolerance ${formatError(report.tolerance)}).`
              : `${failures.length} of ${report.cases.length} cases fail the tolerance of ${formatError(report.tolerance)}.`}
          </p>
          <p>
            Throughput: <strong data-testid="gflops">{report.throughput.gflops.toFixed(2)} GFLOP/s</strong>{' '}
            <span className="muted">
              ({describeCase(report.throughput)}, {report.throughput.iterations} runs in {report.throughput.seconds.toFixed(2)} s)
            </span>
          </p>
          <details open={!report.passed}>
            <summary>Every case</summary>
            <table className="cases">
              <thead>
                <tr>
                  <th scope="col">Shape</th>
                  <th scope="col">Max relative error</th>
                  <th scope="col">Result</th>
                </tr>
              </thead>
              <tbody>
                {report.cases.map((c) => (
                  <tr key={describeCase(c)}>
                    <td>{describeCase(c)}</td>
                    <td>{formatError(c.relativeError)}</td>
                    <td>{c.pass ? 'pass' : 'FAIL'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </details>
        </div>
      )}
    </section>
  );
}
