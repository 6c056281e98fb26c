import { describe, expect, it } from 'vitest';
import { finiteDifferenceGradient, relativeError, weightedSum } from '../../../test/numeric.ts';
import { Random } from '../../util/random.ts';
import { ropeBackwardReference, ropeForwardReference, ropeInverseFrequencies, ropeRotaryDim } from './rope.ts';

const LLAMA_3_2_1B = {
  headDim: 64,
  partialRotaryFactor: 1,
  ropeTheta: 500000,
  ropeScaling: { factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 },
};

describe('ropeInverseFrequencies: inv_freq as transformers computes it', () => {
  it('gives 1 / theta^(2i / D) without scaling (theta 10000, D 16)', () => {
    const inverse = ropeInverseFrequencies({ headDim: 16, partialRotaryFactor: 1, ropeTheta: 10000, ropeScaling: null });
    // 10000^(-i/8): 1, 10^-0.5, 10^-1, 10^-1.5, ...
    expect(Array.from(inverse)).toHaveLength(8);
    for (let i = 0; i < 8; i++) expect(inverse[i]).toBeCloseTo(10 ** (-i / 2), 15);
  });

  it('uses rotary_dim = int(head_dim · partial_rotary_factor) for partial rotary', () => {
    const inverse = ropeInverseFrequencies({ headDim: 64, partialRotaryFactor: 0.25, ropeTheta: 10000, ropeScaling: null });
    expect(inverse).toHaveLength(8);
    expect(inverse[1]).toBeCloseTo(10000 ** (-2 / 16), 15);
  });

  it('matches hand-computed Llama 3 scaling for Llama-3.2-1B (theta 500000, factor 32, low 1, high 4, original 8192)', () => {
    const inverse = ropeInverseFrequencies(LLAMA_3_2_1B);
    expect(inverse).toHaveLength(32);
    // Wavelengths 2π/f below 8192/4 = 2048 keep f: i ≤ 14 (f_i = 500000^(-i/32)).
    expect(inverse[0]).toBe(1);
    expect(inverse[14]).toBeCloseTo(0.0032114459947525913, 17);
    // i = 16 is worked by hand: f = 500000^-0.5 = 0.00141421356237, wavelength = 2π/f = 4442.8829,
    // smooth = (8192 / 4442.8829 − 1) / (4 − 1) = 0.281280, so
    // f' = (1 − 0.281280)·f/32 + 0.281280·f = 0.000429556796559.
    const f16 = 500000 ** -0.5;
    const smooth = (8192 / ((2 * Math.PI) / f16) - 1) / 3;
    expect(smooth).toBeCloseTo(0.28128, 5);
    expect(inverse[16]).toBeCloseTo((1 - smooth) * (f16 / 32) + smooth * f16, 18);
    expect(inverse[16]).toBeCloseTo(0.00042955679655936815, 17);
    // Between 2048 and 8192 (i = 15, 16, 17) the frequencies are blended.
    expect(inverse[15]).toBeCloseTo(0.001290547928209264, 17);
    expect(inverse[17]).toBeCloseTo(9.70828780262767e-5, 18);
    // Wavelengths over 8192/1 are divided by the factor: i ≥ 18.
    expect(inverse[18]).toBeCloseTo(500000 ** (-18 / 32) / 32, 20);
    expect(inverse[31]).toBeCloseTo(9.418306725434909e-8, 22);
  });

  it("divide by LongRoPE's short factors up to original_max_position_embeddings and by its long factors past it", () => {
    const scaling = { shortFactor: [1, 2, 4], longFactor: [3, 5, 7], originalMaxPositionEmbeddings: 4096, attentionFactor: 1.2 };
    const parameters = { headDim: 8, partialRotaryFactor: 0.75, ropeTheta: 10000, ropeScaling: scaling };
    const plain = [1, 10000 ** (-2 / 6), 10000 ** (-4 / 6)];
    expect(Array.from(ropeInverseFrequencies(parameters, 4096))).toEqual(plain.map((f, i) => f / scaling.shortFactor[i]!));
    expect(Array.from(ropeInverseFrequencies(parameters, 4097))).toEqual(plain.map((f, i) => f / scaling.longFactor[i]!));
    expect(() => ropeInverseFrequencies({ ...parameters, partialRotaryFactor: 1 })).toThrow(/LongRoPE needs 4 factors \(rotary_dim \/ 2\), got 3/);
  });

  it('refuses a partial_rotary_factor that leaves an odd number of rotary dims', () => {
    expect(() => ropeRotaryDim({ headDim: 64, partialRotaryFactor: 0.4 })).toThrow(/even rotary_dim.*gives 25/);
  });

  it('refuses Llama 3 scaling with high_freq_factor not above low_freq_factor', () => {
    const ropeScaling = { ...LLAMA_3_2_1B.ropeScaling, highFreqFactor: 1 };
    expect(() => ropeInverseFrequencies({ ...LLAMA_3_2_1B, ropeScaling })).toThrow(/low_freq_factor < high_freq_factor/);
  });
});

