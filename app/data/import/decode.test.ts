import { describe, expect, it } from 'vitest';
import { FIXTURES, fixtureBytes } from '../test-support/fixtures.ts';
import { ProblemLog } from '../validate.ts';
import { AutoTextDecoder, scanUtf8 } from './decode.ts';
import type { TextEncodingName } from './types.ts';

/** Decodes bytes fed in chunks of `size` bytes, as an importer would. */
function decodeInChunks(bytes: Uint8Array, size: number, encoding: TextEncodingName | 'auto' = 'auto') {
  const log = new ProblemLog('file.txt');
  const decoder = new AutoTextDecoder(encoding, log);
  let text = '';
  for (let i = 0; i < bytes.length; i += size) text += decoder.decode(bytes.subarray(i, i + size));
  text += decoder.decode(new Uint8Array(0), true);
  return { text, decoder, log };
}

const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);

describe('AutoTextDecoder', () => {
  it('decodes UTF-8 whose multi-byte characters are split across every possible chunk boundary', () => {
    const text = 'Seppälä €5 — 𝄞 naïve\r\nLuleå';
    for (const size of [1, 2, 3, 5, 64]) {
      const result = decodeInChunks(utf8(text), size);
      expect(result.text).toBe(text);
      expect(result.decoder.encoding).toBe('utf-8');
      expect(result.log.report().kinds).toEqual([]);
    }
  });

  it('strips a UTF-8 byte-order mark and says it was there', () => {
    const bytes = new Uint8Array([0xef, 0xbb, 0xbf, ...utf8('text,label\n')]);
    const result = decodeInChunks(bytes, 1);
    expect(result.text).toBe('text,label\n');
    expect(result.decoder.bom).toBe(true);
  });

  it('keeps a U+FEFF in the middle of the text (only a leading one is a BOM)', () => {
    const result = decodeInChunks(utf8('a\uFEFFb'), 1);
    expect(result.text).toBe('a\uFEFFb');
  });

  it('falls back to windows-1252 at the first byte that is not UTF-8, and reports the byte and line', () => {
    // "café" in latin-1 on line 2: 0xE9 followed by a newline is not a UTF-8 sequence.
    const bytes = new Uint8Array([...utf8('name\n'), 0x63, 0x61, 0x66, 0xe9, 0x0a, 0x93, 0x71, 0x94]);
    for (const size of [1, 4, 100]) {
      const { text, decoder, log } = decodeInChunks(bytes, size);
      expect(text).toBe('name\ncafé\n\u201Cq\u201D');
      expect(decoder.encoding).toBe('windows-1252');
      expect(decoder.fallbackAtByte).toBe(8);
      const [kind] = log.report().kinds;
      expect(kind).toMatchObject({ code: 'ENCODING_FALLBACK', severity: 'warning', count: 1, lines: [2] });
      expect(kind?.messages[0]).toMatch(/^file\.txt, line 2: byte 8 \(0xe9\) is not valid UTF-8/);
    }
  });

  it('warns when UTF-8 text was already decoded before the fallback', () => {
    const bytes = new Uint8Array([...utf8('é\n'), 0xe9]);
    const { text, log } = decodeInChunks(bytes, 2);
    expect(text).toBe('é\né');
    expect(log.report().kinds[0]?.messages[0]).toMatch(/1 non-ASCII characters among them/);
  });

  it('treats a multi-byte sequence cut off by the end of the file as not UTF-8', () => {
    const { text, decoder } = decodeInChunks(new Uint8Array([0x61, 0xe2, 0x82]), 1);
    expect(decoder.encoding).toBe('windows-1252');
    expect(text).toBe('a\u00e2\u201a');
  });

  it('replaces bad bytes instead of falling back when the file declares UTF-8 with a BOM', () => {
    const { text, decoder, log } = decodeInChunks(new Uint8Array([0xef, 0xbb, 0xbf, 0x61, 0xff, 0x62]), 2);
    expect(text).toBe('a\uFFFDb');
    expect(decoder.encoding).toBe('utf-8');
    expect(log.report().kinds[0]).toMatchObject({ code: 'INVALID_UTF8', count: 1 });
  });

  it('decodes UTF-16 little- and big-endian files by their BOM', () => {
    const le = new Uint8Array([0xff, 0xfe, 0x68, 0x00, 0xe9, 0x00, 0x0a, 0x00]);
    const be = new Uint8Array([0xfe, 0xff, 0x00, 0x68, 0x00, 0xe9, 0x00, 0x0a]);
    expect(decodeInChunks(le, 1)).toMatchObject({ text: 'hé\n', decoder: { encoding: 'utf-16le', bom: true } });
    expect(decodeInChunks(be, 3)).toMatchObject({ text: 'hé\n', decoder: { encoding: 'utf-16be', bom: true } });
  });

  it('decodes windows-1252 by the WHATWG table, the same in one piece or byte by byte', () => {
    const bytes = new Uint8Array([0x80, 0x85, 0x8a, 0x91, 0x92, 0x96, 0x99, 0x9f, 0x81, 0xa0, 0xff]);
    const expected = '\u20AC\u2026\u0160\u2018\u2019\u2013\u2122\u0178\u0081\u00A0\u00FF';
    expect(decodeInChunks(bytes, 100, 'windows-1252').text).toBe(expected);
    expect(decodeInChunks(bytes, 1, 'windows-1252').text).toBe(expected);
  });

  it('uses the encoding the user chose', () => {
    const { text, decoder, log } = decodeInChunks(new Uint8Array([0x63, 0x61, 0x66, 0xc3, 0xa9]), 2, 'windows-1252');
    expect(text).toBe('cafÃ©');
    expect(decoder.encoding).toBe('windows-1252');
    expect(log.report().kinds).toEqual([]);
  });

  it('finds the Financial PhraseBank fixture to be valid UTF-8 (its "+ñ" artefacts are in the data itself)', () => {
    const { text, decoder, log } = decodeInChunks(fixtureBytes(FIXTURES.fpb), 65536);
    expect(decoder.encoding).toBe('utf-8');
    expect(log.report().kinds).toEqual([]);
    expect(text).toContain("Clothing retail chain Sepp+ñl+ñ 's sales increased");
  });
});

describe('scanUtf8', () => {
  it('rejects overlong forms, surrogates and code points above U+10FFFF', () => {
    expect(scanUtf8(new Uint8Array([0xc0, 0xaf]), true).invalidAt).toBe(0);
    expect(scanUtf8(new Uint8Array([0xe0, 0x80, 0xaf]), true).invalidAt).toBe(0);
    expect(scanUtf8(new Uint8Array([0xed, 0xa0, 0x80]), true).invalidAt).toBe(0);
    expect(scanUtf8(new Uint8Array([0xf4, 0x90, 0x80, 0x80]), true).invalidAt).toBe(0);
    expect(scanUtf8(new Uint8Array([0x41, 0xf0, 0x9f, 0x98, 0x80]), true)).toMatchObject({ invalidAt: undefined, validLength: 5, nonAscii: 1 });
  });

  it('leaves an incomplete sequence at the end for the next chunk', () => {
    expect(scanUtf8(new Uint8Array([0x41, 0xe2, 0x82]), false)).toMatchObject({ validLength: 1, invalidAt: undefined });
  });
});
