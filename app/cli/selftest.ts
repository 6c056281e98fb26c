import { acquireNodeGpu } from '../gpu/node-gpu.ts';
import { describeCase, runSelfTest } from '../gpu/selftest.ts';
import { parseFlags } from './args.ts';

export const SELFTEST_USAGE = 'cocktail selftest [--json]';

export async function selfTestCommand(args: string[]): Promise<number> {
  const { json } = parseFlags('selftest', args, ['json']);
  const gpu = await acquireNodeGpu({ label: 'cocktail selftest' });
  const report = await runSelfTest(gpu, {
    onProgress: ({ done, total, label }) => {
      if (!json && process.stderr.isTTY) process.stderr.write(`\r${done}/${total} ${label.padEnd(40)}`);
    },
  });
  gpu.destroy();
  if (json) {
    console.log(JSON.stringify(report, null, 2));
  } else {
    if (process.stderr.isTTY) process.stderr.write('\r'.padEnd(50) + '\r');
    for (const c of report.cases) console.log(`${c.pass ? 'pass' : 'FAIL'}  ${describeCase(c).padEnd(32)} max relative error ${c.relativeError.toExponential(2)}`);
    const { throughput } = report;
    console.log(`\nthroughput ${throughput.gflops.toFixed(2)} GFLOP/s (${describeCase(throughput)}, ${throughput.iterations} runs in ${throughput.seconds.toFixed(2)} s)`);
    console.log(report.passed ? `all ${report.cases.length} cases within ${report.tolerance}` : 'some cases FAILED');
  }
  return report.passed ? 0 : 1;
}
