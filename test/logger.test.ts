import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../src/logger.js';

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
});
