/**
 * Tokenized examples as one byte array, for the cache. Every field is a 32-bit integer in the host's
 * byte order (little-endian on every platform that runs the studio; a big-endian reader sees a wrong
 * magic number and refuses the item). Layout, in 32-bit words:
 *
 *   magic "CKTK" | format version | E examples | T tokens | R turns
 *   tokenOffsets[E + 1]   example i holds tokens [tokenOffsets[i], tokenOffsets[i + 1])
 *   turnOffsets[E + 1]    example i has turns [turnOffsets[i], turnOffsets[i + 1]) of roles[]
 *   rows[E]  lines[E] (0: none)  truncatedTokens[E]
 *   roles[R]              0 system, 1 user, 2 assistant
 *   inputIds[T]  labels[T]  turnIndex[T]
 *
 * Decoding checks every count, offset and value and refuses the bytes on the first inconsistency; the
 * arrays it returns are views into one copy of the bytes, not copies per example.
 */
import { IGNORE_INDEX, ROLES, type Role } from '../example.ts';
import { TokenizeError } from './errors.ts';
import { NO_TURN, type TokenizedExample } from './types.ts';

const MAGIC = 0x4b544b43; // "CKTK" as little-endian bytes
export const BINARY_FORMAT_VERSION = 1;
const HEADER_WORDS = 5;

export function encodeTokenizedExamples(examples: readonly TokenizedExample[]): Uint8Array<ArrayBuffer> {
  const exampleCount = examples.length;
  const tokenCount = examples.reduce((sum, example) => sum + example.inputIds.length, 0);
  const turnCount = examples.reduce((sum, example) => sum + example.roles.length, 0);
  const words = new Int32Array(wordCount(exampleCount, tokenCount, turnCount));
  words.set([MAGIC, BINARY_FORMAT_VERSION, exampleCount, tokenCount, turnCount]);
  const sections = sectionsOf(words, exampleCount, tokenCount, turnCount);
  let token = 0;
  let turn = 0;
  examples.forEach((example, i) => {
    sections.tokenOffsets[i] = token;
    sections.turnOffsets[i] = turn;
    sections.rows[i] = example.source.row;
    sections.lines[i] = example.source.line ?? 0;
    sections.truncatedTokens[i] = example.truncatedTokens;
    for (const role of example.roles) sections.roles[turn++] = ROLES.indexOf(role);
    sections.inputIds.set(example.inputIds, token);
    sections.labels.set(example.labels, token);
    sections.turnIndex.set(example.turnIndex, token);
    token += example.inputIds.length;
  });
  sections.tokenOffsets[exampleCount] = token;
  sections.turnOffsets[exampleCount] = turn;
  return new Uint8Array(words.buffer);
}

export function decodeTokenizedExamples(bytes: Uint8Array, vocabSize: number): TokenizedExample[] {
  if (bytes.byteLength < HEADER_WORDS * 4 || bytes.byteLength % 4 !== 0) corrupt(`${bytes.byteLength} bytes is not a whole header and whole 32-bit words`);
  // Int32Array views need 4-byte alignment; storage may hand back a view at any offset.
  const aligned = bytes.byteOffset % 4 === 0 ? bytes : bytes.slice();
  const words = new Int32Array(aligned.buffer, aligned.byteOffset, aligned.byteLength / 4);
  const [magic, version, exampleCount, tokenCount, turnCount] = words as unknown as [number, number, number, number, number];
  if (magic !== MAGIC) corrupt('not a tokenized-examples item (wrong magic number)');
  if (version !== BINARY_FORMAT_VERSION) corrupt(`format version ${version}; this build reads version ${BINARY_FORMAT_VERSION}`);
  if (exampleCount < 0 || tokenCount < 0 || turnCount < 0) corrupt('negative counts');
  if (words.length !== wordCount(exampleCount, tokenCount, turnCount)) corrupt(`${words.length} words for ${exampleCount} examples, ${tokenCount} tokens and ${turnCount} turns`);
  const s = sectionsOf(words, exampleCount, tokenCount, turnCount);
  checkOffsets(s.tokenOffsets, tokenCount, 'token');
  checkOffsets(s.turnOffsets, turnCount, 'turn');
  for (const role of s.roles) if (role < 0 || role >= ROLES.length) corrupt(`role code ${role}`);

  const examples: TokenizedExample[] = [];
  for (let i = 0; i < exampleCount; i++) {
    const row = s.rows[i]!;
    const line = s.lines[i]!;
    const truncatedTokens = s.truncatedTokens[i]!;
    if (row < 1 || line < 0 || truncatedTokens < 0) corrupt(`example ${i}: row ${row}, line ${line}, truncated ${truncatedTokens}`);
    const from = s.tokenOffsets[i]!;
    const to = s.tokenOffsets[i + 1]!;
    const roles = Array.from(s.roles.subarray(s.turnOffsets[i]!, s.turnOffsets[i + 1]!), (code): Role => ROLES[code]!);
    const example: TokenizedExample = {
      source: line === 0 ? { row } : { row, line },
      inputIds: s.inputIds.subarray(from, to),
      labels: s.labels.subarray(from, to),
      turnIndex: s.turnIndex.subarray(from, to),
      roles,
      truncatedTokens,
    };
    checkTokens(example, vocabSize, i);
    examples.push(example);
  }
  return examples;
}

function checkTokens(example: TokenizedExample, vocabSize: number, index: number): void {
  const { inputIds, labels, turnIndex, roles } = example;
  if (labels.length > 0 && labels[0] !== IGNORE_INDEX) corrupt(`example ${index}: the first label is ${labels[0]}, not ${IGNORE_INDEX}`);
  for (let t = 0; t < inputIds.length; t++) {
    const id = inputIds[t]!;
    const label = labels[t]!;
    const turn = turnIndex[t]!;
    if (id < 0 || id >= vocabSize) corrupt(`example ${index}, token ${t}: id ${id} outside [0, ${vocabSize})`);
    if (label !== IGNORE_INDEX && (label < 0 || label >= vocabSize)) corrupt(`example ${index}, token ${t}: label ${label}`);
    if (turn !== NO_TURN && (turn < 0 || turn >= roles.length)) corrupt(`example ${index}, token ${t}: turn ${turn} of ${roles.length}`);
  }
}

function checkOffsets(offsets: Int32Array, total: number, what: string): void {
  if (offsets[0] !== 0 || offsets[offsets.length - 1] !== total) corrupt(`${what} offsets do not run from 0 to ${total}`);
  for (let i = 1; i < offsets.length; i++) if (offsets[i]! < offsets[i - 1]!) corrupt(`${what} offsets decrease at example ${i}`);
}

function wordCount(exampleCount: number, tokenCount: number, turnCount: number): number {
  return HEADER_WORDS + 2 * (exampleCount + 1) + 3 * exampleCount + turnCount + 3 * tokenCount;
}

function sectionsOf(words: Int32Array, exampleCount: number, tokenCount: number, turnCount: number) {
  let offset = HEADER_WORDS;
  const take = (length: number): Int32Array => words.subarray(offset, (offset += length));
  return {
    tokenOffsets: take(exampleCount + 1),
    turnOffsets: take(exampleCount + 1),
    rows: take(exampleCount),
    lines: take(exampleCount),
    truncatedTokens: take(exampleCount),
    roles: take(turnCount),
    inputIds: take(tokenCount),
    labels: take(tokenCount),
    turnIndex: take(tokenCount),
  };
}

function corrupt(why: string): never {
  throw new TokenizeError('TOKENIZE_CACHE_CORRUPT', `Cached tokenized examples are damaged: ${why}`, { why });
}
