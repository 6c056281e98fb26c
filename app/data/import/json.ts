/**
 * A JSON file that holds rows: an array of objects (`[{...}, {...}]`, Alpaca) or an object of objects
 * keyed by id (`{"q1": {...}, "q2": {...}}`). The file is not parsed in one piece: a scanner finds
 * where each row begins and ends (tracking strings, escapes and brackets), and only that row's text is
 * handed to JSON.parse. So memory holds one row at a time, a bad row is reported with its line and row
 * number, and the rows after it are still read.
 */
import { DataError } from '../errors.ts';
import type { ProblemCode } from '../validate.ts';
import { describeJsonType, isPlainObject, jsonErrorText, preview } from './jsonl.ts';
import { openTextStream } from './text-stream.ts';
import { ColumnCollector, type DataSource, type ImportOptions, type RawRow, type RowGenerator } from './types.ts';

export interface JsonImportOptions extends ImportOptions {
  /** For an object of rows keyed by id: the field that receives the key (default "id"); a row's own field of that name wins. */
  keyField?: string;
}

export async function* readJsonRows(source: DataSource, options: JsonImportOptions): RowGenerator {
  const text = openTextStream(source, options);
  const scanner = new JsonRowScanner(text.fileName);
  const columns = new ColumnCollector();
  const problems = options.problems;
  const keyField = options.keyField ?? 'id';
  let rows = 0;

  function handle(event: ScanEvent): RawRow | undefined {
    if (event.type === 'problem') {
      problems.add(event.code, { line: event.line }, event.detail);
      return undefined;
    }
    const row = ++rows;
    const at = { line: event.line, row };
    if (event.type === 'unfinished') {
      problems.add('BAD_JSON', at, `the row is cut off by the end of the file: ${preview(event.text)}`);
      return undefined;
    }
    if (event.missingCommaBefore) problems.add('BAD_JSON', at, 'there is no comma between this row and the one before it');
    let value: unknown;
    try {
      value = JSON.parse(event.text);
    } catch (error) {
      problems.add('BAD_JSON', at, `not valid JSON (${jsonErrorText(error)}): ${preview(event.text)}`);
      return undefined;
    }
    if (!isPlainObject(value)) {
      // Under a key, a value that is not an object usually means the whole file is one record, not rows keyed by id.
      const where = event.key === undefined ? '' : ` under key ${JSON.stringify(event.key)}`;
      const oneRecord = event.key === undefined || rows > 1 ? '' : '; the file looks like one JSON object, not rows: give an array of row objects ([{...}, {...}]), an object of row objects keyed by id, or JSON Lines';
      problems.add('NOT_AN_OBJECT', at, `expected a JSON object of fields${where}, found ${describeJsonType(value)}${oneRecord}`);
      return undefined;
    }
    const values = event.key !== undefined && !Object.hasOwn(value, keyField) ? { [keyField]: event.key, ...value } : value;
    columns.addKeys(values);
    return { row, line: event.line, values };
  }

  for await (const chunk of text.chunks) {
    for (const event of scanner.push(chunk)) {
      const row = handle(event);
      if (row) yield row;
    }
  }
  for (const event of scanner.end()) {
    const row = handle(event);
    if (row) yield row;
  }
  return {
    fileName: text.fileName,
    format: 'json',
    rows,
    columns: columns.list(),
    bytes: text.bytesRead(),
    encoding: text.decoder.encoding,
    bom: text.decoder.bom,
  };
}

export type ScanEvent =
  | { type: 'row'; text: string; line: number; key?: string; missingCommaBefore: boolean }
  | { type: 'unfinished'; text: string; line: number }
  | { type: 'problem'; code: ProblemCode; line: number; detail: string };

type State =
  | 'root'
  | 'before-element'
  | 'element'
  | 'after-element'
  | 'before-key'
  | 'key'
  | 'before-colon'
  | 'before-value'
  | 'after-value'
  | 'done'
  | 'stopped';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const NEWLINE = 0x0a;

function isJsonWhitespace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

