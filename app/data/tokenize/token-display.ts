/**
 * A vocabulary piece as a person should read it. SentencePiece-style vocabularies (Llama, the fixture)
 * write a space as "▁" and unknown bytes as "<0x0A>"; byte-level BPE vocabularies (GPT-2, Qwen,
 * SmolLM) write every byte as a printable character ("Ġ" for a space, "Ċ" for a newline). Both become
 * the text they stand for; a byte that is only part of a character stays "<0xE2>".
 */
import type { TextTokenizer } from '../../model/tokenizer.ts';

export type TokenDisplayStyle = 'sentencepiece' | 'byte-level';

/** Byte-level vocabularies spell the space of " a" as "Ġ"; SentencePiece ones as "▁". */
export function tokenDisplayStyle(tokenizer: Pick<TextTokenizer, 'encode' | 'idToToken'>): TokenDisplayStyle {
  const pieces = tokenizer.encode(' a b', { addSpecialTokens: false }).map((id) => tokenizer.idToToken(id) ?? '');
  return pieces.some((piece) => piece.includes(BYTE_TO_CHAR[0x20]!)) ? 'byte-level' : 'sentencepiece';
}

export function displayToken(piece: string, style: TokenDisplayStyle): string {
  return style === 'byte-level' ? displayByteLevel(piece) : displaySentencePiece(piece);
}

const BYTE_PIECE = /^<0x([0-9A-Fa-f]{2})>$/;

function displaySentencePiece(piece: string): string {
  const byte = BYTE_PIECE.exec(piece);
  if (byte) {
    const value = Number.parseInt(byte[1]!, 16);
    return value < 0x80 ? String.fromCharCode(value) : piece;
  }
  return piece.replaceAll('▁', ' ');
}

function displayByteLevel(piece: string): string {
  const bytes: number[] = [];
  for (const char of piece) {
    const byte = CHAR_TO_BYTE.get(char);
    if (byte === undefined) return piece; // not a byte-level piece (an added token such as <|im_start|>)
    bytes.push(byte);
  }
  try {
    return UTF8.decode(Uint8Array.from(bytes));
  } catch {
    return bytes.map((byte) => (byte >= 0x20 && byte < 0x7f ? String.fromCharCode(byte) : `<0x${byte.toString(16).toUpperCase().padStart(2, '0')}>`)).join('');
  }
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** GPT-2's bytes_to_unicode: printable Latin-1 bytes stand for themselves, the rest map to U+0100 onwards. */
const BYTE_TO_CHAR: readonly string[] = (() => {
  const chars: string[] = [];
  let next = 256;
  for (let byte = 0; byte < 256; byte++) {
    const printable = (byte >= 0x21 && byte <= 0x7e) || (byte >= 0xa1 && byte <= 0xac) || (byte >= 0xae && byte <= 0xff);
    chars.push(String.fromCharCode(printable ? byte : next++));
  }
  return chars;
})();

const CHAR_TO_BYTE: ReadonlyMap<string, number> = new Map(BYTE_TO_CHAR.map((char, byte) => [char, byte]));
