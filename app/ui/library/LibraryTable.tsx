import type { ReactNode } from 'react';
import type { ErrorReport } from '../../errors.ts';
import { ErrorNotice } from '../components/ErrorNotice.tsx';

export interface LibraryColumn {
  label: string;
  /** Right-aligned figures (sizes, counts). */
  number?: boolean;
}

/**
 * One section of the Library: a heading, the error of the last change made in it, and either what to
 * do when it is empty or a table whose first column names each item and whose last holds its actions.
 */
export function LibrarySection({
  id,
  title,
  error,
  errorTitle,
  empty,
  caption,
  columns,
  rows,
  children,
}: {
  id: string;
  title: string;
  error: ErrorReport | undefined;
  errorTitle: string;
  /** Shown instead of the table when there are no rows. */
  empty: ReactNode;
  caption?: ReactNode;
  /** The columns before the actions; each row's first cell, naming the item, is its row header. */
  columns: readonly LibraryColumn[];
  /** The table's rows. */
  rows: ReactNode[];
  /** Below the table (an import form). */
  children?: ReactNode;
}) {
  const headingId = `library-${id}-title`;
  return (
    <section className="panel library-section" aria-labelledby={headingId}>
      <h2 id={headingId}>{title}</h2>
      {error && <ErrorNotice error={error} title={errorTitle} />}
      {rows.length === 0 ? (
        <p className="muted">{empty}</p>
      ) : (
        <table className="library-table">
          {caption && <caption className="muted">{caption}</caption>}
          <thead>
            <tr>
              {columns.map((column) => (
                <th key={column.label} scope="col" className={column.number ? 'number' : undefined}>
                  {column.label}
                </th>
              ))}
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>{rows}</tbody>
        </table>
      )}
      {children}
    </section>
  );
}

