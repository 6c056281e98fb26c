/**
 * Records of delimited text (CSV, TSV, or any one-character separator such as FPB's "@"), RFC 4180
 * style: a field that starts with the quote character runs to the matching quote and may hold
 * delimiters, line breaks and doubled quotes; records end at "\n", "\r\n" or "\r". Like Python's csv
 * module, malformed quoting is read leniently (a stray quote stays a literal character) but flagged, so
 * the importer can report it. Text arrives in chunks; quotes or a "\r" at the end of a chunk wait for
 * the next one, because their meaning depends on the character after them.
 */
import { DataError } from '../errors.ts';

export interface DelimitedDialect {
  delimiter: string;
  /** The quote character, or null when quotes are ordinary characters. */
  quote: string | null;
}

export interface ParsedRecord {
  fields: string[];
  /** 1-based line where the record starts. */
  line: number;
  /** A line with nothing on it (or only spaces): not a record at all. */
  blank: boolean;
  /** A quote appeared inside an unquoted field, or text followed a closing quote. */
  strayQuote: boolean;
  /** Set on the last record when a quoted field never closed: the line where that quote opened. */
  unclosedQuoteLine?: number;
  /** Set with unclosedQuoteLine: the last line of the file, so the message can say how much was swallowed. */
  endLine?: number;
}

export function checkDialect(dialect: DelimitedDialect): void {
  const { delimiter, quote } = dialect;
  if (delimiter.length !== 1 || delimiter === '\r' || delimiter === '\n') {
    throw new DataError('DATA_BAD_MAPPING', `The delimiter must be one character other than a line break, got ${JSON.stringify(delimiter)}.`, { delimiter });
  }
  if (quote !== null && (quote.length !== 1 || quote === delimiter || quote === '\r' || quote === '\n')) {
    throw new DataError('DATA_BAD_MAPPING', `The quote must be one character, different from the delimiter, got ${JSON.stringify(quote)}.`, { quote });
  }
}

export class DelimitedParser {
  private readonly delimiter: string;
  private readonly quote: string | null;
  private readonly special: RegExp;
  private carry = '';
  private records: ParsedRecord[] = [];
  private fields: string[] = [];
  private field = '';
  private fieldQuoted = false;
  private inQuotes = false;
  private afterClosingQuote = false;
  private strayQuote = false;
  private quoteLine = 0;
  private line = 1;
  private recordLine = 1;

  constructor(dialect: DelimitedDialect) {
    checkDialect(dialect);
    this.delimiter = dialect.delimiter;
    this.quote = dialect.quote;
    const specials = [dialect.delimiter, ...(dialect.quote === null ? [] : [dialect.quote])].map(escapeForCharacterClass).join('');
    this.special = new RegExp(`[${specials}\\r\\n]`, 'g');
  }

  push(chunk: string): ParsedRecord[] {
    this.records = [];
    let text = this.carry + chunk;
    this.carry = '';
    let keep = text.length;
    if (text[keep - 1] === '\r') keep--;
    // A run of quotes is carried whole: whether each one escapes the next depends on the run's end.
    else if (this.quote !== null) while (keep > 0 && text[keep - 1] === this.quote) keep--;
    this.carry = text.slice(keep);
    text = text.slice(0, keep);
    this.scan(text);
    return this.records;
  }

  end(): ParsedRecord[] {
    this.records = [];
    this.scan(this.carry);
    this.carry = '';
    if (this.inQuotes) {
      this.fields.push(this.field);
      this.records.push({
        fields: this.fields,
        line: this.recordLine,
        blank: false,
        strayQuote: this.strayQuote,
        unclosedQuoteLine: this.quoteLine,
        endLine: this.line,
      });
      this.inQuotes = false;
    } else if (this.fields.length > 0 || this.field !== '' || this.fieldQuoted) {
      this.endRecord();
    }
    return this.records;
  }

  private scan(text: string): void {
    const quote = this.quote;
    let i = 0;
    while (i < text.length) {
      if (this.inQuotes && quote !== null) {
        const j = text.indexOf(quote, i);
        if (j === -1) {
          this.field += text.slice(i);
          this.line += countLineBreaks(text, i, text.length);
          return;
        }
        this.field += text.slice(i, j);
        this.line += countLineBreaks(text, i, j);
        if (text[j + 1] === quote) {
          this.field += quote;
          i = j + 2;
        } else {
          this.inQuotes = false;
          this.afterClosingQuote = true;
          i = j + 1;
        }
        continue;
      }
      this.special.lastIndex = i;
      const match = this.special.exec(text);
      const j = match ? match.index : text.length;
      if (j > i) {
        if (this.afterClosingQuote) this.strayQuote = true;
        this.field += text.slice(i, j);
      }
      if (!match) return;
      const c = text[j];
      if (c === this.delimiter) {
        this.endField();
        i = j + 1;
      } else if (c === quote) {
        if (this.field === '' && !this.fieldQuoted) {
          this.inQuotes = true;
          this.fieldQuoted = true;
          this.quoteLine = this.line;
        } else {
          this.field += c;
          this.strayQuote = true;
        }
        i = j + 1;
      } else {
        this.endRecord();
        i = c === '\r' && text[j + 1] === '\n' ? j + 2 : j + 1;
        this.line++;
        this.recordLine = this.line;
      }
    }
  }

  private endField(): void {
    this.fields.push(this.field);
    this.field = '';
    this.fieldQuoted = false;
    this.afterClosingQuote = false;
  }

  private endRecord(): void {
    const blank = this.fields.length === 0 && !this.fieldQuoted && this.field.trim() === '';
    this.endField();
    this.records.push({ fields: this.fields, line: this.recordLine, blank, strayQuote: this.strayQuote });
    this.fields = [];
    this.strayQuote = false;
  }
}

/** Line breaks in text[from, to): "\n", "\r\n" and a lone "\r" each count once. */
function countLineBreaks(text: string, from: number, to: number): number {
  let count = 0;
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (c === 10) count++;
    else if (c === 13 && text.charCodeAt(i + 1) !== 10) count++;
  }
  return count;
}

function escapeForCharacterClass(c: string): string {
  return /[\\\]^-]/.test(c) ? `\\${c}` : c;
}
