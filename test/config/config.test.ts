import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/config.js';
import { parseTemplates } from '../../src/config/templates.js';

const root = join(import.meta.dirname, '..', '..');

function problemsOf(env: Record<string, string>, cwd = root): string[] {
  try {
    loadConfig(env, cwd);
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  return [];
}

describe('config', () => {
  it('with nothing set: the sandbox, on loopback, with the shipped catalogue', () => {
    const c = loadConfig({}, root);
    expect(c.slack.mode).toBe('console');
    expect(c.cloud).toBe('sandbox');
    expect(c.http).toEqual({ port: 3000, host: '127.0.0.1' });
    expect(c.templates.map((t) => t.name)).toEqual(['api', 'worker', 'demo']);
    expect(Object.isFrozen(c) && Object.isFrozen(c.slack)).toBe(true);
  });

  it('Slack and AWS when configured; Socket Mode with an app token', () => {
    const c = loadConfig({ SLACK_BOT_TOKEN: 'xoxb-1', SLACK_SIGNING_SECRET: 's', AWS_REGION: 'eu-west-1', DORMOUSE_OPS_CHANNEL: 'C0OPS' }, root);
    expect(c.slack.mode).toBe('http');
    expect(c.http.host).toBe('0.0.0.0');
    expect(c.cloud).toBe('aws');
    expect(c.table.create).toBe(false);
    const s = loadConfig({ SLACK_BOT_TOKEN: 'xoxb-1', SLACK_APP_TOKEN: 'xapp-1', DORMOUSE_OPS_CHANNEL: 'C0OPS' }, root);
    expect(s.slack.mode).toBe('socket');
  });

  it('a region in the shell alone keeps the sandbox local; an endpoint or DORMOUSE_CLOUD=aws does not', () => {
    expect(loadConfig({ AWS_REGION: 'eu-west-1', AWS_DEFAULT_REGION: 'eu-west-1' }, root).cloud).toBe('sandbox');
    expect(loadConfig({ AWS_REGION: 'eu-west-1', DORMOUSE_CLOUD: 'aws' }, root).cloud).toBe('aws');
    expect(loadConfig({ AWS_ENDPOINT_URL: 'http://127.0.0.1:5000', AWS_REGION: 'us-east-1' }, root).cloud).toBe('aws');
  });

  it('names every problem at once, in one message', () => {
    const problems = problemsOf({
      SLACK_SIGNING_SECRET: 's',
      SLACK_API_URL: 'slack.example',
      PORT: 'eighty',
      AWS_ENDPOINT_URL: 'localhost:5000',
      DORMOUSE_OPS_CHANNEL: '#ops',
      DORMOUSE_ADMINS: 'U0OK,bob',
      LOG_LEVEL: 'loud',
      DORMOUSE_SANDBOX_FAULTS: 'earthquake',
      DORMOUSE_TEMPLATES: 'nowhere.yml',
    });
    const text = problems.join('\n');
    for (const key of ['SLACK_BOT_TOKEN', 'SLACK_API_URL', 'PORT', 'AWS_REGION', 'AWS_ENDPOINT_URL', 'DORMOUSE_OPS_CHANNEL', 'DORMOUSE_ADMINS', 'LOG_LEVEL', 'DORMOUSE_SANDBOX_FAULTS', 'DORMOUSE_TEMPLATES']) {
      expect(text).toContain(key);
    }
    expect(() => loadConfig({ PORT: 'eighty', LOG_LEVEL: 'loud' }, root)).toThrowError(/Dormouse cannot start[\s\S]*PORT=eighty[\s\S]*LOG_LEVEL=loud/);
  });

  it('a broken templates file is reported with the path of each problem', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dormouse-config-'));
    writeFileSync(join(dir, 't.yml'), 'templates:\n  - name: Bad Name\n    image: centos\n');
    const text = problemsOf({ DORMOUSE_TEMPLATES: 't.yml' }, dir).join('\n');
    expect(text).toMatch(/templates\[0\]\.name/);
    expect(text).toMatch(/templates\[0\]\.description/);
    expect(text).toMatch(/templates\[0\]\.image/);
    expect(text).toMatch(/templates\[0\]\.instanceTypes/);
    writeFileSync(join(dir, 'bad.yml'), 'templates: [\n');
    expect(problemsOf({ DORMOUSE_TEMPLATES: 'bad.yml' }, dir).join('\n')).toMatch(/not valid YAML/);
  });
});

describe('templates', () => {
  const base = {
    name: 'api',
    description: 'API',
    image: 'ami-0123456789abcdef0',
    instanceTypes: { 't3.small': 0.02 },
  };

  it('fills defaults', () => {
    const { templates, problems } = parseTemplates({ templates: [base] });
    expect(problems).toEqual([]);
    expect(templates[0]).toMatchObject({ instanceType: 't3.small', servers: { min: 1, max: 1, default: 1 }, bootstrap: [], tags: {} });
  });

  it.each([
    [{ servers: { min: 3, max: 2 } }, /servers/],
    [{ instanceType: 'm5.large' }, /instanceType: the default type must be one of/],
    [{ tags: { 'managed-by': 'me' } }, /reserved/],
    [{ bootstrap: [{ name: 'a', run: 'x', timeoutSeconds: 1 }] }, /timeoutSeconds/],
    [{ bootstrap: [{ name: 'a', run: 'x' }, { name: 'a', run: 'y' }] }, /used twice/],
    [{ volumes: [{ device: 'sda', sizeGiB: 0 }] }, /volumes\[0\]/],
    [{ subnets: ['vpc-1'] }, /subnet ids/],
  ])('refuses %j', (patch, problem) => {
    const { problems } = parseTemplates({ templates: [{ ...base, ...patch }] });
    expect(problems.join('\n')).toMatch(problem);
  });

  it('refuses two templates with one name', () => {
    expect(parseTemplates({ templates: [base, base] }).problems.join()).toMatch(/used twice/);
  });
});
