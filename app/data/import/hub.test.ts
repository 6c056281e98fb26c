import { describe, expect, it } from 'vitest';
import { writeTinyParquet } from '../test-support/tiny-parquet.ts';
import { ProblemLog } from '../validate.ts';
import { hubParquetFileUrl, hubParquetListUrl, listHubParquetFiles, readHubDatasetRows, type FetchLike, type HubDatasetRef } from './hub.ts';
import { collectRows, type ImportProgress } from './types.ts';

const ENDPOINT = 'http://mirror.test';
const ref: HubDatasetRef = { endpoint: `${ENDPOINT}/`, repo: 'zeroshot/twitter-financial-news-sentiment', config: 'default', split: 'train' };
const base = `${ENDPOINT}/datasets/zeroshot/twitter-financial-news-sentiment/resolve/refs%2Fconvert%2Fparquet/default/train`;

const shards = [
  writeTinyParquet([
    { name: 'text', kind: 'string', values: ['$AAPL up', '$TSLA down'] },
    { name: 'label', kind: 'int64', values: [1n, 0n] },
  ]),
  writeTinyParquet([
    { name: 'text', kind: 'string', values: ['Fed holds'] },
    { name: 'label', kind: 'int64', values: [2n] },
  ]),
];

interface Served {
  fetch: FetchLike;
  requests: { method: string; url: string; range: string | null; auth: string | null }[];
}

/** A stand-in for the Hub, serving the listing API, HEAD and range requests from memory. */
function serve(files: Record<string, Uint8Array>, listing: unknown, options: { ranges?: boolean } = {}): Served {
  const requests: Served['requests'] = [];
  const fetch: FetchLike = async (url, init = {}) => {
    const headers = new Headers(init.headers);
    const method = init.method ?? 'GET';
    requests.push({ method, url, range: headers.get('Range'), auth: headers.get('Authorization') });
    if (url === hubParquetListUrl(ref)) return Response.json(listing);
    const body = files[url];
    if (!body) return new Response('Entry not found', { status: 404, statusText: 'Not Found' });
    if (method === 'HEAD') return new Response(null, { headers: { 'content-length': String(body.byteLength) } });
    const range = /^bytes=(\d+)-(\d+)$/.exec(headers.get('Range') ?? '');
    if (range && options.ranges !== false) {
      const slice = body.slice(Number(range[1]), Number(range[2]) + 1);
      return new Response(slice, { status: 206 });
    }
    return new Response(body.slice(), { status: 200 });
  };
  return { fetch, requests };
}

const apiListing = [
  `${ENDPOINT}/api/datasets/zeroshot/twitter-financial-news-sentiment/parquet/default/train/1.parquet`,
  `${ENDPOINT}/api/datasets/zeroshot/twitter-financial-news-sentiment/parquet/default/train/0.parquet`,
];

describe('Hub Parquet URLs', () => {
  it('builds resolve URLs on refs/convert/parquet as {config}/{split}/{shard:04}.parquet', () => {
    expect(hubParquetFileUrl({ repo: 'ibm/duorc', config: 'ParaphraseRC', split: 'train' }, 0)).toBe(
      'https://huggingface.co/datasets/ibm/duorc/resolve/refs%2Fconvert%2Fparquet/ParaphraseRC/train/0000.parquet',
    );
    expect(hubParquetFileUrl(ref, 12)).toBe(`${base}/0012.parquet`);
    expect(hubParquetFileUrl(ref, 3, 'partial-train')).toMatch(/\/default\/partial-train\/0003\.parquet$/);
  });

  it('builds the listing URL of the Hub API, and refuses a malformed data set id', () => {
    expect(hubParquetListUrl(ref)).toBe(`${ENDPOINT}/api/datasets/zeroshot/twitter-financial-news-sentiment/parquet/default/train`);
    expect(() => hubParquetListUrl({ ...ref, repo: 'a/b/c' })).toThrow(/owner\/name/);
  });

  it('lists the files of a split in shard order as direct resolve URLs', async () => {
    const { fetch } = serve({}, apiListing);
    expect(await listHubParquetFiles(ref, { fetch })).toEqual([`${base}/0000.parquet`, `${base}/0001.parquet`]);
  });

  it('keeps a partially converted split in its partial- directory', async () => {
    const { fetch } = serve({}, [`${ENDPOINT}/api/datasets/x/parquet/default/partial-train/0.parquet`]);
    expect(await listHubParquetFiles(ref, { fetch })).toEqual([
      `${ENDPOINT}/datasets/zeroshot/twitter-financial-news-sentiment/resolve/refs%2Fconvert%2Fparquet/default/partial-train/0000.parquet`,
    ]);
  });
});

