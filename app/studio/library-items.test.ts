import { describe, expect, it } from 'vitest';
import type { ItemInfo, Json } from '../store/storage.ts';
import { checkpointKey } from '../train/checkpoint.ts';
import { adapterItems, checkedName, groupDatasetItems, groupModelItems, latestRunAdapter, MAX_NAME_LENGTH, peftZipName, runBelongings, safeFileName } from './library-items.ts';

const item = (key: string, meta: Json, size = 0, updatedAt = 1): ItemInfo => ({ key, meta, size, updatedAt });
const manifest = (complete: boolean, size: number | null = 100) => ({ url: 'http://hub/x', size, chunkBytes: 8, chunks: 1, complete });

describe('groupModelItems', () => {
  const prefix = 'hub/owner/tiny@main/';
  const infos = [
    item(`${prefix}config.json`, manifest(true)),
    item(`${prefix}config.json#000000`, { bytes: 600 }, 600),
    item(`${prefix}model.safetensors`, manifest(true)),
    item(`${prefix}model.safetensors#000000`, { bytes: 8000 }, 8000),
    item(`${prefix}model.safetensors#000001`, { bytes: 2000 }, 2000),
    item(`${prefix}chat_template.jinja`, { url: 'absent', size: null, chunkBytes: 8, chunks: 0, complete: false }),
    item('hub/owner/tiny@v2/config.json', manifest(false)),
    item('hub/owner/tiny@v2/config.json#000000', { bytes: 10 }, 10),
    item('hub/local/my-model@local/config.json', { ...manifest(true), url: 'local' }),
    item('hub/local/my-model@local/config.json#000000', { bytes: 500 }, 500),
    item('hub/local/my-model@local/model.safetensors', { ...manifest(true), url: 'local' }),
    item('hub/local/my-model@local/model.safetensors#000000', { bytes: 4000 }, 4000),
    item('hub/local/my-model@local/tokenizer_config.json', { url: 'absent', size: null, chunkBytes: 8, chunks: 0, complete: false }),
  ];

  it('makes one item per repository and revision, with its manifests and chunks and their total size', () => {
    const [local, tiny, tinyV2] = groupModelItems(infos);
    expect(tiny).toMatchObject({ prefix, kind: 'hub', label: 'owner/tiny@main', source: 'owner/tiny', revision: 'main', files: 2, bytes: 10600, complete: true });
    expect(tiny!.keys).toHaveLength(6);
    expect(tinyV2).toMatchObject({ label: 'owner/tiny@v2', files: 1, bytes: 10, complete: false });
    expect(local).toMatchObject({ prefix: 'hub/local/my-model@local/', kind: 'local', label: 'local/my-model', source: 'local/my-model', revision: 'local', files: 2, bytes: 4500, complete: true });
  });

  it('does not count an optional file the repository lacks, nor let it mark the download incomplete', () => {
    const [, tiny] = groupModelItems(infos);
    expect(tiny!.files).toBe(2);
    expect(tiny!.complete).toBe(true);
  });

  it('handles repository ids without an owner', () => {
    expect(groupModelItems([item('hub/gpt2@main/config.json', manifest(true))])[0]).toMatchObject({ source: 'gpt2', revision: 'main' });
  });
});

describe('groupDatasetItems', () => {
  it('lists imported files with their rows and folds caches into one line per kind', () => {
    const { files, hubSplits, caches } = groupDatasetItems([
      item('file/tweets.csv', { name: 'tweets.csv', rows: 9543, format: 'csv', importedAt: 5 }, 900, 7),
      item('file/fpb.txt', { name: 'fpb.txt', rows: 4846, format: 'text' }, 700),
      item('tokenized/abc', { kind: 'tokenized-task' }, 300),
      item('tokenized/def', { kind: 'tokenized-task' }, 200),
      item('rows/123', { version: 1 }, 50),
    ]);
    expect(files).toEqual([
      { key: 'file/fpb.txt', name: 'fpb.txt', rows: 4846, format: 'text', bytes: 700, updatedAt: 1 },
      { key: 'file/tweets.csv', name: 'tweets.csv', rows: 9543, format: 'csv', bytes: 900, updatedAt: 7 },
    ]);
    expect(hubSplits).toEqual([]);
    expect(caches).toEqual([
      { label: 'Tokenized tasks (made again when needed)', items: 2, bytes: 500, keys: ['tokenized/abc', 'tokenized/def'] },
      { label: 'Parsed task files (made again when needed)', items: 1, bytes: 50, keys: ['rows/123'] },
    ]);
  });

  it('makes one item per stored Hub split, with its files, chunks and size, and says when it is partial', () => {
    const train = 'hub-datasets/zeroshot/tweets/default/train';
    const single = 'hub-datasets/imdb/plain_text/test';
    const { hubSplits, caches } = groupDatasetItems([
      item(train, { files: ['u0', 'u1'], complete: true }, 0, 9),
      item(`${train}/train/0000.parquet`, manifest(true, 600)),
      item(`${train}/train/0000.parquet#000000`, { bytes: 600 }, 600),
      item(`${train}/train/0001.parquet`, manifest(true, 400)),
      item(`${train}/train/0001.parquet#000000`, { bytes: 400 }, 400),
      item(single, { files: ['u0'], complete: false }, 0, 3),
      item(`${single}/partial-test/0000.parquet`, manifest(false, 900)),
      item(`${single}/partial-test/0000.parquet#000000`, { bytes: 8 }, 8),
      item('hub-datasets/orphan/default/train/train/0000.parquet#000000', { bytes: 5 }, 5),
    ]);
    expect(hubSplits).toEqual([
      { key: single, repo: 'imdb', config: 'plain_text', split: 'test', files: 1, bytes: 8, complete: false, keys: [single, `${single}/partial-test/0000.parquet`, `${single}/partial-test/0000.parquet#000000`], updatedAt: 3 },
      { key: train, repo: 'zeroshot/tweets', config: 'default', split: 'train', files: 2, bytes: 1000, complete: true, keys: expect.arrayContaining([train, `${train}/train/0001.parquet#000000`]) as string[], updatedAt: 9 },
    ]);
    expect(hubSplits[1]!.keys).toHaveLength(5);
    expect(caches).toEqual([]);
  });
});

