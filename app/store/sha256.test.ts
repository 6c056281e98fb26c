import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Sha256 } from './sha256.ts';

describe('Sha256', () => {
  it('gives the FIPS 180-4 digests of "abc" and of the empty message', () => {
    expect(new Sha256().update(new TextEncoder().encode('abc')).hex()).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(new Sha256().hex()).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });

  it("equals Node's SHA-256 on lengths around the 55/56/64-byte padding edges, fed in uneven pieces", () => {
    let seed = 7;
    for (const length of [1, 55, 56, 57, 63, 64, 65, 119, 120, 1000, 70_001]) {
      const bytes = Uint8Array.from({ length }, () => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24);
      const hash = new Sha256();
      for (let offset = 0, piece = 1; offset < length; offset += piece, piece = (piece * 3 + 1) % 97) hash.update(bytes.subarray(offset, offset + piece));
      expect(hash.hex(), `length ${length}`).toBe(createHash('sha256').update(bytes).digest('hex'));
    }
  });
});
