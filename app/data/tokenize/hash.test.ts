import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { fixtureBytes, FIXTURES } from '../test-support/fixtures.ts';
import { canonicalJson, CHUNK_BYTES, contentHash, sha256Hex } from './hash.ts';

const nodeSha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

describe('content hashes', () => {
  it('computes SHA-256 as the standard says', async () => {
    expect(await sha256Hex('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(await sha256Hex(new Uint8Array())).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });

  it('hashes a real data file the same whether given as bytes or as a Blob, and as sha256sum does', async () => {
    const bytes = fixtureBytes(FIXTURES.gsm8kTest);
    const expected = `sha256:${nodeSha256(bytes)}`;
    expect(await contentHash(bytes)).toBe(expected);
    expect(await contentHash(new Blob([bytes]))).toBe(expected);
  });

  it('hashes a file larger than a chunk chunk by chunk, so it never reads it whole', async () => {
    const bytes = new Uint8Array(CHUNK_BYTES + 3);
    bytes[CHUNK_BYTES + 1] = 7;
    const chunkDigests = Buffer.concat([createHash('sha256').update(bytes.subarray(0, CHUNK_BYTES)).digest(), createHash('sha256').update(bytes.subarray(CHUNK_BYTES)).digest()]);
    expect(await contentHash(new Blob([bytes]))).toBe(`sha256-chunks64m:${nodeSha256(chunkDigests)}`);
  }, 30_000);

  it('writes JSON with sorted keys, so equal values hash equally whatever their key order', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { z: null, y: 'x' }], c: true } })).toBe('{"a":{"c":true,"d":[1,{"y":"x","z":null}]},"b":1}');
    expect(canonicalJson({ a: 1, b: 2 })).toBe(canonicalJson({ b: 2, a: 1 }));
    expect(() => canonicalJson({ a: Number.NaN })).toThrow(/NaN has no JSON form/);
  });
});
