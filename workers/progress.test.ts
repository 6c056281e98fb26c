import { describe, expect, it } from 'vitest';
import { everyInterval } from './progress.ts';

describe('progress throttling', () => {
  it('passes the first event, then at most one per interval, and always the one that completes', () => {
    let clock = 0;
    const sent: number[] = [];
    const throttled = everyInterval<{ done: number; total: number }>(100, (event) => sent.push(event.done), () => clock);
    for (let done = 1; done <= 10; done++) {
      clock += 30;
      throttled({ done, total: 10 });
    }
    expect(sent).toEqual([1, 5, 9, 10]);
  });
});
