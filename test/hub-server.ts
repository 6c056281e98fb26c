import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

export interface HubServer {
  endpoint: string;
  /** Every request as "METHOD path [range]". */
  requests: string[];
  /** Cut the connection after this many bytes of the next response for `path` (once). */
  breakAfter(path: string, bytes: number): void;
  close(): Promise<void>;
}

/**
 * A local HTTP server that serves model folders in the Hub's URL layout
 * (/{owner}/{name}/resolve/{revision}/{path}) with Range support, on 127.0.0.1 only.
 */
export async function startHubServer(repos: Record<string, string>): Promise<HubServer> {
  const requests: string[] = [];
  const breaks = new Map<string, number>();
  const server: Server = createServer((request, response) => {
    const url = decodeURIComponent(new URL(request.url ?? '/', 'http://localhost').pathname);
    requests.push(`${request.method} ${url}${request.headers.range ? ` ${request.headers.range}` : ''}`);
    const match = url.match(/^\/([^/]+\/[^/]+)\/resolve\/[^/]+\/(.+)$/);
    const dir = match ? repos[match[1]!] : undefined;
    const file = dir && match ? join(dir, match[2]!) : undefined;
    if (!file || !existsSync(file) || !statSync(file).isFile()) {
      response.writeHead(404).end('Entry not found');
      return;
    }
    const size = statSync(file).size;
    const range = request.headers.range?.match(/^bytes=(\d+)-$/);
    const start = range ? Number(range[1]) : 0;
    response.writeHead(range ? 206 : 200, {
      'content-length': String(size - start),
      'accept-ranges': 'bytes',
      ...(range ? { 'content-range': `bytes ${start}-${size - 1}/${size}` } : {}),
    });
    const cut = breaks.get(match![2]!);
    if (cut !== undefined) {
      breaks.delete(match![2]!);
      const stream = createReadStream(file, { start, end: start + cut - 1 });
      stream.on('data', (data) => response.write(data));
      stream.on('end', () => response.socket?.destroy());
      return;
    }
    createReadStream(file, { start }).pipe(response);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    breakAfter: (path, bytes) => breaks.set(path, bytes),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
