/**
 * `SlackDouble.failRate`: a fraction of the bot's calls failed at random, as
 * Slack fails them (500, 429 with Retry-After), seeded so a run can be
 * replayed; armed faults (`failNext`) first; nothing applied by a failed call.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SlackDouble } from '../../../../src/adapters/sandbox/slack-console/slack-double.js';

const BOT_TOKEN = 'xoxb-fail-rate';
let double: SlackDouble;

beforeAll(async () => {
  double = new SlackDouble({ signingSecret: 'fail-rate-secret', botToken: BOT_TOKEN });
  await double.listen();
});
afterAll(() => double.close());
afterEach(() => double.reset());

const post = (method: string, args: Record<string, string>) =>
  fetch(`${double.apiUrl}${method}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${BOT_TOKEN}`, 'content-type': 'application/json; charset=utf-8' },
    body: JSON.stringify(args),
  });

async function statuses(n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push((await post('chat.postMessage', { channel: 'C0GENERAL', text: `m${i}` })).status);
  return out;
}

describe('SlackDouble.failRate', () => {
  it('fails about the fraction asked, with the statuses asked; a failed call posts nothing and is no problem', async () => {
    double.failRate({ rate: 0.25, statuses: [500, 429], seed: 7 });
    const got = await statuses(200);
    const failed = got.filter((s) => s !== 200);
    expect(failed.length).toBeGreaterThan(30);
    expect(failed.length).toBeLessThan(70);
    expect(new Set(failed)).toEqual(new Set([500, 429]));
    expect(double.channelMessages('general')).toHaveLength(200 - failed.length);
    expect(double.calls.filter((c) => c.injected)).toHaveLength(failed.length);
    expect(double.problems).toEqual([]);
  });

  it('is the same sequence for the same seed, and stops when told', async () => {
    double.failRate({ rate: 0.3, seed: 42 });
    const first = await statuses(40);
    double.failRate({ rate: 0.3, seed: 42 });
    expect(await statuses(40)).toEqual(first);
    double.failRate(undefined);
    expect(new Set(await statuses(20))).toEqual(new Set([200]));
  });

  it('says when to come back on a 429, fails only the methods named, and lets armed faults go first', async () => {
    double.failRate({ rate: 1, statuses: [429], retryAfterSeconds: 3, methods: ['chat.update'] });
    const posted = await post('chat.postMessage', { channel: 'C0GENERAL', text: 'v1' });
    expect(posted.status).toBe(200);
    const { ts } = (await posted.json()) as { ts: string };
    const limited = await post('chat.update', { channel: 'C0GENERAL', ts, text: 'v2' });
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('3');
    double.failNext({ method: 'chat.update', status: 500 });
    expect((await post('chat.update', { channel: 'C0GENERAL', ts, text: 'v3' })).status).toBe(500);
    expect(double.message('general', ts)?.text).toBe('v1');
    // clearFaults stops the rate too.
    double.clearFaults();
    expect((await post('chat.update', { channel: 'C0GENERAL', ts, text: 'v4' })).status).toBe(200);
  });

  it('refuses a rate or a status Slack does not have', () => {
    expect(() => double.failRate({ rate: 1.5 })).toThrow(/rate/);
    expect(() => double.failRate({ rate: 0.1, statuses: [] })).toThrow(/statuses/);
  });
});
