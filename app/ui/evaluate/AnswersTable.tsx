import type { TaskEvaluation } from '../../train/evaluate.ts';

/** Answers from the evaluation sample (across labels for classification): the input, what was expected and what the model said. */
export function AnswersTable({ task }: { task: TaskEvaluation }) {
  if (task.samples.length === 0) return null;
  return (
    <table className="eval-sample-table" aria-label={`Answers of ${task.task}`}>
      <caption>Answers from the validation split of {task.task}</caption>
      <thead>
        <tr>
          <th scope="col">Input</th>
          <th scope="col">Expected</th>
          <th scope="col">Got</th>
        </tr>
      </thead>
      <tbody>
        {task.samples.map((sample, index) => (
          <tr key={index} className={sample.expected.trim() === sample.got.trim() ? 'sample-match' : undefined}>
            <td className="sample-input">{sample.input ?? <span className="muted">(not kept)</span>}</td>
            <td>{sample.expected}</td>
            <td>{sample.got || <span className="muted">(nothing)</span>}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
