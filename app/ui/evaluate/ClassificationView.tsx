import type { ClassificationReport } from '../../train/classification-report.ts';

/** A share as the Evaluate page writes it: one decimal of a percent. */
export const percent = (value: number) => `${(100 * value).toFixed(1)}%`;

/** Accuracy against the bar to beat: always answering the most common expected label. */
export function MajorityBar({ task, report }: { task: string; report: ClassificationReport }) {
  const beats = report.accuracy > report.majorityAccuracy;
  return (
    <div className="majority-bar" role="group" aria-label={`Accuracy of ${task} against the majority class`}>
      <div className="bar-row">
        <span className="bar-label">Accuracy</span>
        <span className="bar-track">
          <span className={`bar-fill ${beats ? 'ok' : 'warn'}`} style={{ width: percent(report.accuracy) }} />
          <span className="bar-mark" style={{ left: percent(report.majorityAccuracy) }} title={`Majority class: ${percent(report.majorityAccuracy)}`} />
        </span>
        <span className="number">{percent(report.accuracy)}</span>
      </div>
      <p className="muted">
        Always answering “{report.majorityLabel}” would score {percent(report.majorityAccuracy)} (the mark on the bar): {beats ? 'the model beats it' : 'the model does not beat it'}. Macro-F1 {report.macroF1.toFixed(3)}.
      </p>
    </div>
  );
}

/** Precision, recall, F1 and support per class, and their unweighted mean. */
export function PerClassTable({ task, report }: { task: string; report: ClassificationReport }) {
  return (
    <table className="per-class-table">
      <caption>Per-class results of {task}</caption>
      <thead>
        <tr>
          <th scope="col">Label</th>
          <th scope="col" className="number">
            Precision
          </th>
          <th scope="col" className="number">
            Recall
          </th>
          <th scope="col" className="number">
            F1
          </th>
          <th scope="col" className="number">
            Support
          </th>
        </tr>
      </thead>
      <tbody>
        {report.labels.map((label) => {
          const scores = report.perClass[label]!;
          return (
            <tr key={label}>
              <th scope="row">{label}</th>
              <td className="number">{scores.precision.toFixed(3)}</td>
              <td className="number">{scores.recall.toFixed(3)}</td>
              <td className="number">{scores.f1.toFixed(3)}</td>
              <td className="number">{scores.support}</td>
            </tr>
          );
        })}
      </tbody>
      <tfoot>
        <tr>
          <th scope="row">Macro average</th>
          <td />
          <td />
          <td className="number">{report.macroF1.toFixed(3)}</td>
          <td className="number">{report.labels.reduce((sum, label) => sum + report.perClass[label]!.support, 0)}</td>
        </tr>
      </tfoot>
    </table>
  );
}

/** Counts of expected (rows) against predicted (columns), each cell shaded by its share of its row. */
export function ConfusionMatrix({ task, report }: { task: string; report: ClassificationReport }) {
  return (
    <table className="confusion-matrix" aria-label={`Confusion matrix of ${task}`}>
      <caption>Confusion matrix of {task}: expected (rows) against the model’s answer (columns)</caption>
      <thead>
        <tr>
          <th scope="col">Expected \ Got</th>
          {report.labels.map((label) => (
            <th key={label} scope="col" className="number">
              {label}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {report.labels.map((expected) => {
          const row = report.confusion[expected]!;
          const total = report.labels.reduce((sum, got) => sum + row[got]!, 0);
          return (
            <tr key={expected}>
              <th scope="row">{expected}</th>
              {report.labels.map((got) => {
                const count = row[got]!;
                const share = total === 0 ? 0 : count / total;
                return (
                  <td
                    key={got}
                    className={`number heat ${expected === got ? 'diagonal' : 'off-diagonal'}`}
                    style={{ ['--heat' as string]: share.toFixed(3) }}
                    title={`${count} of ${total} “${expected}” answered “${got}”`}
                  >
                    {count}
                  </td>
                );
              })}
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}
