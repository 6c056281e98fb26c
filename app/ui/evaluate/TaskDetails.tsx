import type { TaskEvaluation } from '../../train/evaluate.ts';
import { AnswersTable } from './AnswersTable.tsx';
import { ConfusionMatrix, MajorityBar, PerClassTable } from './ClassificationView.tsx';
import { SampleLabels } from './SampleLabels.tsx';

/** Everything behind one task's number: the sample, what to know about it, the per-class view and the answers. */
export function TaskDetails({ task }: { task: TaskEvaluation }) {
  const report = task.classification;
  return (
    <section className="task-details" aria-label={`Details of ${task.task}`}>
      <h3>{task.task}</h3>
      {task.notices?.map((notice) => (
        <p key={notice} className="banner warn" role="note">
          {notice}
        </p>
      ))}
      <SampleLabels task={task} />
      {report && (
        <>
          <MajorityBar task={task.task} report={report} />
          {task.labelScoring && <p className="muted">Label words scored by {task.labelScoring === 'per_token' ? 'log-probability per token (length-normalized)' : 'summed log-probability'}.</p>}
          <div className="classification-tables">
            <PerClassTable task={task.task} report={report} />
            <ConfusionMatrix task={task.task} report={report} />
          </div>
        </>
      )}
      {task.samples.length > 0 && (
        <details className="eval-samples">
          <summary>Answers from the validation split: input, expected and got</summary>
          <AnswersTable task={task} />
        </details>
      )}
    </section>
  );
}