/** Finds the rows of a top-level array or object in text pushed chunk by chunk. */
export class JsonRowScanner {
  private readonly fileName: string;
  private state: State = 'root';
  private mode: 'array' | 'object' = 'array';
  private line = 1;
  private events: ScanEvent[] = [];
  // The row being captured: its text so far, where it starts, and what kind of value it is.
  private parts: string[] = [];
  private start = 0;
  private startLine = 1;
  private kind: 'container' | 'string' | 'literal' = 'container';
  private stack: number[] = [];
  private inString = false;
  private escaped = false;
  private key: string | undefined;
  private keyParts: string[] = [];
  private missingComma = false;

  constructor(fileName: string) {
    this.fileName = fileName;
  }

  push(chunk: string): ScanEvent[] {
    this.events = [];
    this.start = 0;
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk.charCodeAt(i);
      if (this.step(chunk, i, c)) i--;
      else if (c === NEWLINE) this.line++;
    }
    if (this.state === 'element') this.parts.push(chunk.slice(this.start));
    if (this.state === 'key') this.keyParts.push(chunk.slice(this.start));
    return this.events;
  }

  end(): ScanEvent[] {
    this.events = [];
    switch (this.state) {
      case 'root':
        throw new DataError('DATA_UNREADABLE', `${this.fileName} is empty: expected a JSON array of rows or an object of rows keyed by id.`, {
          fileName: this.fileName,
        });
      case 'element':
        if (this.kind === 'literal') this.emitRow(this.parts.join(''));
        else this.events.push({ type: 'unfinished', text: this.parts.join(''), line: this.startLine });
        this.truncated();
        break;
      case 'done':
      case 'stopped':
        break;
      default:
        this.truncated();
    }
    this.state = 'stopped';
    return this.events;
  }

  /** Handles one character; returns true when the character must be looked at again in the new state. */
  private step(chunk: string, i: number, c: number): boolean {
    switch (this.state) {
      case 'element':
        return this.stepElement(chunk, i, c);
      case 'root':
        if (isJsonWhitespace(c)) return false;
        if (c === OPEN_BRACKET) {
          this.mode = 'array';
          this.state = 'before-element';
          return false;
        }
        if (c === OPEN_BRACE) {
          this.mode = 'object';
          this.state = 'before-key';
          return false;
        }
        throw new DataError(
          'DATA_UNREADABLE',
          `${this.fileName}, line ${this.line}: expected a JSON array of rows ([...]) or an object of rows keyed by id ({...}), found ${JSON.stringify(chunk[i])}. ` +
            'If the file has one JSON object per line, import it as JSON Lines.',
          { fileName: this.fileName, line: this.line },
        );
      case 'before-element':
        if (isJsonWhitespace(c)) return false;
        if (c === CLOSE_BRACKET) {
          this.state = 'done';
          return false;
        }
        if (c === COMMA) {
          this.problem('BAD_JSON', 'an empty element between two commas');
          return false;
        }
        this.beginElement(i, c);
        return false;
      case 'after-element':
        if (isJsonWhitespace(c)) return false;
        if (c === COMMA) this.state = 'before-element';
        else if (c === CLOSE_BRACKET) this.state = 'done';
        else {
          this.missingComma = true;
          this.beginElement(i, c);
        }
        return false;
      case 'before-key':
        if (isJsonWhitespace(c)) return false;
        if (c === CLOSE_BRACE) this.state = 'done';
        else if (c === QUOTE) this.beginKey(i);
        else this.stop(`expected a row key in double quotes, found ${JSON.stringify(chunk[i])}`);
        return false;
      case 'key':
        if (this.escaped) this.escaped = false;
        else if (c === BACKSLASH) this.escaped = true;
        else if (c === QUOTE) this.endKey(chunk, i);
        return false;
      case 'before-colon':
        if (isJsonWhitespace(c)) return false;
        if (c === COLON) this.state = 'before-value';
        else this.stop(`expected ":" after the key ${JSON.stringify(this.key)}, found ${JSON.stringify(chunk[i])}`);
        return false;
      case 'before-value':
        if (isJsonWhitespace(c)) return false;
        this.beginElement(i, c);
        return false;
      case 'after-value':
        if (isJsonWhitespace(c)) return false;
        if (c === COMMA) this.state = 'before-key';
        else if (c === CLOSE_BRACE) this.state = 'done';
        else if (c === QUOTE) {
          this.missingComma = true;
          this.beginKey(i);
        } else this.stop(`expected "," or "}" after the row under key ${JSON.stringify(this.key)}, found ${JSON.stringify(chunk[i])}`);
        return false;
      case 'done':
        if (isJsonWhitespace(c)) return false;
        this.problem('TRAILING_CONTENT', `more content after the end of the top-level JSON value: ${preview(chunk.slice(i, i + 80))}`);
        this.state = 'stopped';
        return false;
      case 'stopped':
        return false;
    }
  }

  private stepElement(chunk: string, i: number, c: number): boolean {
    if (this.inString) {
      if (this.escaped) this.escaped = false;
      else if (c === BACKSLASH) this.escaped = true;
      else if (c === QUOTE) {
        this.inString = false;
        if (this.stack.length === 0) this.finishElement(chunk, i + 1);
      }
      return false;
    }
    if (this.kind === 'literal') {
      if (isJsonWhitespace(c) || c === COMMA || c === CLOSE_BRACKET || c === CLOSE_BRACE) {
        this.finishElement(chunk, i);
        return true;
      }
      return false;
    }
    if (c === QUOTE) this.inString = true;
    else if (c === OPEN_BRACE || c === OPEN_BRACKET) this.stack.push(c);
    else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      // On a mismatched closer, close back to its opener: `{"a": [1, 2}` ends at the "}" (and fails to
      // parse, reported as that row) instead of swallowing the rows after it.
      const opener = c === CLOSE_BRACE ? OPEN_BRACE : OPEN_BRACKET;
      const at = this.stack.lastIndexOf(opener);
      this.stack.length = at === -1 ? this.stack.length - 1 : at;
      if (this.stack.length === 0) this.finishElement(chunk, i + 1);
    }
    return false;
  }

  private beginElement(i: number, c: number): void {
    this.state = 'element';
    this.parts = [];
    this.start = i;
    this.startLine = this.line;
    this.inString = c === QUOTE;
    this.escaped = false;
    this.stack = c === OPEN_BRACE || c === OPEN_BRACKET ? [c] : [];
    this.kind = this.stack.length > 0 ? 'container' : c === QUOTE ? 'string' : 'literal';
    if (this.mode === 'array') this.key = undefined;
  }

  private finishElement(chunk: string, endExclusive: number): void {
    this.parts.push(chunk.slice(this.start, endExclusive));
    this.emitRow(this.parts.join(''));
    this.parts = [];
    this.state = this.mode === 'array' ? 'after-element' : 'after-value';
  }

  private emitRow(text: string): void {
    const keyed = this.key === undefined ? {} : { key: this.key };
    this.events.push({ type: 'row', text, line: this.startLine, missingCommaBefore: this.missingComma, ...keyed });
    this.missingComma = false;
  }

  private beginKey(i: number): void {
    this.state = 'key';
    this.keyParts = [];
    this.start = i + 1;
    this.escaped = false;
  }

  private endKey(chunk: string, i: number): void {
    this.keyParts.push(chunk.slice(this.start, i));
    const raw = this.keyParts.join('');
    try {
      this.key = JSON.parse(`"${raw}"`) as string;
    } catch {
      this.key = raw;
    }
    this.state = 'before-colon';
  }

  private problem(code: ProblemCode, detail: string): void {
    this.events.push({ type: 'problem', code, line: this.line, detail });
  }

  private stop(detail: string): void {
    this.problem('BAD_JSON', `${detail}; the rest of the file cannot be read as rows (every row before this point was read)`);
    this.state = 'stopped';
  }

  private truncated(): void {
    const closer = this.mode === 'array' ? ']' : '}';
    this.problem('TRUNCATED_FILE', `the file ends before the closing "${closer}" of the top-level ${this.mode}`);
  }
}
