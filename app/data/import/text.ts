/**
 * Plain text: one example per line, or one per block of lines separated by blank lines (poems, emails,
 * short documents). Each row has one column, "text". Line ends are normalized to "\n" within a block.
 */
import { LineSplitter, type TextLine } from './lines.ts';
import { openTextStream } from './text-stream.ts';
import type { DataSource, ImportOptions, RawRow, RowGenerator } from './types.ts';

export type TextSplitting = 'lines' | 'paragraphs';

export interface TextImportOptions extends ImportOptions {
  /** 'lines' (default): each non-blank line is a row; 'paragraphs': blank lines separate rows. */
  splitting?: TextSplitting;
}

export const TEXT_COLUMN = 'text';

export async function* readTextRows(source: DataSource, options: TextImportOptions): RowGenerator {
  const text = openTextStream(source, options);
  const splitter = new LineSplitter();
  const byParagraph = (options.splitting ?? 'lines') === 'paragraphs';
  let rows = 0;
  let block: string[] = [];
  let blockLine = 0;

  function lineRows({ text: lineText, line }: TextLine): RawRow | undefined {
    if (lineText.trim() === '') {
      options.problems.add('BLANK_LINE', { line }, 'blank line skipped');
      return undefined;
    }
    return { row: ++rows, line, values: { [TEXT_COLUMN]: lineText } };
  }

  /** Blank lines are the separators here, so they are not problems. */
  function paragraphRows({ text: lineText, line }: TextLine): RawRow | undefined {
    if (lineText.trim() !== '') {
      if (block.length === 0) blockLine = line;
      block.push(lineText);
      return undefined;
    }
    return flushBlock();
  }

  function flushBlock(): RawRow | undefined {
    if (block.length === 0) return undefined;
    const row: RawRow = { row: ++rows, line: blockLine, values: { [TEXT_COLUMN]: block.join('\n') } };
    block = [];
    return row;
  }

  const toRow = byParagraph ? paragraphRows : lineRows;
  for await (const chunk of text.chunks) {
    for (const line of splitter.push(chunk)) {
      const row = toRow(line);
      if (row) yield row;
    }
  }
  for (const line of splitter.end()) {
    const row = toRow(line);
    if (row) yield row;
  }
  if (byParagraph) {
    const last = flushBlock();
    if (last) yield last;
  }
  return {
    fileName: text.fileName,
    format: 'text',
    rows,
    columns: [TEXT_COLUMN],
    bytes: text.bytesRead(),
    encoding: text.decoder.encoding,
    bom: text.decoder.bom,
  };
}
