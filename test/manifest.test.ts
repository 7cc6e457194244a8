/**
 * manifest.yml is what an admin pastes into Slack: it must be valid against
 * Slack's own schema, and name the command, the request URL and every scope
 * the code needs — derived here from the Web API methods the code calls.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const root = join(import.meta.dirname, '..');
const manifest = parse(readFileSync(join(root, 'manifest.yml'), 'utf8'));

/** Web API method → the bot scope it needs (Slack's documentation). */
const SCOPE_OF: Record<string, string | undefined> = {
  'chat.postMessage': 'chat:write',
  'chat.update': 'chat:write',
  'chat.postEphemeral': 'chat:write',
  'chat.delete': 'chat:write',
  'conversations.open': 'im:write',
  'users.info': 'users:read',
  'conversations.history': 'im:history',
  'usergroups.users.list': 'usergroups:read',
  'views.open': undefined,
  'views.update': undefined,
  'views.push': undefined,
  'views.publish': undefined,
  'auth.test': undefined,
  'api.test': undefined,
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) return p.includes('sandbox') ? [] : sourceFiles(p);
    return p.endsWith('.ts') ? [p] : [];
  });
}

describe('manifest.yml', () => {
  it('is valid against Slack\'s app manifest schema', () => {
    // A copy of Slack's schema kept in the repo (see test/fixtures/slack/README.md).
    const schemaPath = join(root, 'test', 'fixtures', 'slack', 'slack-manifest-1.0.0.json');
    let schema: object;
    try {
      schema = JSON.parse(readFileSync(schemaPath, 'utf8'));
    } catch {
      throw new Error(`Slack's manifest schema is expected at ${schemaPath}`);
    }
    const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
    const validate = ajv.compile(schema);
    expect(validate(manifest), JSON.stringify(validate.errors, null, 2)).toBe(true);
  });

  it('names the /server command and points it and interactivity at /slack/events', () => {
    const cmd = manifest.features.slash_commands.find((c: { command: string }) => c.command === '/server');
    expect(cmd).toBeDefined();
    expect(cmd.url).toMatch(/\/slack\/events$/);
    expect(manifest.settings.interactivity.is_enabled).toBe(true);
    expect(manifest.settings.interactivity.request_url).toMatch(/\/slack\/events$/);
  });

  it('asks for every scope the code uses, and no other', () => {
    const code = sourceFiles(join(root, 'src')).map((f) => readFileSync(f, 'utf8')).join('\n');
    const used = new Set<string>(['commands']);
    for (const [method, scope] of Object.entries(SCOPE_OF)) {
      if (scope && new RegExp(`\\.${method.replace(/\./g, '\\.')}\\(`).test(code)) used.add(scope);
    }
    // Any Web API call the table above does not know would slip through: fail instead.
    const calls = [...code.matchAll(/client\.(\w+(?:\.\w+)+)\(/g)].map((m) => m[1]!);
    for (const c of calls) expect(Object.keys(SCOPE_OF), `scope of ${c} unknown to this test`).toContain(c);
    expect([...manifest.oauth_config.scopes.bot].sort()).toEqual([...used].sort());
  });

  it('subscribes to every event the app listens to, at /slack/events', () => {
    const code = sourceFiles(join(root, 'src')).map((f) => readFileSync(f, 'utf8')).join('\n');
    const listened = [...code.matchAll(/app\.event\('([a-z_]+)'/g)].map((m) => m[1]);
    expect(listened.length).toBeGreaterThan(0);
    expect([...manifest.settings.event_subscriptions.bot_events].sort()).toEqual([...new Set(listened)].sort());
    expect(manifest.settings.event_subscriptions.request_url).toMatch(/\/slack\/events$/);
    if (listened.includes('app_home_opened')) expect(manifest.features.app_home.home_tab_enabled).toBe(true);
  });
});
