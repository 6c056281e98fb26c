/**
 * Which importer a file needs, from its name and its first bytes. The content wins where the name can
 * mislead: Parquet has a magic number, and a ".json" file whose lines are each one object is JSON Lines.
 * Give it the first 64 KiB or so (DETECTION_BYTES).
 */
import { detectDelimiter } from './delimited-sniff.ts';
import type { FileFormat } from './types.ts';

export const DETECTION_BYTES = 64 * 1024;

const PARQUET_MAGIC = [0x50, 0x41, 0x52, 0x31]; // "PAR1"

export function detectFileFormat(fileName: string, head: Uint8Array): FileFormat {
  if (PARQUET_MAGIC.every((byte, i) => head[i] === byte)) return 'parquet';
  const text = new TextDecoder('utf-8').decode(head).replace(/^\uFEFF/, '');
  const extension = /\.([a-z0-9]+)$/i.exec(fileName)?.[1]?.toLowerCase() ?? '';
  if (extension === 'jsonl' || extension === 'ndjson') return 'jsonl';
  if (extension === 'parquet') return 'parquet';
  if (extension === 'csv' || extension === 'tsv' || extension === 'tab') return 'csv';
  if (extension === 'txt' || extension === 'text' || extension === 'md') return 'text';
  const first = text.trimStart()[0];
  if (first === '[') return 'json';
  if (first === '{') return looksLikeJsonLines(text, extension === 'json') ? 'jsonl' : 'json';
  if (extension === 'json') return 'json';
  const guess = detectDelimiter(text, '"', false);
  return guess.fieldCount >= 2 && guess.consistency >= 0.9 ? 'csv' : 'text';
}

/**
 * The first line is a whole JSON value by itself, and the next non-blank line starts another. A
 * one-line file is JSON Lines unless its name says ".json" (an object of rows written on one line).
 */
function looksLikeJsonLines(text: string, namedJson: boolean): boolean {
  const lines = text.split(/\r?\n/).filter((line) => line.trim() !== '');
  const [first, second] = lines;
  if (first === undefined) return false;
  try {
    JSON.parse(first);
  } catch {
    return false;
  }
  return second === undefined ? !namedJson : second.trimStart().startsWith('{');
}
