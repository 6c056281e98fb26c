import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

export interface HubServer {
  endpoint: string;
  /** Every data request as "METHOD path [range]" (CORS preflights are not listed). */
  requests: string[];
  /** Requests that carried If-Range, as "METHOD path range if-range ETAG". */
  conditional: string[];
  /** From now on, announce a wrong SHA-256 for `path` (as if the stored object were corrupt). */
  misreportChecksum(path: string): void;
  /** Cut the connection after this many bytes of the next response for `path` (once). */
  breakAfter(path: string, bytes: number): void;
  /** Send every later response body at about this many bytes per second (null: full speed). */
  throttle(bytesPerSecond: number | null): void;
  /** Stops listening and drops open connections, as a network that goes away would. */
  close(): Promise<void>;
}

// The studio runs on another origin than this server, so the browser needs CORS to read the
// responses, their sizes (progress) and their ranges (resume); the Hub sends the same headers.
const CORS_HEADERS = {
  'access-control-allow-origin': '*',
  'access-control-expose-headers': 'Content-Length, Content-Range, Accept-Ranges, ETag, X-Linked-Etag',
};

/** Files the Hub keeps in LFS: for them it announces the SHA-256 (the LFS oid) in X-Linked-Etag. */
const LFS_FILE = /\.(safetensors|bin|onnx|parquet|gguf)$/;

/** The file's SHA-256, remembered per path, size and modification time (fixtures are read many times). */
const digests = new Map<string, string>();
function sha256Of(file: string): string {
  const { size, mtimeMs } = statSync(file);
  const key = `${file}:${size}:${mtimeMs}`;
  let digest = digests.get(key);
  if (!digest) {
    digest = createHash('sha256').update(readFileSync(file)).digest('hex');
    digests.set(key, digest);
  }
  return digest;
}

/** Paths look like /{owner}/{name}/resolve/{revision}/{path}, or /datasets/{owner}/{name}/resolve/...; the revision may be URL-encoded ("refs%2Fconvert%2Fparquet"). */
function parseResolvePath(rawPath: string): { repo: string; path: string } | undefined {
  const match = rawPath.match(/^\/((?:datasets\/)?[^/]+\/[^/]+)\/resolve\/[^/]+\/(.+)$/);
  if (!match) return undefined;
  return { repo: decodeURIComponent(match[1]!), path: match[2]!.split('/').map(decodeURIComponent).join('/') };
}

/** `/api/datasets/{owner}/{name}/parquet/{config}/{split}`: the Hub API's list of a split's Parquet files. */
function parseParquetListPath(rawPath: string): { repo: string; config: string; split: string } | undefined {
  const match = rawPath.match(/^\/api\/datasets\/([^/]+\/[^/]+)\/parquet\/([^/]+)\/([^/]+)$/);
  if (!match) return undefined;
  return { repo: `datasets/${decodeURIComponent(match[1]!)}`, config: decodeURIComponent(match[2]!), split: decodeURIComponent(match[3]!) };
}

/**
 * A local HTTP server that serves folders in the Hub's URL layout with Range support and CORS, on
 * 127.0.0.1 only. `repos` maps a repository id ("owner/name", or "datasets/owner/name") to a folder,
 * served the same under every revision. A data set's folder holds its Parquet files as the Hub's
 * refs/convert/parquet revision does, `{config}/{split}/{shard:04}.parquet`, and the API lists them.
 */
export interface HubServerOptions {
  /** Repositories (ids as in `repos`) served only to requests with `Authorization: Bearer <token>`; others get 401, as the Hub answers for gated ones. */
  gated?: Record<string, string>;
}

