import { describe, expect, it } from 'vitest';
import { Random } from './random.ts';

describe('Random (xoshiro128**)', () => {
  it('matches the reference sequence of xoshiro128** from state [1, 2, 3, 4]', () => {
    const random = Random.fromState([1, 2, 3, 4]);
    const drawn = Array.from({ length: 6 }, () => random.nextUint32());
    expect(drawn).toEqual([11520, 0, 5927040, 70819200, 2031721883, 1637235492]);
  });

  it('continues identically from a serialized state', () => {
    const a = Random.fromSeed(42);
    for (let i = 0; i < 17; i++) a.next();
    const b = Random.fromState(JSON.parse(JSON.stringify(a.state())) as [number, number, number, number]);
    expect(Array.from({ length: 50 }, () => b.next())).toEqual(Array.from({ length: 50 }, () => a.next()));
  });

  it('draws integers in [0, n) with roughly equal frequency', () => {
    const random = Random.fromSeed(7);
    const counts = new Array<number>(5).fill(0);
    for (let i = 0; i < 50_000; i++) counts[random.int(5)]!++;
    for (const count of counts) expect(Math.abs(count - 10_000)).toBeLessThan(400);
  });

  it('refuses an all-zero state, from which xoshiro never leaves zero', () => {
    expect(() => Random.fromState([0, 0, 0, 0])).toThrow(/all zero/);
  });
});
