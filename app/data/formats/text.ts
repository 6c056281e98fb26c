/** Plain text rows: every token is trained (continued pre-training, domain text). */
import type { TextExample } from '../example.ts';
import type { RawRow } from '../import/types.ts';
import { checkColumns, columnOrDefault, readText, sourceOf, type MapContext } from './fields.ts';
import type { FormatMapper } from './types.ts';

export interface TextMapping {
  format: 'text';
  /** Default "text". */
  text?: string;
}

export function createTextMapper(mapping: TextMapping, context: MapContext): FormatMapper | undefined {
  const column = columnOrDefault(mapping.text, 'text', context, ['content']);
  if (!checkColumns([column], context, 'text')) return undefined;
  return {
    map(row: RawRow): TextExample | undefined {
      const text = readText(row, column, context.log);
      return text === undefined ? undefined : { kind: 'text', source: sourceOf(row), text };
    },
  };
}
