/** The correlation id travels in the async context: to what is awaited, and to what is started and left running. */
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { CORRELATION_ID, currentCorrelation, currentCorrelationId, newCorrelationId, withCorrelation } from '../../../src/core/ports/correlation.js';

describe('correlation', () => {
  it('is absent outside any correlation', () => {
    expect(currentCorrelation()).toBeUndefined();
    expect(currentCorrelationId()).toBeUndefined();
  });

  it('makes short, distinct ids', () => {
    const ids = new Set(Array.from({ length: 1000 }, () => newCorrelationId()));
    expect(ids.size).toBe(1000);
    for (const id of ids) expect(id).toMatch(CORRELATION_ID);
  });

  it('is the id given, inside the function and everything it awaits, and returns what the function returns', async () => {
    const out = await withCorrelation('c-000000000001', async () => {
      expect(currentCorrelation()).toEqual({ correlationId: 'c-000000000001' });
      await sleep(1);
      return currentCorrelationId();
    });
    expect(out).toBe('c-000000000001');
    expect(currentCorrelationId()).toBeUndefined();
  });

  it('reaches work started in the background (a promise not awaited, a timer), after the function returned', async () => {
    const seen: Array<string | undefined> = [];
    let background: Promise<void> | undefined;
    withCorrelation('c-0000000000aa', () => {
      background = (async () => {
        await sleep(5);
        seen.push(currentCorrelationId());
      })();
      setTimeout(() => seen.push(currentCorrelationId()), 1);
    });
    expect(currentCorrelationId()).toBeUndefined();
    await background;
    await sleep(5);
    expect(seen).toEqual(['c-0000000000aa', 'c-0000000000aa']);
  });

  it('keeps concurrent correlations apart, and an inner one wins until it ends', async () => {
    const run = (id: string) =>
      withCorrelation(id, async () => {
        const seen: Array<string | undefined> = [];
        for (let i = 0; i < 3; i++) {
          await sleep(Math.random() * 3);
          seen.push(currentCorrelationId());
        }
        const inner = await withCorrelation('c-inner0000000', async () => (await sleep(1), currentCorrelationId()));
        seen.push(inner, currentCorrelationId());
        return seen;
      });
    const [a, b] = await Promise.all([run('c-00000000000a'), run('c-00000000000b')]);
    expect(a).toEqual(['c-00000000000a', 'c-00000000000a', 'c-00000000000a', 'c-inner0000000', 'c-00000000000a']);
    expect(b).toEqual(['c-00000000000b', 'c-00000000000b', 'c-00000000000b', 'c-inner0000000', 'c-00000000000b']);
  });
});
