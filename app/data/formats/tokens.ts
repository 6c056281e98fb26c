/**
 * Pre-tokenized rows: input_ids and labels, with -100 where no loss is taken (Hugging Face convention,
 * ENGINEERING.md §6; labels are aligned with input_ids and the trainer shifts them). Without a labels
 * column every token is trained, as Hugging Face does when labels are absent. Lists may come as JSON
 * arrays, Parquet lists, typed arrays, or JSON text in a CSV cell.
 */
import { IGNORE_INDEX, type TokenExample } from '../example.ts';
import type { RawRow } from '../import/types.ts';
import { describeJsonType } from '../import/jsonl.ts';
import type { ProblemLog } from '../validate.ts';
import { at, checkColumns, columnOrDefault, readStructuredField, sourceOf, type MapContext } from './fields.ts';
import type { FormatMapper } from './types.ts';

export interface TokensMapping {
  format: 'tokens';
  /** Default "input_ids". */
  inputIds?: string;
  /** Default "labels" where the file has it; null to train on every token. */
  labels?: string | null;
  /** The tokenizer's vocabulary size, to catch ids from another tokenizer. */
  vocabSize?: number;
}

export function createTokensMapper(mapping: TokensMapping, context: MapContext): FormatMapper | undefined {
  const idsColumn = columnOrDefault(mapping.inputIds, 'input_ids', context);
  const labelsColumn =
    mapping.labels === null ? undefined : (mapping.labels ?? (context.columns && !context.columns.includes('labels') ? undefined : 'labels'));
  if (!checkColumns([idsColumn, ...(mapping.labels ? [mapping.labels] : [])], context, 'pre-tokenized')) return undefined;
  const { log } = context;
  const vocabSize = mapping.vocabSize;
  return {
    map(row: RawRow): TokenExample | undefined {
      const ids = readIntegers(row, idsColumn, log, false);
      const labels = labelsColumn === undefined || !Object.hasOwn(row.values, labelsColumn) ? ids : readIntegers(row, labelsColumn, log, true);
      if (!ids || !labels) return undefined;
      if (ids.length === 0) {
        log.add('EMPTY_FIELD', at(row, idsColumn), 'there are no tokens');
        return undefined;
      }
      if (labels.length !== ids.length) {
        log.add('LENGTH_MISMATCH', at(row, labelsColumn), `${ids.length} input_ids but ${labels.length} labels`);
        return undefined;
      }
      const badId = ids.findIndex((id) => id < 0 || (vocabSize !== undefined && id >= vocabSize));
      if (badId !== -1) {
        const range = vocabSize === undefined ? 'must not be negative' : `must be in [0, ${vocabSize})`;
        log.add('BAD_TOKENS', at(row, idsColumn), `token ${badId + 1} is ${ids[badId]}, which ${range}`);
        return undefined;
      }
      const badLabel = labels.findIndex((label) => label !== IGNORE_INDEX && (label < 0 || (vocabSize !== undefined && label >= vocabSize)));
      if (badLabel !== -1) {
        log.add('BAD_TOKENS', at(row, labelsColumn), `label ${badLabel + 1} is ${labels[badLabel]}; a label is a token id or ${IGNORE_INDEX}`);
        return undefined;
      }
      if (labels.every((label) => label === IGNORE_INDEX)) {
        log.add('NO_TRAINABLE_TOKENS', at(row, labelsColumn), `all ${labels.length} labels are ${IGNORE_INDEX}`);
        return undefined;
      }
      return { kind: 'tokens', source: sourceOf(row), inputIds: Int32Array.from(ids), labels: Int32Array.from(labels) };
    },
  };
}

function readIntegers(row: RawRow, column: string, log: ProblemLog, allowIgnore: boolean): number[] | undefined {
  const field = readStructuredField(row, column, log, 'a list of integers');
  if (!field) return undefined;
  // Parquet gives a list column as a typed array.
  const value = ArrayBuffer.isView(field.value) && !(field.value instanceof DataView) ? Array.from(field.value as unknown as ArrayLike<number | bigint>) : field.value;
  if (!Array.isArray(value)) {
    log.add('WRONG_TYPE', at(row, column), `expected a list of integers, found ${describeJsonType(value)}`);
    return undefined;
  }
  const out: number[] = [];
  for (let i = 0; i < value.length; i++) {
    const item: unknown = value[i];
    const number = typeof item === 'bigint' ? Number(item) : item;
    if (typeof number !== 'number' || !Number.isSafeInteger(number) || (number < 0 && !(allowIgnore && number === IGNORE_INDEX))) {
      log.add('BAD_TOKENS', at(row, column), `item ${i + 1} is ${describeJsonType(item)}, not a token id${allowIgnore ? ` or ${IGNORE_INDEX}` : ''}`);
      return undefined;
    }
    out.push(number);
  }
  return out;
}
