/**
 * Content hashes for cache keys, with crypto.subtle (in browsers, workers and Node alike). A file up
 * to CHUNK_BYTES hashes as plain SHA-256 (the same hex as `sha256sum`); a larger one as the SHA-256 of
 * the SHA-256s of its CHUNK_BYTES chunks, so a multi-gigabyte Blob is read a chunk at a time instead
 * of whole. The prefix says which, so the two can never be confused.
 */
import type { Json } from '../../store/storage.ts';

export const CHUNK_BYTES = 64 * 1024 * 1024;

export async function sha256Hex(data: Uint8Array | string): Promise<string> {
  return toHex(await sha256(typeof data === 'string' ? new TextEncoder().encode(data) : data));
}

/** "sha256:<hex>" for data up to CHUNK_BYTES, "sha256-chunks64m:<hex>" above. */
export async function contentHash(data: Blob | Uint8Array): Promise<string> {
  const size = data instanceof Uint8Array ? data.byteLength : data.size;
  const read = async (start: number, end: number): Promise<Uint8Array> =>
    data instanceof Uint8Array ? data.subarray(start, end) : new Uint8Array(await data.slice(start, end).arrayBuffer());
  if (size <= CHUNK_BYTES) return `sha256:${toHex(await sha256(await read(0, size)))}`;
  const digests = new Uint8Array(Math.ceil(size / CHUNK_BYTES) * 32);
  for (let start = 0, chunk = 0; start < size; start += CHUNK_BYTES, chunk++) {
    digests.set(new Uint8Array(await sha256(await read(start, Math.min(size, start + CHUNK_BYTES)))), chunk * 32);
  }
  return `sha256-chunks64m:${toHex(await sha256(digests))}`;
}

/**
 * JSON with object keys sorted at every depth, so equal values give equal text (and equal hashes)
 * whatever order their keys were written in. Refuses what JSON cannot say exactly.
 */
export function canonicalJson(value: Json): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError(`canonicalJson: ${value} has no JSON form`);
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object') {
    const keys = Object.keys(value)
      .filter((key) => value[key] !== undefined)
      .sort();
    return `{${keys.map((key) => `${JSON.stringify(key)}:${canonicalJson(value[key]!)}`).join(',')}}`;
  }
  throw new TypeError(`canonicalJson: a ${typeof value} has no JSON form`);
}

async function sha256(bytes: Uint8Array): Promise<ArrayBuffer> {
  // subtle.digest wants an ArrayBuffer-backed view; a view of a SharedArrayBuffer is copied first.
  const view = bytes.buffer instanceof ArrayBuffer ? (bytes as Uint8Array<ArrayBuffer>) : new Uint8Array(bytes);
  return crypto.subtle.digest('SHA-256', view);
}

function toHex(buffer: ArrayBuffer): string {
  return Array.from(new Uint8Array(buffer), (byte) => byte.toString(16).padStart(2, '0')).join('');
}
