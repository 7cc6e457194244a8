import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { withCorrelation } from '../src/core/ports/correlation.js';
import { createLogger } from '../src/logger.js';

function capture(): { lines: () => Array<Record<string, unknown>>; text: () => string; sink: Writable } {
  const out: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      out.push(chunk.toString());
      done();
    },
  });
  return { sink, text: () => out.join(''), lines: () => out.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>) };
}

describe('logger', () => {
  it('redacts tokens, secrets and response URLs wherever they appear', () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const log = createLogger('info', sink);
    log.info({ token: 'xoxb-secret-1', body: { response_url: 'https://hooks.slack.com/x', token: 'xoxb-secret-2' }, slack: { botToken: 'xoxb-secret-3', signingSecret: 's3cr3t' }, headers: { authorization: 'Bearer xoxb-secret-4' } }, 'a request');
    const out = lines.join('');
    expect(out).toContain('a request');
    for (const secret of ['xoxb-secret-1', 'xoxb-secret-2', 'xoxb-secret-3', 'xoxb-secret-4', 's3cr3t', 'hooks.slack.com']) expect(out).not.toContain(secret);
    expect(out).toContain('[redacted]');
  });

  it('adds the correlation under way to every line, child loggers included, and nothing outside one', async () => {
    const { sink, lines } = capture();
    const log = createLogger('debug', sink);
    log.info({}, 'before');
    await withCorrelation('c-0123456789ab', async () => {
      log.info({ user: 'U1' }, 'root');
      await Promise.resolve();
      log.child({ component: 'aws' }).debug({ service: 'ec2' }, 'child');
    });
    log.info({}, 'after');
    const [before, root, child, after] = lines();
    expect(before).not.toHaveProperty('correlationId');
    expect(root).toMatchObject({ msg: 'root', user: 'U1', correlationId: 'c-0123456789ab' });
    expect(child).toMatchObject({ msg: 'child', component: 'aws', service: 'ec2', correlationId: 'c-0123456789ab' });
    expect(after).not.toHaveProperty('correlationId');
  });

  it('writes the id once, and a line that names its own correlation keeps it', () => {
    const { sink, lines, text } = capture();
    const log = createLogger('info', sink);
    withCorrelation('c-0123456789ab', () => {
      log.info({ correlationId: 'c-0123456789ab' }, 'same');
      log.info({ correlationId: 'c-ffffffffffff' }, 'own');
    });
    const raw = lines();
    expect(raw[0]!.correlationId).toBe('c-0123456789ab');
    expect(raw[1]!.correlationId).toBe('c-ffffffffffff');
    for (const line of text().trim().split('\n')) expect(line.match(/"correlationId"/g)).toHaveLength(1);
  });
});