describe('readHubDatasetRows', () => {
  const files = { [`${base}/0000.parquet`]: shards[0]!, [`${base}/0001.parquet`]: shards[1]! };

  it('reads every shard of a split through range requests, numbering rows as one sequence', async () => {
    const { fetch, requests } = serve(files, apiListing);
    const progress: ImportProgress[] = [];
    const problems = new ProblemLog('hub');
    const { rows, info } = await collectRows(readHubDatasetRows(ref, { fetch, problems, accessToken: 'hf_test', onProgress: (p) => progress.push(p) }));
    expect(rows).toEqual([
      { row: 1, values: { text: '$AAPL up', label: 1 } },
      { row: 2, values: { text: '$TSLA down', label: 0 } },
      { row: 3, values: { text: 'Fed holds', label: 2 } },
    ]);
    const total = shards[0]!.byteLength + shards[1]!.byteLength;
    expect(info).toMatchObject({ fileName: 'zeroshot/twitter-financial-news-sentiment (default/train)', format: 'parquet', rows: 3, bytes: total });
    expect(progress.at(-1)).toEqual({ bytesRead: total, totalBytes: total });
    expect(requests.filter((r) => r.method === 'GET' && r.url.endsWith('.parquet')).every((r) => r.range !== null)).toBe(true);
    expect(requests.every((r) => r.auth === 'Bearer hf_test')).toBe(true);
  });

  it('reads from a server that ignores Range by downloading each file once', async () => {
    const { fetch, requests } = serve(files, apiListing, { ranges: false });
    const { rows } = await collectRows(readHubDatasetRows(ref, { fetch, problems: new ProblemLog('hub') }));
    expect(rows).toHaveLength(3);
    expect(requests.filter((r) => r.method === 'GET' && r.url === `${base}/0000.parquet`)).toHaveLength(1);
  });

  it('says which URL failed and what to check when the Hub answers 404', async () => {
    const { fetch } = serve({}, apiListing);
    await expect(collectRows(readHubDatasetRows(ref, { fetch, problems: new ProblemLog('hub') }))).rejects.toMatchObject({
      code: 'HUB_REQUEST_FAILED',
      message: `HEAD ${base}/0000.parquet answered 404 Not Found. Check the data set id, config and split.`,
      details: { status: 404 },
    });
  });

  it('explains a 401 on a gated data set, and a network failure', async () => {
    const denied: FetchLike = async () => new Response('', { status: 401, statusText: 'Unauthorized' });
    await expect(listHubParquetFiles(ref, { fetch: denied })).rejects.toThrow(/gated or private/);
    const offline: FetchLike = async () => {
      throw new TypeError('fetch failed');
    };
    await expect(listHubParquetFiles(ref, { fetch: offline })).rejects.toMatchObject({ code: 'HUB_REQUEST_FAILED', message: expect.stringContaining('Could not reach') });
  });

  it('refuses a listing that is not a list of URLs, or is empty', async () => {
    await expect(listHubParquetFiles(ref, { fetch: serve({}, { error: 'no' }).fetch })).rejects.toThrow(/list of Parquet URLs/);
    await expect(listHubParquetFiles(ref, { fetch: serve({}, []).fetch })).rejects.toThrow(/no Parquet files/);
  });
});