describe('rope reference', () => {
  const random = Random.fromSeed(3);
  const values = (count: number): Float64Array => Float64Array.from({ length: count }, () => random.uniform(-1, 1));
  const shape = { BT: 3, heads: 2, D: 10, positions: [0, 5, 1234] };
  // rotary_dim 6 of D 10: four pass-through dims per head.
  const inverseFrequencies = ropeInverseFrequencies({ headDim: 10, partialRotaryFactor: 0.6, ropeTheta: 10000, ropeScaling: null });

  it('leaves a vector at position 0 unchanged', () => {
    const x = values(2 * 8);
    const y = ropeForwardReference({ BT: 1, heads: 2, D: 8, positions: [0], inverseFrequencies: [1, 0.1, 0.01], x });
    expect(relativeError(y, x)).toBe(0);
  });

  it('rotates pair (i, i + half) by position · inv_freq[i] and passes the other dims through', () => {
    const x = values(shape.BT * shape.heads * shape.D);
    const y = ropeForwardReference({ ...shape, inverseFrequencies, x });
    const base = (2 * shape.heads + 1) * shape.D; // row 2, head 1
    const angle = 1234 * inverseFrequencies[1]!;
    expect(y[base + 1]).toBeCloseTo(x[base + 1]! * Math.cos(angle) - x[base + 4]! * Math.sin(angle), 14);
    expect(y[base + 4]).toBeCloseTo(x[base + 4]! * Math.cos(angle) + x[base + 1]! * Math.sin(angle), 14);
    for (let d = 6; d < 10; d++) expect(y[base + d]).toBe(x[base + d]);
  });

  it('with a scale (LongRoPE attention factor), scales the rotary dims only, and its backward matches finite differences', () => {
    const x = values(shape.BT * shape.heads * shape.D);
    const plain = ropeForwardReference({ ...shape, inverseFrequencies, x });
    const scaled = ropeForwardReference({ ...shape, inverseFrequencies, x, scale: 1.19 });
    for (let i = 0; i < x.length; i++) expect(scaled[i]).toBeCloseTo(i % shape.D < 6 ? 1.19 * plain[i]! : x[i]!, 14);
    const g = values(x.length);
    const dx = ropeBackwardReference({ ...shape, inverseFrequencies, dy: g, scale: 1.19 });
    const numeric = finiteDifferenceGradient(() => weightedSum(ropeForwardReference({ ...shape, inverseFrequencies, x, scale: 1.19 }), g), x);
    expect(relativeError(dx, numeric)).toBeLessThan(1e-8);
  });

  it('backward matches central finite differences of Σ y·g', () => {
    const x = values(shape.BT * shape.heads * shape.D);
    const g = values(x.length);
    const dx = ropeBackwardReference({ ...shape, inverseFrequencies, dy: g });
    const numeric = finiteDifferenceGradient(() => weightedSum(ropeForwardReference({ ...shape, inverseFrequencies, x }), g), x);
    expect(relativeError(dx, numeric)).toBeLessThan(1e-8);
  });
});