export async function startHubServer(repos: Record<string, string>, options: HubServerOptions = {}): Promise<HubServer> {
  const requests: string[] = [];
  const breaks = new Map<string, number>();
  const misreported = new Set<string>();
  const conditional: string[] = [];
  let bytesPerSecond: number | null = null;

  const serve = (request: IncomingMessage, response: ServerResponse) => {
    const rawPath = new URL(request.url ?? '/', 'http://localhost').pathname;
    if (request.method === 'OPTIONS') {
      response
        .writeHead(204, {
          ...CORS_HEADERS,
          'access-control-allow-methods': 'GET, HEAD, OPTIONS',
          'access-control-allow-headers': request.headers['access-control-request-headers'] ?? 'Range',
          'access-control-max-age': '600',
        })
        .end();
      return;
    }
    requests.push(`${request.method} ${decodeURIComponent(rawPath)}${request.headers.range ? ` ${request.headers.range}` : ''}`);
    if (request.headers['if-range']) conditional.push(`${request.method} ${decodeURIComponent(rawPath)} ${request.headers.range ?? ''} if-range ${request.headers['if-range']}`);
    const repo = parseParquetListPath(rawPath)?.repo ?? parseResolvePath(rawPath)?.repo;
    const token = repo === undefined ? undefined : options.gated?.[repo];
    if (token !== undefined && request.headers.authorization !== `Bearer ${token}`) {
      response.writeHead(401, CORS_HEADERS).end('Access to this repository is restricted: you must be authenticated.');
      return;
    }
    const listed = parseParquetListPath(rawPath);
    if (listed) {
      listParquetFiles(response, listed, repos[listed.repo]);
      return;
    }
    const resolved = parseResolvePath(rawPath);
    const dir = resolved ? repos[resolved.repo] : undefined;
    const file = dir && resolved ? join(dir, resolved.path) : undefined;
    if (!file || !existsSync(file) || !statSync(file).isFile()) {
      response.writeHead(404, CORS_HEADERS).end('Entry not found');
      return;
    }
    const size = statSync(file).size;
    // As the Hub: a strong ETag per revision of the file; LFS files also announce their SHA-256.
    const digest = sha256Of(file);
    const etag = `"${digest}"`;
    const announced = misreported.has(resolved!.path) ? '0'.repeat(64) : digest;
    // If-Range (RFC 9110 §13.1.5): the range only if the file is still the one the client has; else all of it.
    const ifRange = request.headers['if-range'];
    const range = ifRange !== undefined && ifRange !== etag ? null : request.headers.range?.match(/^bytes=(\d+)-(\d*)$/);
    const start = range ? Number(range[1]) : 0;
    const end = range?.[2] ? Math.min(size - 1, Number(range[2])) : size - 1;
    response.writeHead(range ? 206 : 200, {
      ...CORS_HEADERS,
      'content-length': String(end + 1 - start),
      'accept-ranges': 'bytes',
      etag,
      ...(LFS_FILE.test(resolved!.path) ? { 'x-linked-etag': `"${announced}"` } : {}),
      ...(range ? { 'content-range': `bytes ${start}-${end}/${size}` } : {}),
    });
    if (request.method === 'HEAD') {
      response.end();
      return;
    }
    const cut = breaks.get(resolved!.path);
    if (cut !== undefined) {
      breaks.delete(resolved!.path);
      const stream = createReadStream(file, { start, end: Math.min(end, start + cut - 1) });
      stream.on('data', (data) => response.write(data));
      stream.on('end', () => response.socket?.destroy());
      return;
    }
    if (bytesPerSecond !== null) {
      void sendSlowly(createReadStream(file, { start, end }), response, bytesPerSecond);
      return;
    }
    createReadStream(file, { start, end }).pipe(response);
  };

  const server: Server = createServer(serve);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    conditional,
    misreportChecksum: (path) => misreported.add(path),
    breakAfter: (path, bytes) => breaks.set(path, bytes),
    throttle: (rate) => {
      bytesPerSecond = rate;
    },
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Answers the listing as the Hub does: API URLs `.../parquet/{config}/{split}/{n}.parquet`, which redirect to the files. */
function listParquetFiles(response: ServerResponse, listed: { repo: string; config: string; split: string }, dir: string | undefined): void {
  const splitDir = dir && join(dir, listed.config, listed.split);
  if (!splitDir || !existsSync(splitDir)) {
    response.writeHead(404, CORS_HEADERS).end('{"error":"Not found"}');
    return;
  }
  const { port } = (response.socket?.localAddress ? response.socket.address() : { port: 0 }) as AddressInfo;
  const shards = readdirSync(splitDir).filter((name) => /^\d{4}\.parquet$/.test(name)).sort();
  const api = `http://127.0.0.1:${port}/api/${listed.repo}/parquet/${encodeURIComponent(listed.config)}/${encodeURIComponent(listed.split)}`;
  response.writeHead(200, { ...CORS_HEADERS, 'content-type': 'application/json' }).end(JSON.stringify(shards.map((name) => `${api}/${Number(name.slice(0, 4))}.parquet`)));
}

/** Writes a file in slices of a tenth of a second's worth, so a browser sees a download progress. */
async function sendSlowly(stream: AsyncIterable<Buffer>, response: ServerResponse, bytesPerSecond: number): Promise<void> {
  const slice = Math.max(1, Math.floor(bytesPerSecond / 10));
  try {
    for await (const data of stream) {
      for (let offset = 0; offset < data.byteLength; offset += slice) {
        if (response.destroyed) return;
        response.write(data.subarray(offset, offset + slice));
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    response.end();
  } catch {
    response.destroy();
  }
}
