/**
 * Text from bytes, chunk by chunk, for files whose encoding nobody wrote down. A byte-order mark
 * decides when there is one. Otherwise the bytes are checked as UTF-8; at the first byte that is not
 * valid UTF-8 the rest of the file is decoded as windows-1252 (the WHATWG meaning of "latin1", and what
 * spreadsheet exports on Windows usually are), and that is reported with its byte offset and line. Every
 * byte decodes to some character in windows-1252, so the import never fails on encoding alone.
 */
import type { ProblemLog } from '../validate.ts';
import type { TextEncodingName } from './types.ts';

export class AutoTextDecoder {
  /** The encoding in use now; after a fallback, the one the rest of the file was decoded with. */
  encoding: TextEncodingName = 'utf-8';
  bom = false;
  /** Byte offset of the first byte that was not UTF-8, when the decoder fell back to windows-1252. */
  fallbackAtByte: number | undefined;

  private readonly requested: TextEncodingName | 'auto';
  private readonly problems: ProblemLog;
  private started = false;
  private head: Uint8Array = new Uint8Array(0);
  private pending: Uint8Array = new Uint8Array(0);
  private bytesDone = 0;
  private linesDone = 0;
  private nonAsciiDecoded = 0;
  private streaming: ChunkDecoder | undefined;

  constructor(requested: TextEncodingName | 'auto', problems: ProblemLog) {
    this.requested = requested;
    this.problems = problems;
  }

  /** Decodes the next chunk; pass `final` with the last one (an empty chunk is fine) to flush. */
  decode(chunk: Uint8Array, final = false): string {
    let bytes = chunk;
    if (!this.started) {
      // A BOM is up to 3 bytes and may straddle chunks: wait until 3 bytes (or the end) are here.
      bytes = concatBytes(this.head, chunk);
      if (bytes.byteLength < 3 && !final) {
        this.head = bytes;
        return '';
      }
      this.started = true;
      bytes = this.start(bytes);
    }
    if (this.streaming) return this.streaming.decode(bytes, { stream: !final });
    return this.decodeCheckedUtf8(bytes, final);
  }

  private start(bytes: Uint8Array): Uint8Array {
    const bom = detectBom(bytes);
    if (bom) {
      this.bom = true;
      this.encoding = bom.encoding;
      if (bom.encoding !== 'utf-8') {
        // A UTF-16 BOM wins even over an explicit choice: the bytes cannot be anything else.
        this.streaming = new TextDecoder(bom.encoding, { ignoreBOM: true });
        return bytes.subarray(bom.length);
      }
      bytes = bytes.subarray(bom.length);
      this.bytesDone = bom.length;
    }
    if (this.requested !== 'auto' && this.requested !== 'utf-8') {
      this.encoding = this.requested;
      this.streaming = chunkDecoder(this.requested);
    }
    return bytes;
  }

  /** UTF-8, validated as it goes; with a BOM or an explicit utf-8 a bad byte is replaced, not a fallback. */
  private decodeCheckedUtf8(chunk: Uint8Array, final: boolean): string {
    const bytes = concatBytes(this.pending, chunk);
    const scan = scanUtf8(bytes, final);
    const valid = bytes.subarray(0, scan.validLength);
    let text = utf8.decode(valid);
    this.nonAsciiDecoded += scan.nonAscii;
    this.linesDone += scan.newlines;
    if (scan.invalidAt === undefined) {
      this.pending = bytes.slice(scan.validLength);
      this.bytesDone += scan.validLength;
      return text;
    }
    const offset = this.bytesDone + scan.invalidAt;
    const rest = bytes.subarray(scan.invalidAt);
    this.pending = new Uint8Array(0);
    if (this.bom || this.requested === 'utf-8') {
      // Reported once: from here on a replacing decoder takes over.
      this.problems.add('INVALID_UTF8', { line: this.linesDone + 1 }, `byte ${offset} is not valid UTF-8 though the file is declared UTF-8; such bytes were replaced with U+FFFD`);
      this.streaming = new TextDecoder('utf-8', { ignoreBOM: true });
      return text + this.streaming.decode(rest, { stream: !final });
    }
    this.fallbackAtByte = offset;
    this.encoding = 'windows-1252';
    this.streaming = windows1252;
    const before =
      this.nonAsciiDecoded > 0
        ? ` The ${offset} bytes before it were valid UTF-8 and were decoded as UTF-8 (${this.nonAsciiDecoded} non-ASCII characters among them); if those look wrong, choose windows-1252 yourself.`
        : '';
    this.problems.add(
      'ENCODING_FALLBACK',
      { line: this.linesDone + 1 },
      `byte ${offset} (0x${(rest[0] ?? 0).toString(16).padStart(2, '0')}) is not valid UTF-8; the file was decoded as windows-1252 (latin-1) from there on.${before}`,
    );
    text += this.streaming.decode(rest, { stream: !final });
    return text;
  }
}

