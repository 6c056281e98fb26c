import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { hubSplitKey } from '../app/data/index.ts';
import { settingsOfOptions, type TaskFileMeta } from '../app/data/import/import-settings.ts';
import { TASK_FILE_PREFIX } from '../app/store/keys.ts';
import { fixturePath } from '../test/fixtures.ts';
import { noGpu, startTestEngine, type TestEngine } from '../test/engine.ts';
import { TWEETS_DATASET, writeTweetsDataset } from '../test/hub-datasets.ts';
import { startHubServer, type HubServer } from '../test/hub-server.ts';

let engine: TestEngine;
let hub: HubServer;
let dir: string;
beforeAll(async () => {
  engine = await startTestEngine(noGpu('previewing a data set needs no GPU'));
  dir = await mkdtemp(join(tmpdir(), 'cocktail-hub-preview-'));
  await writeTweetsDataset(dir, { train: { shards: [40, 25] } });
  hub = await startHubServer({ [`datasets/${TWEETS_DATASET}`]: dir });
});
afterAll(async () => {
  await engine.close();
  await hub.close();
  await rm(dir, { recursive: true, force: true });
});

describe('data.hubPreview', { timeout: 60_000 }, () => {
  it('downloads a split into storage and reads it as an imported file is read: rows, columns, first rows, problems', async () => {
    const progress: { loaded: number; total: number }[] = [];
    const result = await engine.bridge.request('data.hubPreview', { hub: TWEETS_DATASET, config: 'default', split: 'train', hubEndpoint: hub.endpoint }, { onProgress: (p) => progress.push(p) });
    expect(result).toMatchObject({ name: `${TWEETS_DATASET} (default/train)`, rows: 65, columns: ['text', 'label'], format: 'parquet' });
    expect(result.preview).toHaveLength(20);
    expect(result.preview[0]).toEqual({ row: 1, values: { text: '$BYND - JPMorgan reels in expectations on Beyond Meat https://t.co/bd0xbFGjkT', label: 0 } });
    expect(result.report.errors).toBe(0);
    expect(result.labelValues).toEqual({ label: ['0'] });
    expect(progress.at(-1)!.loaded).toBe(progress.at(-1)!.total);
    expect(await engine.storage.getInfo('datasets', hubSplitKey({ repo: TWEETS_DATASET, config: 'default', split: 'train' }))).toMatchObject({ meta: { complete: true } });
  });

  it('passes the access token on for a gated data set', async () => {
    const gated = await startHubServer({ [`datasets/${TWEETS_DATASET}`]: dir }, { gated: { [`datasets/${TWEETS_DATASET}`]: 'hf_reader' } });
    try {
      const request = { hub: TWEETS_DATASET, config: 'default', split: 'validation-gated', hubEndpoint: gated.endpoint };
      await expect(engine.bridge.request('data.hubPreview', request)).rejects.toMatchObject({ message: expect.stringMatching(/answered 401/) });
      // With the token the Hub lets the request through, and answers that this split does not exist.
      await expect(engine.bridge.request('data.hubPreview', { ...request, hubToken: 'hf_reader' })).rejects.toMatchObject({ message: expect.stringMatching(/answered 404/) });
    } finally {
      await gated.close();
    }
  });

  it('names the data set, config and split that is not there', async () => {
    await expect(engine.bridge.request('data.hubPreview', { hub: TWEETS_DATASET, config: 'default', split: 'test', hubEndpoint: hub.endpoint })).rejects.toMatchObject({
      code: 'HUB_REQUEST_FAILED',
      message: expect.stringMatching(/parquet\/default\/test answered 404 .*Check the data set id, config and split/),
    });
  });

  it('reads a split it already has without the network', async () => {
    await hub.close();
    const result = await engine.bridge.request('data.hubPreview', { hub: TWEETS_DATASET, config: 'default', split: 'train', hubEndpoint: hub.endpoint });
    expect(result.rows).toBe(65);
  });
});

describe('data.import', { timeout: 60_000 }, () => {
  it('keeps the options a file was imported with beside it, so a reload reads Financial PhraseBank (@, no header) the same way', async () => {
    const file = new Blob([await readFile(fixturePath('datasets/fpb/Sentences_50Agree.txt'))]);
    const name = 'Sentences_50Agree.txt';
    const result = await engine.bridge.request('data.import', { name, file, options: { delimiter: '@', header: false } });
    expect(result.columns).toEqual(['column_1', 'column_2']);
    const stored = await engine.storage.getInfo<TaskFileMeta>('datasets', `${TASK_FILE_PREFIX}${name}`);
    expect(stored?.meta.options).toEqual({ delimiter: '@', header: false });
    expect(settingsOfOptions(stored!.meta.options!)).toMatchObject({ delimiter: '@', header: 'no' });

    // Read again from storage with its stored options (what "Map columns" does after a reload): the same two columns.
    const bytes = await engine.storage.getBytes('datasets', `${TASK_FILE_PREFIX}${name}`);
    const again = await engine.bridge.request('data.import', { name, file: new Blob([bytes as Uint8Array<ArrayBuffer>]), options: stored!.meta.options! });
    expect({ rows: again.rows, columns: again.columns, labels: again.labelValues.column_2?.sort() }).toEqual({ rows: result.rows, columns: result.columns, labels: ['negative', 'neutral', 'positive'] });

    // Read with other options, the file keeps those instead: a changed delimiter takes effect on every later read.
    const detected = await engine.bridge.request('data.import', { name, file: new Blob([bytes as Uint8Array<ArrayBuffer>]) });
    expect(detected.columns).toHaveLength(1);
    expect((await engine.storage.getInfo<TaskFileMeta>('datasets', `${TASK_FILE_PREFIX}${name}`))?.meta.options).toEqual({});
  });
});
