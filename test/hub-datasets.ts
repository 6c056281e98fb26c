/**
 * A Hub data set on disk, laid out as the Hub's refs/convert/parquet revision lays it out
 * (`{config}/{split}/{shard:04}.parquet`), made from the real tweets of
 * ../shared/fixtures/datasets/twitter_fin_sentiment, for test/hub-server.ts to serve. The Parquet
 * bytes come from the tests' own writer (app/data/test-support/tiny-parquet.ts): text and an int64
 * label, as the Hub's zeroshot/twitter-financial-news-sentiment has them.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { importFile } from '../app/data/index.ts';
import { writeTinyParquet } from '../app/data/test-support/tiny-parquet.ts';
import { fixturePath } from './fixtures.ts';

/** The id the tweets are served under (the Hub's own id for this data set). */
export const TWEETS_DATASET = 'zeroshot/twitter-financial-news-sentiment';

export interface TweetSplit {
  /** Shards of the split, each a number of rows taken in file order. */
  shards: number[];
  /** Take every n-th row of the file (default 1). The file is sorted by label, so a stride spreads the labels. */
  every?: number;
  /**
   * Only rows whose text is at most this many UTF-8 bytes (before the stride). The fixture model's
   * tokenizer falls back to bytes, so such a text is at most maxBytes + 1 tokens: a test can keep
   * whole rows within the model's 128 positions.
   */
  maxBytes?: number;
}

/** Writes `{dir}/default/{split}/{shard:04}.parquet` for each split given. */
export async function writeTweetsDataset(dir: string, splits: { train: TweetSplit; validation?: TweetSplit }): Promise<void> {
  const sources = { train: 'sent_train.csv', validation: 'sent_valid.csv' } as const;
  const encoder = new TextEncoder();
  for (const [split, { shards, every = 1, maxBytes = Infinity }] of Object.entries(splits) as [keyof typeof sources, TweetSplit][]) {
    const csv = await readFile(fixturePath(`datasets/twitter_fin_sentiment/${sources[split]}`));
    const rows = (await importFile(new Blob([csv]), { fileName: sources[split] })).rows
      .filter((row) => encoder.encode(String(row.values.text)).length <= maxBytes)
      .filter((_, index) => index % every === 0);
    await mkdir(join(dir, 'default', split), { recursive: true });
    let start = 0;
    for (const [index, count] of shards.entries()) {
      const part = rows.slice(start, start + count);
      start += count;
      const bytes = writeTinyParquet([
        { name: 'text', kind: 'string', values: part.map((row) => String(row.values.text)) },
        { name: 'label', kind: 'int64', values: part.map((row) => BigInt(String(row.values.label))) },
      ]);
      await writeFile(join(dir, 'default', split, `${String(index).padStart(4, '0')}.parquet`), bytes);
    }
  }
}
