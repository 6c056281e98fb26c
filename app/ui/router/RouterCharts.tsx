import { useMemo } from 'react';
import type { HeadEvaluation } from '../../route/head.ts';
import { LineChartPanel } from '../charts/LineChartPanel.tsx';

const LOSS_SERIES = [
  { key: 'trainLoss', label: 'training', emphasis: true },
  { key: 'heldOutLoss', label: 'held out' },
];
const ACCURACY_SERIES = [
  { key: 'trainAccuracy', label: 'training', emphasis: true },
  { key: 'heldOutAccuracy', label: 'held out' },
];

/** The router head's loss and accuracy on its balanced training set and on the held-out slice, live as it trains. */
export function RouterCharts({ history }: { history: readonly HeadEvaluation[] }) {
  const rows = useMemo(() => history.map(({ step, trainLoss, heldOutLoss, trainAccuracy, heldOutAccuracy }) => ({ step, trainLoss, heldOutLoss, trainAccuracy, heldOutAccuracy })), [history]);
  return (
    <section className="panel charts" aria-label="Router training charts">
      <LineChartPanel title="Router loss" rows={rows} x="step" series={LOSS_SERIES} empty="The first evaluation comes after 10 steps." />
      <LineChartPanel title="Router accuracy" rows={rows} x="step" series={ACCURACY_SERIES} yDomain={[0, 1]} format={(value) => `${(100 * value).toFixed(0)}%`} empty="The first evaluation comes after 10 steps." />
    </section>
  );
}
