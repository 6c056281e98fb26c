import type { ReactNode } from 'react';
import { formatMetric, METRIC_LABELS } from '../../studio/compare-runs.ts';
import type { EvaluationSource } from '../../studio/evaluation-sources.ts';
import { TaskDetails } from './TaskDetails.tsx';

export interface TaskColumn<Row> {
  header: string;
  /** Right-aligned, as numbers are. */
  numeric?: boolean;
  cell: (row: Row) => ReactNode;
}

/** One row per task, the task's name heading it, then the columns given: the table every per-task score list of the Evaluate page is. */
export function TaskTable<Row extends { task: string }>({ rows, rowHeader, columns, className, caption, label }: { rows: readonly Row[]; rowHeader: string; columns: readonly TaskColumn<Row>[]; className: string; caption?: ReactNode; label?: string }) {
  return (
    <table className={className} {...(label ? { 'aria-label': label } : {})}>
      {caption !== undefined && <caption>{caption}</caption>}
      <thead>
        <tr>
          <th scope="col">{rowHeader}</th>
          {columns.map((column) => (
            <th key={column.header} scope="col" {...(column.numeric ? { className: 'number' } : {})}>
              {column.header}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {rows.map((row) => (
          <tr key={row.task}>
            <th scope="row">{row.task}</th>
            {columns.map((column) => (
              <td key={column.header} {...(column.numeric ? { className: 'number' } : {})}>
                {column.cell(row)}
              </td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

type TaskEvaluation = EvaluationSource['evaluation']['tasks'][number];

const EVALUATION_COLUMNS: TaskColumn<TaskEvaluation>[] = [
  { header: 'Metric', cell: (task) => METRIC_LABELS[task.metric] },
  { header: 'Score', numeric: true, cell: (task) => formatMetric(task.metric, task.score) },
  { header: 'Validation loss', numeric: true, cell: (task) => formatMetric('loss', task.loss) },
  { header: 'Examples', numeric: true, cell: (task) => task.examples },
];

/**
 * One evaluation per task: metric, score, validation loss and examples, then each task's details
 * (the sample, per-class results and confusion matrix, answers with their input).
 */
export function MetricsTable({ source }: { source: EvaluationSource }) {
  const { tasks } = source.evaluation;
  return (
    <>
      <TaskTable
        className="eval-metrics"
        caption={
          <>
            {source.label} — {source.detail}
          </>
        }
        rowHeader="Task"
        columns={EVALUATION_COLUMNS}
        rows={tasks}
      />
      {tasks.map((task) => (
        <TaskDetails key={task.task} task={task} />
      ))}
    </>
  );
}