describe('adapters and runs', () => {
  const adapters = adapterItems([
    item('run-1/shared', { runId: 'run-1', name: 'shared', baseModel: 'owner/tiny', r: 8, steps: 30 }, 1000, 10),
    item('run-2/phrase', { runId: 'run-2', name: 'phrase', baseModel: 'owner/tiny', r: 4, steps: 20 }, 500, 20),
    item('run-2/tweet', { runId: 'run-2', name: 'tweet', baseModel: 'owner/tiny', r: 4, steps: 20 }, 500, 20),
    item('imported/my adapter', { name: 'my adapter', baseModel: 'owner/tiny', r: 2 }, 300, 5),
  ]);

  it('lists adapters newest first with what their meta says', () => {
    expect(adapters.map((adapter) => adapter.key)).toEqual(['run-2/phrase', 'run-2/tweet', 'run-1/shared', 'imported/my adapter']);
    expect(adapters[2]).toEqual({ key: 'run-1/shared', runId: 'run-1', name: 'shared', baseModel: 'owner/tiny', r: 8, steps: 30, bytes: 1000, updatedAt: 10 });
    expect(adapters[3]!.runId).toBeUndefined();
  });

  it('keeps the note for Python users of an adapter trained on a model opened from a folder', () => {
    const [local] = adapterItems([item('run-3/shared', { runId: 'run-3', name: 'shared', baseModel: 'local/tiny', baseModelNote: 'set base_model_name_or_path', r: 2, steps: 4 })]);
    expect(local).toMatchObject({ baseModel: 'local/tiny', baseModelNote: 'set base_model_name_or_path' });
    expect(adapters[2]).not.toHaveProperty('baseModelNote');
  });

  it('finds what a run leaves behind: its checkpoints and its adapters', () => {
    const belongings = runBelongings('run-2', adapters, [item(checkpointKey('run-1', 10), {}, 10), item(checkpointKey('run-2', 20), {}, 20), item(checkpointKey('run-2', 40), {}, 40), item(checkpointKey('run-2x', 5), {}, 5)]);
    expect(belongings.checkpoints.map((checkpoint) => checkpoint.key)).toEqual([checkpointKey('run-2', 20), checkpointKey('run-2', 40)]);
    expect(belongings.adapters.map((adapter) => adapter.key)).toEqual(['run-2/phrase', 'run-2/tweet']);
    expect(runBelongings('run-3', adapters, []).checkpoints).toEqual([]);
  });

  it('starts the Playground with the newest adapter a run trained for the model', () => {
    expect(latestRunAdapter(adapters, 'owner/tiny')?.key).toBe('run-2/phrase');
    expect(latestRunAdapter(adapters, 'owner/other')).toBeUndefined();
    expect(latestRunAdapter(adapters.filter((adapter) => !adapter.runId), 'owner/tiny')).toBeUndefined();
  });

  it('names exported files safely', () => {
    expect(peftZipName(adapters[2]!)).toBe('run-1-shared-peft.zip');
    expect(peftZipName(adapters[3]!)).toBe('imported-my-adapter-peft.zip');
    expect(safeFileName('  ../weird name?')).toBe('..-weird-name');
    expect(safeFileName('???')).toBe('adapter');
  });
});

describe('renaming', () => {
  it('takes a typed name trimmed, and refuses an empty or overlong one with a typed error naming the field', () => {
    expect(checkedName('  phrases, rank 4  ', 'run')).toBe('phrases, rank 4');
    expect(() => checkedName('   ', 'run')).toThrow(expect.objectContaining({ code: 'NAME_INVALID', message: expect.stringMatching(/run's new name is empty/) }));
    expect(() => checkedName('x'.repeat(MAX_NAME_LENGTH + 1), 'adapter')).toThrow(/has 121 characters; at most 120 fit/);
  });

  it('shows an adapter by the name it was given, keeping its key', () => {
    const [renamed] = adapterItems([item('run-1/shared', { runId: 'run-1', name: 'shared', label: 'Finance cocktail' })]);
    expect(renamed).toMatchObject({ key: 'run-1/shared', name: 'shared', label: 'Finance cocktail' });
    expect(adapterItems([item('run-1/shared', { name: 'shared', label: '' })])[0]).not.toHaveProperty('label');
  });
});
