import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TWEETS_DATASET, writeTweetsDataset } from '../../../test/hub-datasets.ts';
import { startHubServer, type HubServer } from '../../../test/hub-server.ts';
import { openFileStorage } from '../../store/fs.ts';
import type { Storage } from '../../store/storage.ts';
import { ProblemLog } from '../validate.ts';
import { hubSplitKey, storedHubSplit } from './hub-store.ts';
import { readParquetShards, type HubDatasetRef } from './hub.ts';
import { collectRows } from './types.ts';

let root: string;
let server: HubServer;
let storage: Storage;
let ref: HubDatasetRef;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'cocktail-hub-store-'));
  await writeTweetsDataset(join(root, 'hub'), { train: { shards: [300, 200] }, validation: { shards: [50] } });
  server = await startHubServer({ [`datasets/${TWEETS_DATASET}`]: join(root, 'hub') });
  storage = await openFileStorage(join(root, 'storage'));
  ref = { endpoint: server.endpoint, repo: TWEETS_DATASET, config: 'default', split: 'train' };
});
afterEach(async () => {
  await storage.close();
  await server.close().catch(() => undefined);
  await rm(root, { recursive: true, force: true });
});

const servedBytes = (shard: string) => readFile(join(root, 'hub', 'default', 'train', shard));
const bytesOf = async (blob: Blob) => new Uint8Array(await blob.arrayBuffer());
const shardPath = (shard: string) => `/datasets/${TWEETS_DATASET}/resolve/refs/convert/parquet/default/train/${shard}`;

describe('Hub data sets kept in storage', { timeout: 60_000 }, () => {
  it('lists a split once, downloads each file once, and reads it back offline', async () => {
    const progress: [number, number][] = [];
    const blobs = await storedHubSplit(ref, { storage, onProgress: (loaded, total) => progress.push([loaded, total]) });
    expect(await Promise.all(blobs.map(bytesOf))).toEqual([new Uint8Array(await servedBytes('0000.parquet')), new Uint8Array(await servedBytes('0001.parquet'))]);
    const total = blobs[0]!.size + blobs[1]!.size;
    expect(progress.at(-1)).toEqual([total, total]);
    expect(server.requests).toEqual([`GET /api/datasets/${TWEETS_DATASET}/parquet/default/train`, `GET ${shardPath('0000.parquet')}`, `GET ${shardPath('0001.parquet')}`]);

    await server.close();
    const offline = await storedHubSplit(ref, { storage });
    const { rows, info } = await collectRows(readParquetShards(offline, 'tweets', { problems: new ProblemLog('tweets') }));
    expect(info).toMatchObject({ rows: 500, columns: ['text', 'label'], format: 'parquet' });
    expect(rows[0]!.values).toEqual({ text: '$BYND - JPMorgan reels in expectations on Beyond Meat https://t.co/bd0xbFGjkT', label: 0 });
    expect(rows[499]!.row).toBe(500);
  });

  it('keeps each split apart, under keys the Library can group', async () => {
    await storedHubSplit(ref, { storage });
    await storedHubSplit({ ...ref, split: 'validation' }, { storage });
    const keys = (await storage.list('datasets')).map((item) => item.key);
    expect(keys).toEqual([
      hubSplitKey(ref),
      `${hubSplitKey(ref)}/train/0000.parquet`,
      `${hubSplitKey(ref)}/train/0000.parquet#000000`,
      `${hubSplitKey(ref)}/train/0001.parquet`,
      `${hubSplitKey(ref)}/train/0001.parquet#000000`,
      hubSplitKey({ ...ref, split: 'validation' }),
      `${hubSplitKey({ ...ref, split: 'validation' })}/validation/0000.parquet`,
      `${hubSplitKey({ ...ref, split: 'validation' })}/validation/0000.parquet#000000`,
    ]);
  });

  it('does not count a split as stored until every file is, and finishes it on the next read', async () => {
    server.breakAfter('default/train/0001.parquet', 100);
    await expect(storedHubSplit(ref, { storage })).rejects.toThrow(/Download of zeroshot\/twitter-financial-news-sentiment \(default\/train\) file 2 of 2 (broke off|ended) at \d+ of \d+ bytes/);
    server.requests.length = 0;
    const blobs = await storedHubSplit(ref, { storage });
    // The listing and the first file are not asked for again.
    expect(server.requests).toEqual([`GET ${shardPath('0001.parquet')}`]);
    expect(await bytesOf(blobs[1]!)).toEqual(new Uint8Array(await servedBytes('0001.parquet')));
  });

  it('sends the access token for a gated data set', async () => {
    const gated = await startHubServer({ [`datasets/${TWEETS_DATASET}`]: join(root, 'hub') }, { gated: { [`datasets/${TWEETS_DATASET}`]: 'hf_reader' } });
    try {
      const gatedRef = { ...ref, endpoint: gated.endpoint };
      await expect(storedHubSplit(gatedRef, { storage })).rejects.toThrow(/answered 401 .*gated or private: accept its terms on the Hub and give an access token/);
      expect((await storedHubSplit(gatedRef, { storage, accessToken: 'hf_reader' })).length).toBe(2);
    } finally {
      await gated.close();
    }
  });

  it('names the data set, config and split the Hub does not have', async () => {
    await expect(storedHubSplit({ ...ref, split: 'test' }, { storage })).rejects.toThrow(/parquet\/default\/test answered 404 .*Check the data set id, config and split/);
    expect(await storage.list('datasets')).toEqual([]);
  });

  it('stops when cancelled and keeps what it had', async () => {
    const controller = new AbortController();
    server.throttle(20_000);
    const pending = storedHubSplit(ref, { storage, signal: controller.signal, onProgress: (loaded) => loaded > 0 && controller.abort() });
    await expect(pending).rejects.toMatchObject({ code: 'CANCELLED' });
    server.throttle(null);
    expect((await storedHubSplit(ref, { storage })).length).toBe(2);
  });
});
