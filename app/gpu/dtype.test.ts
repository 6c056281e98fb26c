import { describe, expect, it } from 'vitest';
import { Random } from '../util/random.ts';
import { bf16BitsToF32, decodeTensorData, encodeTensorData, f16BitsToF32, f32ToBf16Bits, f32ToF16Bits, storageBytes } from './dtype.ts';

describe('f16 conversion', () => {
  it('encodes known values exactly', () => {
    expect(f32ToF16Bits(1)).toBe(0x3c00);
    expect(f32ToF16Bits(-2)).toBe(0xc000);
    expect(f32ToF16Bits(65504)).toBe(0x7bff);
    expect(f32ToF16Bits(2 ** -24)).toBe(0x0001);
    expect(f32ToF16Bits(0.1)).toBe(0x2e66);
    expect(f32ToF16Bits(-0)).toBe(0x8000);
  });

  it('overflows to infinity past the largest half and keeps NaN a NaN', () => {
    expect(f32ToF16Bits(65520)).toBe(0x7c00);
    expect(f32ToF16Bits(-Infinity)).toBe(0xfc00);
    expect(Number.isNaN(f16BitsToF32(f32ToF16Bits(NaN)))).toBe(true);
  });

  it('round-trips every finite half bit pattern', () => {
    for (let bits = 0; bits < 0x10000; bits++) {
      if ((bits & 0x7c00) === 0x7c00) continue;
      expect(f32ToF16Bits(f16BitsToF32(bits))).toBe(bits);
    }
  });

  it('rounds random floats to the nearest half, ties to even (checked against both neighbours in Float64)', () => {
    const random = Random.fromSeed(3);
    for (let i = 0; i < 20_000; i++) {
      const value = Math.fround(random.uniform(-1, 1) * 2 ** random.int(30) * 2 ** -20);
      const bits = f32ToF16Bits(value);
      const chosen = f16BitsToF32(bits);
      const magnitude = bits & 0x7fff;
      for (const neighbour of [magnitude - 1, magnitude + 1]) {
        if (neighbour < 0 || neighbour >= 0x7c00) continue;
        const other = f16BitsToF32((bits & 0x8000) | neighbour);
        const distance = Math.abs(value - chosen);
        const otherDistance = Math.abs(value - other);
        expect(distance <= otherDistance).toBe(true);
        if (distance === otherDistance) expect(magnitude & 1).toBe(0);
      }
    }
  });
});

describe('bf16 conversion', () => {
  it('encodes known values exactly', () => {
    expect(f32ToBf16Bits(1)).toBe(0x3f80);
    expect(f32ToBf16Bits(Math.PI)).toBe(0x4049);
    expect(f32ToBf16Bits(-0.5)).toBe(0xbf00);
  });

  it('rounds halfway cases to even', () => {
    expect(f32ToBf16Bits(1 + 2 ** -8)).toBe(0x3f80);
    expect(f32ToBf16Bits(1 + 3 * 2 ** -8)).toBe(0x3f82);
  });

  it('keeps NaN a NaN instead of rounding it to infinity', () => {
    expect(Number.isNaN(bf16BitsToF32(f32ToBf16Bits(NaN)))).toBe(true);
  });
});

describe('packed tensors', () => {
  it('packs halves two per u32, element 2i in the low half, padding odd counts to a whole word', () => {
    const packed = encodeTensorData('f16', [1, -2, 0.5]);
    expect(packed.length).toBe(2);
    expect(packed[0]).toBe(((0xc000 << 16) | 0x3c00) >>> 0);
    expect(packed[1]! & 0xffff).toBe(0x3800);
    expect(storageBytes('bf16', 3)).toBe(8);
  });

  it('decodes to the values the shader sees', () => {
    const values = [0.1, -3.3, 7, 1e-3, 123.456];
    expect(Array.from(decodeTensorData('bf16', encodeTensorData('bf16', values), 5))).toEqual(values.map((v) => bf16BitsToF32(f32ToBf16Bits(v))));
    expect(Array.from(decodeTensorData('f32', encodeTensorData('f32', values), 5))).toEqual(values.map(Math.fround));
  });
});
