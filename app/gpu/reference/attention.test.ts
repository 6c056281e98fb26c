import { describe, expect, it } from 'vitest';
import { finiteDifferenceGradient, relativeError, weightedSum } from '../../../test/numeric.ts';
import { Random } from '../../util/random.ts';
import { attentionBackwardReference, attentionReference, type AttentionReferenceInputs } from './attention.ts';

interface Shape {
  B: number;
  T: number;
  Tk: number;
  H: number;
  Hkv: number;
  D: number;
  segments?: number[];
  scale?: number;
  window?: number;
}

function randomInputs({ B, T, Tk, H, Hkv, D, segments, scale, window }: Shape, seed = 1): AttentionReferenceInputs & { q: Float64Array; k: Float64Array; v: Float64Array } {
  const random = Random.fromSeed(seed);
  const values = (count: number) => Float64Array.from({ length: count }, () => random.uniform(-1.5, 1.5));
  return {
    B, T, Tk, H, Hkv, D,
    q: values(B * T * H * D),
    k: values(B * Tk * Hkv * D),
    v: values(B * Tk * Hkv * D),
    ...(segments ? { segments } : {}),
    ...(scale !== undefined ? { scale } : {}),
    ...(window !== undefined ? { window } : {}),
  };
}

/** Checks the analytic gradients of Σ W ⊙ O against central differences, for q, k and v. */
function expectGradientsMatchFiniteDifferences(shape: Shape): void {
  const inputs = randomInputs(shape);
  const weights = Random.fromSeed(99).fillUniform(new Float32Array(shape.B * shape.T * shape.H * shape.D), -1, 1);
  const loss = () => weightedSum(attentionReference(inputs).o, weights);
  const analytic = attentionBackwardReference(inputs, weights);
  expect(relativeError(analytic.dq, finiteDifferenceGradient(loss, inputs.q))).toBeLessThan(1e-7);
  expect(relativeError(analytic.dk, finiteDifferenceGradient(loss, inputs.k))).toBeLessThan(1e-7);
  expect(relativeError(analytic.dv, finiteDifferenceGradient(loss, inputs.v))).toBeLessThan(1e-7);
}

describe('attention reference backward', () => {
  it('matches central finite differences for q, k and v with causal grouped-query heads (B=2 T=4 H=4 Hkv=2 D=3)', () => {
    expectGradientsMatchFiniteDifferences({ B: 2, T: 4, Tk: 4, H: 4, Hkv: 2, D: 3 });
  });

  it('matches central finite differences with one kv head for three query heads and a custom scale', () => {
    expectGradientsMatchFiniteDifferences({ B: 1, T: 5, Tk: 5, H: 3, Hkv: 1, D: 2, scale: 0.9 });
  });

  it('matches central finite differences with packed segments and padding', () => {
    expectGradientsMatchFiniteDifferences({ B: 2, T: 6, Tk: 6, H: 2, Hkv: 1, D: 3, segments: [1, 1, 2, 2, 2, 0, 0, 5, 5, 5, 5, 5] });
  });

  it('matches central finite differences for a query block after a KV cache (T=3 Tk=7)', () => {
    expectGradientsMatchFiniteDifferences({ B: 1, T: 3, Tk: 7, H: 4, Hkv: 2, D: 2 });
  });

  it('matches central finite differences with a sliding window of 3 over 7 positions, packed segments', () => {
    expectGradientsMatchFiniteDifferences({ B: 2, T: 7, Tk: 7, H: 2, Hkv: 1, D: 3, window: 3, segments: [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2] });
  });
});

describe('attention reference forward', () => {
  it('returns log Σ exp of the visible scores as the logsumexp', () => {
    const inputs = randomInputs({ B: 1, T: 2, Tk: 2, H: 1, Hkv: 1, D: 2 });
    const { q, k } = inputs;
    const score = (i: number, j: number) => (q[2 * i]! * k[2 * j]! + q[2 * i + 1]! * k[2 * j + 1]!) / Math.SQRT2;
    const { logsumexp } = attentionReference(inputs);
    expect(logsumexp[0]).toBeCloseTo(score(0, 0), 12);
    expect(logsumexp[1]).toBeCloseTo(Math.log(Math.exp(score(1, 0)) + Math.exp(score(1, 1))), 12);
  });

  it('gives a query with no visible key zero output, L = −∞ and no gradient', () => {
    // Left padding: positions 0 and 1 are padding, so the queries there see no key at all.
    const inputs = randomInputs({ B: 1, T: 4, Tk: 4, H: 2, Hkv: 1, D: 3, segments: [0, 0, 1, 1] });
    const { o, logsumexp } = attentionReference(inputs);
    const { dq } = attentionBackwardReference(inputs, new Float64Array(o.length).fill(1));
    const paddedRows = 2 * 2 * 3; // positions 0 and 1, both heads
    expect(Array.from(o.subarray(0, paddedRows)).every((x) => x === 0)).toBe(true);
    expect(Array.from(dq.subarray(0, paddedRows)).every((x) => x === 0)).toBe(true);
    expect([logsumexp[0], logsumexp[1], logsumexp[4], logsumexp[5]]).toEqual([-Infinity, -Infinity, -Infinity, -Infinity]);
    expect(Number.isFinite(logsumexp[2]!)).toBe(true);
  });

  it('keeps packed examples apart: keys of another segment do not change a query', () => {
    const shape = { B: 1, T: 5, Tk: 5, H: 1, Hkv: 1, D: 2, segments: [1, 1, 2, 2, 2] };
    const before = attentionReference(randomInputs(shape)).o;
    const changed = randomInputs(shape);
    changed.k.fill(7, 0, 4); // keys of segment 1
    changed.v.fill(-3, 0, 4);
    const after = attentionReference(changed).o;
    expect(Array.from(after.subarray(4))).toEqual(Array.from(before.subarray(4)));
    expect(Array.from(after.subarray(0, 4))).not.toEqual(Array.from(before.subarray(0, 4)));
  });

  it('a sliding window of w shows query p the keys p − w + 1 .. p: earlier keys change nothing', () => {
    const shape = { B: 1, T: 6, Tk: 6, H: 1, Hkv: 1, D: 2, window: 3 };
    const before = attentionReference(randomInputs(shape)).o;
    const changed = randomInputs(shape);
    changed.k.fill(7, 0, 2 * 2); // keys 0 and 1: outside the window of positions 4 and 5
    changed.v.fill(-3, 0, 2 * 2);
    const after = attentionReference(changed).o;
    expect(Array.from(after.subarray(4 * 2))).toEqual(Array.from(before.subarray(4 * 2)));
    // Position 3 sees keys 1..3, so it moves; with the window as wide as the sequence nothing is hidden.
    expect(after[3 * 2]).not.toEqual(before[3 * 2]);
    expect(Array.from(attentionReference(randomInputs({ ...shape, window: 6 })).o)).toEqual(Array.from(attentionReference(randomInputs({ ...shape, window: undefined })).o));
  });

  it('scales scores by 1/sqrt(D) unless told otherwise', () => {
    const shape = { B: 1, T: 3, Tk: 3, H: 2, Hkv: 2, D: 4 };
    const byDefault = attentionReference(randomInputs(shape)).o;
    expect(Array.from(attentionReference(randomInputs({ ...shape, scale: 0.5 })).o)).toEqual(Array.from(byDefault));
    expect(relativeError(attentionReference(randomInputs({ ...shape, scale: 2 })).o, byDefault)).toBeGreaterThan(1e-3);
  });
});
