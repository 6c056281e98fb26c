import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { fixturePath } from '../../test/fixtures.ts';
import { readSafetensorsHeader, readTensorBytes, writeSafetensors, MAX_HEADER_BYTES } from './safetensors.ts';

/** A safetensors file from a header object and data bytes, exactly as given (no fixing up). */
function rawFile(header: unknown, data: Uint8Array = new Uint8Array(), headerLength?: bigint): Blob {
  const json = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const length = new DataView(new ArrayBuffer(8));
  length.setBigUint64(0, headerLength ?? BigInt(json.byteLength), true);
  return new Blob([length.buffer, json, data as Uint8Array<ArrayBuffer>]);
}

const f32 = (count: number) => ({ dtype: 'F32', shape: [count] });

describe('safetensors reader on the real fixture', () => {
  it('reads every tensor of aidreams260K with its dtype and shape', async () => {
    const blob = new Blob([await readFile(fixturePath('models/aidreams260K/model.safetensors'))]);
    const file = await readSafetensorsHeader(blob, 'model.safetensors');
    expect(file.tensors.size).toBe(38);
    expect(file.tensors.get('model.layers.0.mlp.gate_proj.weight')).toMatchObject({ dtype: 'F32', shape: [172, 64] });
    const bytes = await readTensorBytes(file, 'model.norm.weight');
    expect(bytes.byteLength).toBe(64 * 4);
  });
});

describe('safetensors reader refuses broken files, naming the file and the problem', () => {
  it('refuses a file shorter than the 8-byte length', async () => {
    await expect(readSafetensorsHeader(new Blob([new Uint8Array(5)]), 'tiny.safetensors')).rejects.toThrow(/tiny\.safetensors: 5 bytes is too short/);
  });

  it(`refuses a header length over ${MAX_HEADER_BYTES}`, async () => {
    await expect(readSafetensorsHeader(rawFile({}, undefined, 100_000_001n), 'big.safetensors')).rejects.toThrow(/header length 100000001 is over the limit/);
  });

  it('refuses a header that runs past the end of the file (truncated)', async () => {
    await expect(readSafetensorsHeader(rawFile({}, undefined, 500n), 'cut.safetensors')).rejects.toThrow(/runs past the end of the file/);
  });

  it('refuses a header that is not JSON', async () => {
    await expect(readSafetensorsHeader(rawFile('{"a": [1, 2'), 'bad.safetensors')).rejects.toThrow(/bad\.safetensors: the header is not valid UTF-8 JSON/);
  });

  it('refuses data cut short after a valid header', async () => {
    await expect(readSafetensorsHeader(rawFile({ w: { ...f32(4), data_offsets: [0, 16] } }, new Uint8Array(10)), 'w.safetensors')).rejects.toThrow(
      /tensors need 16 bytes of data but the file has 10: the file is truncated/,
    );
  });

  it('refuses trailing bytes after the last tensor', async () => {
    await expect(readSafetensorsHeader(rawFile({ w: { ...f32(1), data_offsets: [0, 4] } }, new Uint8Array(8)), 'w.safetensors')).rejects.toThrow(/4 bytes follow the last tensor/);
  });

  it('refuses a gap between tensors, naming the tensor after it', async () => {
    const header = { a: { ...f32(1), data_offsets: [0, 4] }, b: { ...f32(1), data_offsets: [8, 12] } };
    await expect(readSafetensorsHeader(rawFile(header, new Uint8Array(12)), 'g.safetensors')).rejects.toThrow(/a gap of 4 bytes before tensor "b"/);
  });

  it('refuses overlapping tensors', async () => {
    const header = { a: { ...f32(2), data_offsets: [0, 8] }, b: { ...f32(2), data_offsets: [4, 12] } };
    await expect(readSafetensorsHeader(rawFile(header, new Uint8Array(12)), 'o.safetensors')).rejects.toThrow(/an overlap at tensor "b"/);
  });

  it('refuses a tensor whose bytes do not match dtype × shape', async () => {
    await expect(readSafetensorsHeader(rawFile({ w: { dtype: 'BF16', shape: [3], data_offsets: [0, 4] } }, new Uint8Array(4)), 'm.safetensors')).rejects.toThrow(
      /tensor "w": holds 4 bytes but BF16 \[3\] needs 6/,
    );
  });

  it('refuses a shape whose byte count overflows', async () => {
    const header = { w: { dtype: 'F64', shape: [2 ** 30, 2 ** 30, 2 ** 10], data_offsets: [0, 8] } };
    await expect(readSafetensorsHeader(rawFile(header, new Uint8Array(8)), 'x.safetensors')).rejects.toThrow(/overflows the byte count/);
  });

  it('refuses an unknown dtype and a negative dimension', async () => {
    await expect(readSafetensorsHeader(rawFile({ w: { dtype: 'F12', shape: [1], data_offsets: [0, 2] } }, new Uint8Array(2)), 'd.safetensors')).rejects.toThrow(/unknown dtype "F12"/);
    await expect(readSafetensorsHeader(rawFile({ w: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, new Uint8Array(4)), 'd.safetensors')).rejects.toThrow(/not a list of non-negative integers/);
  });

  it('refuses __metadata__ values that are not strings', async () => {
    await expect(readSafetensorsHeader(rawFile({ __metadata__: { format: 1 } }), 'meta.safetensors')).rejects.toThrow(/__metadata__ value of "format" is number/);
  });
});

describe('safetensors writer', () => {
  it('writes a file the reader accepts, with aligned data, metadata and the same bytes', async () => {
    const a = new Uint8Array(new Float32Array([1, 2, 3]).buffer);
    const b = new Uint8Array([1, 2, 3, 4, 5, 6]);
    const blob = writeSafetensors(
      [
        { name: 'x.lora_A.weight', dtype: 'F32', shape: [1, 3], data: a },
        { name: 'x.lora_B.weight', dtype: 'BF16', shape: [3, 1], data: b },
      ],
      { format: 'pt' },
    );
    const file = await readSafetensorsHeader(blob, 'adapter_model.safetensors');
    expect(file.dataStart % 8).toBe(0);
    expect(file.metadata).toEqual({ format: 'pt' });
    expect(Array.from(await readTensorBytes(file, 'x.lora_B.weight'))).toEqual([1, 2, 3, 4, 5, 6]);
    expect(Array.from(new Float32Array((await readTensorBytes(file, 'x.lora_A.weight')).slice().buffer))).toEqual([1, 2, 3]);
  });

  it('refuses data whose length does not match its shape', () => {
    expect(() => writeSafetensors([{ name: 'w', dtype: 'F32', shape: [2], data: new Uint8Array(4) }])).toThrow(/tensor "w" has 4 bytes; F32 \[2\] needs 8/);
  });
});
