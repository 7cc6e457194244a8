/**
 * The Slack double stays readable: split by concern into files a person can
 * hold in their head (under 500 lines, each saying what it holds at the top),
 * while the import paths tests and the composition use keep working.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as facade from '../../../../src/adapters/sandbox/slack-console/slack-double.js';

const ROOT = join(import.meta.dirname, '..', '..', '..', '..', 'src', 'adapters', 'sandbox', 'slack-console');
const sources = readdirSync(ROOT, { recursive: true, encoding: 'utf8' })
  .filter((f) => f.endsWith('.ts'))
  .map((f) => ({ name: relative(ROOT, join(ROOT, f)), text: readFileSync(join(ROOT, f), 'utf8') }));

describe('the Slack double and console, file by file', () => {
  it('has its parts in double/ (the split happened)', () => {
    expect(sources.filter((s) => s.name.startsWith('double')).length).toBeGreaterThanOrEqual(8);
  });

  it.each(sources.map((s) => [s.name, s.text] as const))('%s is under 500 lines and opens with a comment saying what it holds', (_name, text) => {
    expect(text.split('\n').length).toBeLessThan(500);
    expect(text.trimStart()).toMatch(/^\/\*\*\s*\n?\s*\*?\s*\S/);
  });

  it('keeps the public face where tests and the composition import it', () => {
    expect(typeof facade.SlackDouble).toBe('function');
    expect(typeof facade.visibleText).toBe('function');
    expect(facade.BOT_USER_ID).toBe('U0BOT');
    expect(facade.DEFAULT_CHANNELS.map((c) => c.name)).toEqual(['general', 'ops']);
    const double = new facade.SlackDouble({ signingSecret: 's', botToken: 't' });
    for (const method of ['listen', 'close', 'handle', 'channelMessages', 'ephemerals', 'openViews', 'slashCommand', 'clickButton', 'selectOption', 'submitView', 'closeView', 'failNext', 'reset', 'waitFor', 'settled']) {
      expect(typeof (double as unknown as Record<string, unknown>)[method], method).toBe('function');
    }
  });
});