const utf8 = new TextDecoder('utf-8', { ignoreBOM: true });

interface ChunkDecoder {
  decode(bytes: Uint8Array, options?: { stream?: boolean }): string;
}

function chunkDecoder(encoding: TextEncodingName): ChunkDecoder {
  return encoding === 'windows-1252' ? windows1252 : new TextDecoder(encoding, { ignoreBOM: true });
}

/**
 * windows-1252 as the WHATWG Encoding Standard defines it: bytes 0x80-0x9F are the typographic
 * characters (€ ‚ “ ” …), the five unassigned ones stay C1 controls, and every other byte is its own
 * code point. Written out because Node 20's TextDecoder('windows-1252') decodes a non-streaming call
 * as ISO-8859-1 (0x93 becomes U+0093 instead of “), and both runtimes must give the same text.
 */
const WINDOWS_1252_HIGH = [
  0x20ac, 0x81, 0x201a, 0x192, 0x201e, 0x2026, 0x2020, 0x2021, 0x2c6, 0x2030, 0x160, 0x2039, 0x152, 0x8d, 0x17d, 0x8f,
  0x90, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014, 0x2dc, 0x2122, 0x161, 0x203a, 0x153, 0x9d, 0x17e, 0x178,
];

const windows1252: ChunkDecoder = {
  decode(bytes: Uint8Array): string {
    const codes = new Uint16Array(bytes.length);
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i]!;
      codes[i] = b >= 0x80 && b < 0xa0 ? WINDOWS_1252_HIGH[b - 0x80]! : b;
    }
    let text = '';
    for (let i = 0; i < codes.length; i += 8192) text += String.fromCharCode(...codes.subarray(i, i + 8192));
    return text;
  },
};

function detectBom(bytes: Uint8Array): { encoding: TextEncodingName; length: number } | undefined {
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) return { encoding: 'utf-8', length: 3 };
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return { encoding: 'utf-16le', length: 2 };
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return { encoding: 'utf-16be', length: 2 };
  return undefined;
}

export interface Utf8Scan {
  /** Bytes from the start that are complete, valid UTF-8. */
  validLength: number;
  /** Offset of the first invalid byte, if any (an incomplete sequence at the very end is invalid only when final). */
  invalidAt: number | undefined;
  nonAscii: number;
  newlines: number;
}

/**
 * Validates UTF-8 by the rules of the Unicode standard (table 3-7): no overlong forms, no surrogates,
 * nothing above U+10FFFF. Without `final`, an incomplete sequence at the end is left for the next chunk.
 */
export function scanUtf8(bytes: Uint8Array, final: boolean): Utf8Scan {
  let i = 0;
  let nonAscii = 0;
  let newlines = 0;
  const n = bytes.length;
  while (i < n) {
    const b0 = bytes[i]!;
    if (b0 < 0x80) {
      if (b0 === 0x0a) newlines++;
      i++;
      continue;
    }
    let length: number;
    let low = 0x80;
    let high = 0xbf;
    if (b0 >= 0xc2 && b0 <= 0xdf) length = 2;
    else if (b0 >= 0xe0 && b0 <= 0xef) {
      length = 3;
      if (b0 === 0xe0) low = 0xa0;
      if (b0 === 0xed) high = 0x9f;
    } else if (b0 >= 0xf0 && b0 <= 0xf4) {
      length = 4;
      if (b0 === 0xf0) low = 0x90;
      if (b0 === 0xf4) high = 0x8f;
    } else {
      return { validLength: i, invalidAt: i, nonAscii, newlines };
    }
    for (let k = 1; k < length; k++) {
      if (i + k >= n) {
        return final ? { validLength: i, invalidAt: i, nonAscii, newlines } : { validLength: i, invalidAt: undefined, nonAscii, newlines };
      }
      const b = bytes[i + k]!;
      const lo = k === 1 ? low : 0x80;
      const hi = k === 1 ? high : 0xbf;
      if (b < lo || b > hi) return { validLength: i, invalidAt: i, nonAscii, newlines };
    }
    nonAscii++;
    i += length;
  }
  return { validLength: n, invalidAt: undefined, nonAscii, newlines };
}

function concatBytes(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.byteLength === 0) return b;
  if (b.byteLength === 0) return a;
  const out = new Uint8Array(a.byteLength + b.byteLength);
  out.set(a, 0);
  out.set(b, a.byteLength);
  return out;
}
