import { describe, expect, it } from 'vitest';
import { secondsLeft, TransferRate } from './transfer-rate.ts';

describe('download speed and time left', () => {
  it('says nothing until the samples span a quarter of a second', () => {
    const rate = new TransferRate();
    rate.add(0, 0);
    rate.add(100, 50_000);
    expect(rate.bytesPerSecond()).toBeUndefined();
    rate.add(500, 250_000);
    expect(rate.bytesPerSecond()).toBe(500_000);
  });

  it('measures the last few seconds, not the whole download', () => {
    const rate = new TransferRate(3000);
    rate.add(0, 0);
    rate.add(1000, 10_000_000); // a fast first second
    for (let t = 2000; t <= 10_000; t += 1000) rate.add(t, 10_000_000 + (t - 1000) * 100); // then 100 kB/s
    expect(rate.bytesPerSecond()).toBe(100_000);
  });

  it('turns the bytes left into seconds, and refuses to guess at no speed', () => {
    expect(secondsLeft(1_000_000, 250_000)).toBe(4);
    expect(secondsLeft(1_000_000, 0)).toBeUndefined();
    expect(secondsLeft(1_000_000, undefined)).toBeUndefined();
  });
});
