import type { TaskEvaluation } from '../../train/evaluate.ts';

/** Which examples the numbers are about: the sample's label counts beside the whole split's. */
export function SampleLabels({ task }: { task: TaskEvaluation }) {
  const { sample } = task;
  if (!sample) return null;
  const description = sample.whole ? `all ${sample.splitSize} validation examples` : `a seeded sample of ${task.examples} of ${sample.splitSize} validation examples${sample.labels ? ', stratified by label' : ''}`;
  return (
    <div className="sample-labels">
      <p className="muted">Scored on {description}; every evaluation of the run, and every run of the same recipe and seed, scores the same examples.</p>
      {sample.labels && sample.splitLabels && (
        <table aria-label={`Labels in the evaluation sample of ${task.task}`}>
          <thead>
            <tr>
              <th scope="col">Label</th>
              <th scope="col" className="number">
                In the sample
              </th>
              <th scope="col" className="number">
                In the validation split
              </th>
            </tr>
          </thead>
          <tbody>
            {Object.keys(sample.splitLabels).map((label) => (
              <tr key={label}>
                <th scope="row">{label}</th>
                <td className="number">{sample.labels![label] ?? 0}</td>
                <td className="number">{sample.splitLabels![label]}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
