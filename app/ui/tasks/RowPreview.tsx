import { rowsWithErrors } from '../../data/import/label-columns.ts';
import type { DataImportResult } from '../../../workers/protocol.ts';

/** A cell as text: strings as they are, other JSON values (lists of messages, token ids) as JSON. */
function cellText(value: unknown): string {
  if (value === undefined || value === null) return '';
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** The first rows of an imported file, as the importer read them (before any column mapping). */
export function RowPreview({ result }: { result: DataImportResult }) {
  const bad = rowsWithErrors(result.report);
  return (
    <div className="table-scroll" tabIndex={0} role="region" aria-label={`First rows of ${result.name}`}>
      <table className="row-preview">
        <caption className="muted">
          First {result.preview.length} of {result.rows.toLocaleString('en')} rows of {result.name}
        </caption>
        <thead>
          <tr>
            <th scope="col">Row</th>
            {result.columns.map((column) => (
              <th scope="col" key={column}>
                {column}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {result.preview.map((row) => (
            <tr key={row.row} className={bad.has(row.row) ? 'has-error' : undefined}>
              <td className="row-number">
                {row.row}
                {bad.has(row.row) && <span className="severity error"> error</span>}
              </td>
              {result.columns.map((column) => {
                const text = cellText(row.values[column]);
                return (
                  <td key={column} title={text}>
                    {text}
                  </td>
                );
              })}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
