import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fixturePath as modelFixturePath } from '../../../test/fixtures.ts';
import { filesFromDirectory } from '../../model/node-source.ts';
import type { ModelFiles } from '../../model/source.ts';
import { openFileStorage, writeRawItemFile } from '../../store/fs.ts';
import type { Json, Storage } from '../../store/storage.ts';
import type { Example } from '../example.ts';
import { fixtureBytes, FIXTURES } from '../test-support/fixtures.ts';
import { loadOrTokenizeTask, TOKENIZED_KEY_PREFIX, tokenizationCacheKey, type CachedTokenizedTask, type TokenizationCacheKey } from './cache.ts';
import { contentHash, sha256Hex } from './hash.ts';
import { fixtureTokenizer, gsm8kExamples, MODEL_DIR } from './test-support.ts';
import { tokenizerIdentity } from './tokenizer-identity.ts';
import type { TokenizedExample } from './types.ts';

const plain = (examples: readonly TokenizedExample[]) =>
  examples.map((example) => ({ ...example, inputIds: Array.from(example.inputIds), labels: Array.from(example.labels), turnIndex: Array.from(example.turnIndex) }));

describe('the tokenization cache', () => {
  let root: string;
  let storage: Storage;
  let key: TokenizationCacheKey;
  let examples: Example[];
  let imports: number;

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'cocktail-tokenize-'));
    storage = await openFileStorage(root);
    examples = (await gsm8kExamples()).slice(0, 40);
    imports = 0;
    key = {
      source: await contentHash(fixtureBytes(FIXTURES.gsm8kTrain)),
      preparation: { mapping: { format: 'question-answer', extractor: 'gsm8k' }, split: 'train', rows: 40 },
      tokenizer: await tokenizerIdentity(await filesFromDirectory(modelFixturePath(MODEL_DIR))),
      options: { template: { kind: 'plain', name: 'alpaca' }, maxLength: 256 },
    };
  });

  afterEach(async () => {
    await storage.close();
    await rm(root, { recursive: true, force: true });
  });

  const load = async (overrides: Partial<TokenizationCacheKey> = {}, store: Storage = storage): Promise<CachedTokenizedTask> =>
    loadOrTokenizeTask({
      storage: store,
      key: { ...key, ...overrides },
      tokenizer: await fixtureTokenizer(),
      task: 'train.jsonl',
      examples: () => {
        imports++;
        return examples;
      },
    });

  it('tokenizes on a miss, and on a reload returns identical arrays without importing or tokenizing again', async () => {
    const first = await load();
    expect(first.outcome).toBe('miss');
    expect(first.key.startsWith(TOKENIZED_KEY_PREFIX)).toBe(true);
    const second = await load();
    expect(second.outcome).toBe('hit');
    expect(imports).toBe(1);
    expect(plain(second.task.examples)).toEqual(plain(first.task.examples));
    expect(second.task.report).toEqual(first.task.report);
    expect(second.task.options).toEqual(first.task.options);
    expect(second.statistics).toEqual(first.statistics);
    expect(first.task.report.truncatedExamples).toBeGreaterThan(0);
    const info = await storage.getInfo<{ statistics: Json }>('datasets', first.key);
    expect(info?.meta.statistics).toEqual({ ...first.statistics });
  });

  it('misses when an option, the template, the tokenizer, the source or the preparation changes', async () => {
    const base = await load();
    const changes: Partial<TokenizationCacheKey>[] = [
      { options: { ...key.options, maxLength: 512 } },
      { options: { ...key.options, trainOnPrompts: true } },
      { options: { ...key.options, truncationSide: 'right' } },
      { options: { ...key.options, appendEos: false } },
      { options: { ...key.options, template: { kind: 'plain', name: 'question-answer' } } },
      { tokenizer: 'sha256:another-tokenizer' },
      { source: 'sha256:another-file' },
      { preparation: { mapping: { format: 'question-answer', extractor: 'gsm8k' }, split: 'validation', rows: 40 } },
    ];
    const keys = new Set([base.key]);
    for (const change of changes) {
      const result = await load(change);
      expect(result.outcome).toBe('miss');
      keys.add(result.key);
    }
    expect(keys.size).toBe(changes.length + 1);
    expect(imports).toBe(changes.length + 1);
    expect((await load({ options: { ...key.options, maxLength: 512 } })).outcome).toBe('hit');
  });

  it('keys by meaning, not spelling: defaults written out and keys in another order give the same key', async () => {
    const spelledOut = await tokenizationCacheKey({
      ...key,
      preparation: { rows: 40, split: 'train', mapping: { extractor: 'gsm8k', format: 'question-answer' } },
      options: { truncationSide: 'auto', appendEos: true, trainOnPrompts: false, maxLength: 256, template: { name: 'alpaca', kind: 'plain' } },
    });
    expect(spelledOut).toBe(await tokenizationCacheKey(key));
  });

  it('refuses arrays that do not match their checksum, rebuilds them, and then hits again', async () => {
    const first = await load();
    const bytes = (await storage.getBytes('datasets', first.key))!.slice();
    bytes[bytes.byteLength - 5]! ^= 0x01;
    await storage.put('datasets', first.key, (await storage.getInfo('datasets', first.key))!.meta, bytes);

    const rebuilt = await load();
    expect(rebuilt.outcome).toBe('rebuilt');
    expect(rebuilt.refused).toMatch(/do not match their checksum/);
    expect(plain(rebuilt.task.examples)).toEqual(plain(first.task.examples));
    expect((await load()).outcome).toBe('hit');
    expect(imports).toBe(2);
  });

  it('refuses arrays that match a forged checksum but do not decode', async () => {
    const first = await load();
    const bytes = (await storage.getBytes('datasets', first.key))!.slice();
    new Int32Array(bytes.buffer)[5] = 99; // the first token offset must be 0
    const meta = (await storage.getInfo<{ [name: string]: Json }>('datasets', first.key))!.meta;
    await storage.put('datasets', first.key, { ...meta, sha256: await sha256Hex(bytes) }, bytes);
    const rebuilt = await load();
    expect(rebuilt.outcome).toBe('rebuilt');
    expect(rebuilt.refused).toMatch(/token offsets do not run from 0/);
  });

  it('rebuilds an item that storage cannot read back (a torn file) or that another version wrote', async () => {
    const first = await load();
    await writeRawItemFile(root, 'datasets', first.key, new Uint8Array([1, 2, 3]));
    const torn = await load();
    expect(torn.outcome).toBe('rebuilt');
    expect(torn.refused).toMatch(/not a Cocktail Studio storage item/);

    const meta = (await storage.getInfo<{ [name: string]: Json }>('datasets', first.key))!.meta;
    await storage.put('datasets', first.key, { ...meta, version: 0 }, (await storage.getBytes('datasets', first.key))!);
    const old = await load();
    expect(old.outcome).toBe('rebuilt');
    expect(old.refused).toMatch(/not a tokenized task of version 1/);
    expect(plain(old.task.examples)).toEqual(plain(first.task.examples));
  });

  it('still returns the tokenized task when it cannot be stored, and says why', async () => {
    // The real storage for reads; every write fails as a full disk would.
    const full: Storage = Object.assign(Object.create(storage) as Storage, { put: async () => Promise.reject(new Error('QuotaExceededError: the disk is full')) });
    const result = await load({}, full);
    expect(result).toMatchObject({ outcome: 'miss', notStored: 'QuotaExceededError: the disk is full' });
    expect(result.task.examples).toHaveLength(40);
  });
});

describe('the tokenizer identity', () => {
  const withFile = (files: ModelFiles, path: string, text: string): ModelFiles => ({
    ...files,
    has: (name) => name === path || files.has(name),
    open: async (name) => (name === path ? new Blob([text]) : files.open(name)),
  });

  it('is stable for the same files and changes with any file that shapes tokenization', async () => {
    const files = await filesFromDirectory(modelFixturePath(MODEL_DIR));
    const identity = await tokenizerIdentity(files);
    expect(identity).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(await tokenizerIdentity(files)).toBe(identity);
    const config = await (await files.open('tokenizer_config.json')).text();
    const changed = [
      withFile(files, 'tokenizer_config.json', config.replace('"</s>"', '"<unk>"')),
      withFile(files, 'chat_template.jinja', '{{ messages[0].content }}'),
      withFile(files, 'generation_config.json', '{"eos_token_id": 0}'),
    ];
    for (const other of changed) expect(await tokenizerIdentity(other)).not.toBe(identity);
  });
});
