/**
 * A hash that changes whenever the model's tokenization could: tokenizer.json (vocabulary, merges,
 * normalizer), tokenizer_config.json (BOS/EOS, chat template), chat_template.jinja, and the files the
 * EOS ids come from (generation_config.json, config.json). Each file present is hashed with its name
 * and length, so moving bytes from one file to another changes the identity too.
 */
import type { ModelFiles } from '../../model/source.ts';
import { sha256Hex } from './hash.ts';

export const TOKENIZER_IDENTITY_FILES = ['tokenizer.json', 'tokenizer_config.json', 'chat_template.jinja', 'generation_config.json', 'config.json'] as const;

export async function tokenizerIdentity(files: Pick<ModelFiles, 'has' | 'open'>): Promise<string> {
  const parts: Uint8Array[] = [];
  const encoder = new TextEncoder();
  for (const name of TOKENIZER_IDENTITY_FILES) {
    if (!files.has(name)) continue;
    const bytes = new Uint8Array(await (await files.open(name)).arrayBuffer());
    parts.push(encoder.encode(`${name}\0${bytes.byteLength}\0`), bytes);
  }
  const joined = new Uint8Array(parts.reduce((sum, part) => sum + part.byteLength, 0));
  let offset = 0;
  for (const part of parts) {
    joined.set(part, offset);
    offset += part.byteLength;
  }
  return `sha256:${await sha256Hex(joined)}`;
}
