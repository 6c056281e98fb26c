import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { referenceBpeEncode } from '../../test/bpe-reference.ts';
import { fixturePath } from '../../test/fixtures.ts';
import { parseModelConfig } from './config.ts';
import { filesFromDirectory } from './node-source.ts';
import { createTokenizer, loadTokenizer } from './tokenizer.ts';

const load = async () => {
  const dir = fixturePath('models/aidreams260K');
  const config = parseModelConfig(JSON.parse(await readFile(`${dir}/config.json`, 'utf8')));
  return loadTokenizer(await filesFromDirectory(dir), config);
};

const TEXTS = [
  'Once upon a time, the AI dreamed of electric sheep.',
  'The robot   walked\ninto the garden and saw the stars!',
  'Naïve café owners earn €5 — or 🤖?',
  'a',
  'Revenue rose 12% to $3.4bn in Q3, beating estimates.',
];

describe('tokenizer of the real aidreams260K model', () => {
  it('knows BOS, EOS and the vocabulary size from the model files', async () => {
    const tokenizer = await load();
    expect(tokenizer.bosId).toBe(1);
    expect(tokenizer.eosIds).toEqual([2]);
    expect(tokenizer.vocabSize).toBe(512);
  });

  for (const text of TEXTS) {
    it(`encodes ${JSON.stringify(text)} exactly as an independent BPE implementation does, BOS first`, async () => {
      const tokenizer = await load();
      const json = JSON.parse(await readFile(fixturePath('models/aidreams260K/tokenizer.json'), 'utf8'));
      expect(tokenizer.encode(text)).toEqual(referenceBpeEncode(json, text, 1));
    });
  }

  it('decodes what it encoded back to the text, byte-fallback characters included', async () => {
    const tokenizer = await load();
    for (const text of TEXTS) expect(tokenizer.decode(tokenizer.encode(text), { skipSpecialTokens: true })).toBe(text);
  });

  it('leaves BOS out when asked for no special tokens', async () => {
    const tokenizer = await load();
    expect(tokenizer.encode('hello', { addSpecialTokens: false })[0]).not.toBe(1);
  });

  it('decodes the fixture’s greedy continuation: its vocabulary pieces with ▁ as spaces, the leading one stripped', async () => {
    const tokenizer = await load();
    // Read off tokenizer.json, the eight pieces together spell ▁"Echoes▁of▁vect.
    expect(tokenizer.decode([319, 459, 355, 260, 275, 429, 339, 315])).toBe('"Echoes of vect');
  });

  it('says the model has no chat template when it has none', async () => {
    const tokenizer = await load();
    expect(tokenizer.hasChatTemplate).toBe(false);
    expect(() => tokenizer.applyChatTemplate([{ role: 'user', content: 'hi' }])).toThrow(/has no chat template/);
  });

  it('renders a chat template with the model’s special tokens, as transformers does', async () => {
    const json = JSON.parse(await readFile(fixturePath('models/aidreams260K/tokenizer.json'), 'utf8'));
    const tokenizer = createTokenizer(json, {
      bos_token: '<s>',
      eos_token: '</s>',
      // The Zephyr/TinyLlama-chat style template.
      chat_template: "{% for message in messages %}{{ '<|' + message['role'] + '|>\\n' + message['content'] + eos_token + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% endif %}",
    });
    const rendered = tokenizer.applyChatTemplate([{ role: 'user', content: 'Is this bullish?' }], { addGenerationPrompt: true });
    expect(rendered).toBe('<|user|>\nIs this bullish?</s>\n<|assistant|>\n');
  });
});
