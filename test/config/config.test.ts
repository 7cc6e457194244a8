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

describe('the sandbox clock', () => {
  it('starts at real time, at speed 1, unless told', () => {
    expect(loadConfig({}, root).sandbox.clock).toEqual({ speed: 1 });
  });

  it('takes an ISO 8601 instant in UTC or with an offset, and a speed', () => {
    const c = loadConfig({ DORMOUSE_SANDBOX_CLOCK: '2026-12-01T17:45:00+01:00', DORMOUSE_SANDBOX_CLOCK_SPEED: '60' }, root);
    expect(c.sandbox.clock.start?.toISOString()).toBe('2026-12-01T16:45:00.000Z');
    expect(c.sandbox.clock.speed).toBe(60);
    expect(loadConfig({ DORMOUSE_SANDBOX_CLOCK: '2026-12-01T07:45:00Z' }, root).sandbox.clock.start?.toISOString()).toBe('2026-12-01T07:45:00.000Z');
    expect(loadConfig({ DORMOUSE_SANDBOX_CLOCK: '2026-12-01T07:45:00.250-05:00' }, root).sandbox.clock.start?.toISOString()).toBe('2026-12-01T12:45:00.250Z');
    expect(loadConfig({ DORMOUSE_SANDBOX_CLOCK_SPEED: '1.5' }, root).sandbox.clock.speed).toBe(1.5);
  });

  it('refuses a time without its zone (it would name different instants on different machines), saying what to add', () => {
    expect(problemsOf({ DORMOUSE_SANDBOX_CLOCK: '2026-12-01T17:45:00' })).toEqual([
      'DORMOUSE_SANDBOX_CLOCK: `2026-12-01T17:45:00` has no time zone: add Z for UTC or the offset, like 2026-12-01T17:45:00Z or 2026-12-01T17:45:00+01:00.',
    ]);
    expect(problemsOf({ DORMOUSE_SANDBOX_CLOCK: '2026-12-01' }).join('\n')).toMatch(/has no time and no time zone: .*2026-12-01T08:00:00Z/);
  });

  it.each(['tomorrow', '2026-13-01T07:45:00Z', '2026-02-30T07:45:00Z', '01/12/2026 07:45 UTC', '1764575100'])('refuses %j, with an example to write', (value) => {
    expect(problemsOf({ DORMOUSE_SANDBOX_CLOCK: value })).toEqual([
      `DORMOUSE_SANDBOX_CLOCK=${value}: an ISO 8601 date and time with its time zone, like 2026-12-01T07:45:00Z or 2026-12-01T17:45:00+01:00 (or leave it unset to start at the real time).`,
    ]);
  });

  it.each(['0', '0.5', '3601', 'fast', '-60'])('refuses the speed %j', (value) => {
    expect(problemsOf({ DORMOUSE_SANDBOX_CLOCK_SPEED: value })).toEqual([
      `DORMOUSE_SANDBOX_CLOCK_SPEED=${value}: expected a number from 1 to 3600: how many sandbox seconds pass per real second (60: a real minute is a sandbox hour).`,
    ]);
  });
});

describe('the schedule settings', () => {
  it('have defaults: weekdays 08:00-18:30 in UTC, a reminder 30 minutes before, skip allowed, no cap, no holidays, no teams', () => {
    const c = loadConfig({}, root);
    expect(c.schedule).toEqual({
      default: 'weekdays 08:00-18:30',
      zone: 'UTC',
      reminderMinutes: 30,
      allowSkip: true,
      holidays: { extraDates: [] },
      idle: { days: 7, answerHours: 48 },
      tickSeconds: 1,
    });
    expect(c.teams).toEqual({});
    expect(Object.isFrozen(c.schedule.holidays.extraDates)).toBe(true);
  });

  it('tick every second in the sandbox, every minute on AWS, unless told', () => {
    const aws = { SLACK_BOT_TOKEN: 'xoxb-1', SLACK_SIGNING_SECRET: 's', AWS_REGION: 'eu-west-1', DORMOUSE_OPS_CHANNEL: 'C0OPS' };
    expect(loadConfig(aws, root).schedule.tickSeconds).toBe(60);
    expect(loadConfig({ ...aws, DORMOUSE_TICK_SECONDS: '15' }, root).schedule.tickSeconds).toBe(15);
    expect(loadConfig({ DORMOUSE_TICK_SECONDS: '5' }, root).schedule.tickSeconds).toBe(5);
  });

  it('reads every setting', () => {
    const c = loadConfig(
      {
        DORMOUSE_SCHEDULE_DEFAULT: 'mon-fri 09:00-19:00',
        DORMOUSE_SCHEDULE_ZONE: 'Europe/Paris',
        DORMOUSE_REMINDER_MINUTES: '45',
        DORMOUSE_SKIP_TONIGHT: 'false',
        DORMOUSE_OFF_MAX_DAYS: '14',
        DORMOUSE_HOLIDAYS: 'de-by',
        DORMOUSE_HOLIDAY_DATES: '2026-12-31, 2026-12-24,2026-12-24',
        DORMOUSE_IDLE_DAYS: '3',
        DORMOUSE_IDLE_ANSWER_HOURS: '24',
        DORMOUSE_SAVINGS_CHANNEL: 'C0SAVINGS',
        DORMOUSE_TEAMS: 'platform=U01,U02; data = U03 ;',
      },
      root,
    );
    expect(c.schedule).toEqual({
      default: 'mon-fri 09:00-19:00',
      zone: 'Europe/Paris',
      reminderMinutes: 45,
      allowSkip: false,
      offMaxDays: 14,
      holidays: { country: 'DE', region: 'BY', extraDates: ['2026-12-24', '2026-12-31'] },
      idle: { days: 3, answerHours: 24 },
      savingsChannel: 'C0SAVINGS',
      tickSeconds: 1,
    });
    expect(c.teams).toEqual({ platform: ['U01', 'U02'], data: ['U03'] });
    expect(loadConfig({ DORMOUSE_HOLIDAYS: 'FR' }, root).schedule.holidays).toEqual({ country: 'FR', extraDates: [] });
  });

  it('names every bad schedule setting at once, each with what to write', () => {
    expect(
      problemsOf({
        DORMOUSE_SCHEDULE_ZONE: 'Mars/Olympus',
        DORMOUSE_REMINDER_MINUTES: '0',
        DORMOUSE_SKIP_TONIGHT: 'perhaps',
        DORMOUSE_OFF_MAX_DAYS: '400',
        DORMOUSE_HOLIDAYS: 'France',
        DORMOUSE_HOLIDAY_DATES: '2026-02-30,tomorrow,2026-12-24',
        DORMOUSE_IDLE_DAYS: 'a week',
        DORMOUSE_IDLE_ANSWER_HOURS: '1000',
        DORMOUSE_SAVINGS_CHANNEL: '#savings',
        DORMOUSE_TEAMS: 'platform U01',
        DORMOUSE_TICK_SECONDS: '0',
      }),
    ).toEqual([
      'DORMOUSE_SCHEDULE_ZONE=Mars/Olympus: an IANA time zone, like Europe/Paris, America/New_York or UTC.',
      'DORMOUSE_REMINDER_MINUTES=0: expected a whole number from 1 to 720.',
      'DORMOUSE_SKIP_TONIGHT=perhaps: expected true or false.',
      'DORMOUSE_OFF_MAX_DAYS=400: expected a whole number of days from 1 to 365 (or leave it unset for no cap).',
      'DORMOUSE_HOLIDAYS=France: a country code, optionally with a region: FR, US-NY or DE-BY (or leave it unset for no public holidays).',
      'DORMOUSE_HOLIDAY_DATES=2026-02-30,tomorrow,2026-12-24: `2026-02-30`, `tomorrow` are not dates: write dates as YYYY-MM-DD, separated by commas, like 2026-12-24,2026-12-31.',
      'DORMOUSE_IDLE_DAYS=a week: expected a whole number from 1 to 365.',
      'DORMOUSE_IDLE_ANSWER_HOURS=1000: expected a whole number from 1 to 720.',
      'DORMOUSE_SAVINGS_CHANNEL=#savings: a channel id like C0123ABCD (right-click the channel → Copy link), or leave it unset for no savings summary.',
      'DORMOUSE_TEAMS: `platform U01` is not a team: write name=user ids, teams separated by semicolons, like platform=U0123ABCD,U0456EFGH;data=S0789IJKL (a user group) (a name is letters, digits, - and _).',
      'DORMOUSE_TICK_SECONDS=0: expected a whole number from 1 to 300.',
    ]);
  });

  it.each([
    ['platform=', /the team `platform` has no members/],
    ['platform=U01;platform=U02', /the team `platform` is given twice/],
    ['platform=U01,bob', /in the team `platform`, `bob` is not a Slack user id/],
    ['=U01', /`=U01` is not a team/],
  ])('refuses the teams %j, with an example', (value, problem) => {
    const text = problemsOf({ DORMOUSE_TEAMS: value }).join('\n');
    expect(text).toMatch(problem);
    expect(text).toContain('like platform=U0123ABCD,U0456EFGH;data=S0789IJKL (a user group)');
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
    [{ subnets: ['vpc-1'] }, /subnets\[0\] = "vpc-1": a subnet id/],
  ])('refuses %j', (patch, problem) => {
    const { problems } = parseTemplates({ templates: [{ ...base, ...patch }] });
    expect(problems.join('\n')).toMatch(problem);
  });

  it('refuses two templates with one name', () => {
    expect(parseTemplates({ templates: [base, base] }).problems.join()).toMatch(/used twice/);
  });
});

describe('problems: all at once, each with where and what to do', () => {
  const base = {
    name: 'api',
    description: 'API',
    image: 'ami-0123456789abcdef0',
    instanceTypes: { 't3.small': 0.02 },
  };
  const problemsIn = (...templates: unknown[]) => parseTemplates({ templates }, 't.yml').problems;

  function catalogue(yaml: string): string {
    const dir = mkdtempSync(join(tmpdir(), 'dormouse-config-'));
    writeFileSync(join(dir, 'templates.yml'), yaml);
    return dir;
  }

  it('reports the environment and the catalogue together, in one ConfigError, rules across fields included', () => {
    const dir = catalogue(
      [
        'templates:',
        '  - name: api',
        '    description: API',
        '    image: ami-0123456789abcdef0',
        '    instanceTypes: { t3.small: 0.02 }',
        '    servers: { min: 1, max: 2.5 }',
        '  - name: api',
        '    description: Another API',
        '    image: ami-0123456789abcdef0',
        '    instanceType: m5.large',
        '    instanceTypes: { t3.small: 0.02 }',
        '',
      ].join('\n'),
    );
    let error: unknown;
    try {
      loadConfig({ DORMOUSE_TEMPLATES: 'templates.yml', PORT: '2.5', DORMOUSE_CREATE_TABLE: 'maybe', DORMOUSE_LEASE_SECONDS: '6', SLACK_APP_TOKEN: 'xapp-1' }, dir);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems;
    expect(problems).toEqual([
      'SLACK_BOT_TOKEN is missing: the Bot User OAuth Token (xoxb-…) from the app\'s "OAuth & Permissions" page.',
      'PORT=2.5: expected a whole number from 0 to 65535.',
      'DORMOUSE_CREATE_TABLE=maybe: expected true or false.',
      'DORMOUSE_OPS_CHANNEL is missing: the channel id where failure alerts go, like C0123ABCD (right-click the channel → Copy link).',
      // A default can break a rule too: the message says which value was used.
      "DORMOUSE_SWEEP_SECONDS=5 (default): the sweep must run at least twice per lease (DORMOUSE_LEASE_SECONDS=6), or the leader's lease lapses between ticks.",
      `${join(dir, 'templates.yml')}: template "api", at templates[0].servers.max = 2.5: a whole number of servers from 1 to 20.`,
      `${join(dir, 'templates.yml')}: template "api", at templates[1].instanceType: the default type must be one of instanceTypes (t3.small), not \`m5.large\`.`,
      `${join(dir, 'templates.yml')}: template "api", at templates[1].name: \`api\` is used twice (also templates[0]); give each template its own name.`,
    ]);
    expect((error as ConfigError).message).toBe(`Dormouse cannot start; fix these settings (see .env.example):\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  });

  it("a template's schedule is read by the schedule parser: a good one is kept, a bad one named with an example", () => {
    const ok = parseTemplates({ templates: [{ ...base, schedule: 'every day 07:00-23:00 Europe/Paris' }] }, 't.yml');
    expect(ok.problems).toEqual([]);
    expect(ok.templates[0]?.schedule).toEqual({ kind: 'window', days: [1, 2, 3, 4, 5, 6, 7], start: '07:00', end: '23:00', zone: 'Europe/Paris' });
    expect(problemsIn({ ...base, schedule: 'weekdays 9am-6pm' }).join('\n')).toMatch(/templates\[0\]\.schedule = "weekdays 9am-6pm": '9am' is not a time: .*For example `weekdays 08:00-18:30`/);
  });

  it('an unknown template field is refused, with the field it probably meant', () => {
    const { templates, problems } = parseTemplates({ templates: [{ ...base, instanceTyp: 't3.small' }] }, 't.yml');
    expect(templates).toEqual([]);
    expect(problems).toEqual([
      't.yml: template "api", at templates[0]: unknown field `instanceTyp` (did you mean `instanceType`?): rename or remove it; the fields are name, description, image, instanceTypes, instanceType, servers, subnets, securityGroups, instanceProfile, volumes, tags, bootstrap, data, schedule, repair.',
    ]);
    // Nested mappings are strict too, and a field nothing resembles gets no guess.
    expect(problemsIn({ ...base, servers: { min: 1, maximum: 2 } }).join('\n')).toMatch(/templates\[0\]\.servers: unknown field `maximum`: rename or remove it; the fields are min, max, default\./);
    expect(problemsIn({ ...base, bootstrap: [{ name: 'a', run: 'x', timeout: 5 }] }).join('\n')).toMatch(/templates\[0\]\.bootstrap\[0\]: unknown field `timeout`/);
  });

  it('a wrong type deep inside is named by its full path, with the value found', () => {
    const dir = catalogue(
      ['templates:', '  - name: api', '    description: API', '    image: ami-0123456789abcdef0', '    instanceTypes: { t3.small: 0.02 }', '    servers: { min: 1, max: "three" }', ''].join('\n'),
    );
    expect(problemsOf({ DORMOUSE_TEMPLATES: 'templates.yml' }, dir)).toEqual([
      `${join(dir, 'templates.yml')}: template "api", at templates[0].servers.max = "three": a whole number of servers from 1 to 20.`,
    ]);
  });

  it('a bootstrap step without `run` names the template, the step and the missing field', () => {
    expect(problemsIn({ ...base, bootstrap: [{ name: 'install', timeoutSeconds: 60 }] })).toEqual([
      't.yml: template "api", step "install", at templates[0].bootstrap[0].run is missing: the shell script to run, e.g. `run: |` followed by the commands, one a line.',
    ]);
    expect(problemsIn({ ...base, bootstrap: [{ name: 'install', run: '  \n' }] }).join('\n')).toMatch(/bootstrap\[0\]\.run = .*: the shell script to run/);
  });

  it('duplicate template names: the second use is refused, pointing at the first', () => {
    const { templates, problems } = parseTemplates({ templates: [base, { ...base, description: 'Other' }, { ...base, name: 'web' }, base] }, 't.yml');
    expect(templates).toEqual([]);
    expect(problems).toEqual([
      't.yml: template "api", at templates[1].name: `api` is used twice (also templates[0]); give each template its own name.',
      't.yml: template "api", at templates[3].name: `api` is used twice (also templates[0]); give each template its own name.',
    ]);
  });

  it('rules across fields still run next to other bad values in the same template', () => {
    const problems = problemsIn({ ...base, instanceType: 'm5.large', servers: { min: 3, max: 2 }, tags: { team: 42 }, volumes: [{ device: '/dev/xvda', sizeGiB: 2.5 }], colour: 'blue' });
    expect(problems.join('\n')).toMatch(/unknown field `colour`/);
    expect(problems.join('\n')).toMatch(/instanceType: the default type must be one of instanceTypes/);
    expect(problems.join('\n')).toMatch(/servers: needs 1 ≤ min ≤ default ≤ max ≤ 20; got min 3, default 3, max 2/);
    expect(problems.join('\n')).toMatch(/tags\.team = 42: a string/);
    expect(problems.join('\n')).toMatch(/volumes\[0\]\.sizeGiB = 2\.5: a whole number of GiB/);
  });

  it('secrets are named, never shown', () => {
    const problems = problemsOf({ SLACK_BOT_TOKEN: 'not-a-token-s3cr3t', SLACK_SIGNING_SECRET: 'x', SLACK_APP_TOKEN: 'also-s3cr3t', DORMOUSE_OPS_CHANNEL: 'C0OPS' });
    expect(problems).toEqual([
      'SLACK_BOT_TOKEN: must be a bot token starting with xoxb- (Bot User OAuth Token, "OAuth & Permissions" page of the app).',
      'SLACK_APP_TOKEN: must be an app-level token starting with xapp- (or leave it unset to receive HTTP).',
    ]);
    expect(problems.join('\n')).not.toMatch(/s3cr3t/);
  });

  it('every message names where the problem is and says what to write instead', () => {
    const dir = catalogue(
      [
        'templates:',
        '  - name: api',
        '    description: ""',
        '    image: centos',
        '    instanceTypes: { t3.small: cheap, big: 1 }',
        '    servers: { min: 0, max: 3, default: 2 }',
        '    subnets: subnet-1',
        '    securityGroups: [sg-zz]',
        '    instanceProfile: "no spaces allowed"',
        '    volumes: [{ device: sda, sizeGiB: 0, type: ssd }]',
        '    tags: { "aws:x": a, Name: b }',
        '    bootstrap:',
        '      - { name: Install, run: 3, timeoutSeconds: 1, sandbox: maybe }',
        '      - just a string',
        '    colour: blue',
        '  - 42',
        '  - {}',
        'other: ignored',
        '',
      ].join('\n'),
    );
    const problems = problemsOf(
      {
        SLACK_BOT_TOKEN: 'xoxp-1',
        SLACK_API_URL: 'slack.example',
        PORT: '-1',
        DORMOUSE_CLOUD: 'azure',
        AWS_ENDPOINT_URL: 'localhost',
        AWS_ENDPOINT_URL_DYNAMODB: 'localhost',
        DORMOUSE_TABLE: 'x',
        DORMOUSE_CREATE_TABLE: 'perhaps',
        DORMOUSE_TEMPLATES: 'templates.yml',
        DORMOUSE_OPS_CHANNEL: 'ops',
        DORMOUSE_ADMINS: 'bob',
        DORMOUSE_LEASE_SECONDS: '1000',
        DORMOUSE_SWEEP_SECONDS: '7',
        DORMOUSE_RUNNING_TIMEOUT_SECONDS: 'soon',
        DORMOUSE_AGENT_TIMEOUT_SECONDS: '1',
        LOG_LEVEL: 'LOUD',
        DORMOUSE_SANDBOX_FAULTS: 'earthquake',
        DORMOUSE_SANDBOX_DELAYS: 'boot=forever',
      },
      dir,
    );
    const source = join(dir, 'templates.yml');
    const where = new RegExp(
      [
        /^[A-Z_]+(=\S+( \(default\))?| is missing)?: /.source,
        `^${source.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: (template "[^"]+"(, step "[^"]+")?, at )?templates\\S*?( = \\S.*?| is missing)?: `,
      ].join('|'),
    );
    expect(problems.length).toBeGreaterThan(35);
    for (const problem of problems) {
      expect(problem).toMatch(where);
      const advice = problem.replace(where, '');
      expect(advice.length, problem).toBeGreaterThan(8);
      // Nothing falls through to zod's own wording.
      expect(advice, problem).not.toMatch(/Invalid input|Invalid key|Unrecognized key|received|Too (big|small)/);
    }
    // Every key and every bad field shows up (one message each, or more).
    const text = problems.join('\n');
    for (const key of ['SLACK_BOT_TOKEN', 'SLACK_SIGNING_SECRET', 'SLACK_API_URL', 'PORT', 'DORMOUSE_CLOUD', 'AWS_ENDPOINT_URL', 'AWS_ENDPOINT_URL_DYNAMODB', 'DORMOUSE_TABLE', 'DORMOUSE_CREATE_TABLE', 'DORMOUSE_OPS_CHANNEL', 'DORMOUSE_ADMINS', 'DORMOUSE_LEASE_SECONDS', 'DORMOUSE_SWEEP_SECONDS', 'DORMOUSE_RUNNING_TIMEOUT_SECONDS', 'DORMOUSE_AGENT_TIMEOUT_SECONDS', 'LOG_LEVEL', 'DORMOUSE_SANDBOX_FAULTS', 'DORMOUSE_SANDBOX_DELAYS']) {
      expect(text).toMatch(new RegExp(`^${key}\\b`, 'm'));
    }
    for (const field of ['description', 'image', 'instanceTypes.t3.small', 'instanceTypes.big', 'servers.min', 'subnets', 'securityGroups[0]', 'instanceProfile', 'volumes[0].device', 'volumes[0].sizeGiB', 'volumes[0].type', 'tags.aws:x', 'tags.Name', 'bootstrap[0].name', 'bootstrap[0].run', 'bootstrap[0].timeoutSeconds', 'bootstrap[0].sandbox', 'bootstrap[1]']) {
      expect(text).toContain(`templates[0].${field}`);
    }
    expect(text).toContain('unknown field `colour`');
    expect(text).toContain('templates[1] = 42: a template: a mapping');
    expect(text).toContain('templates[2].name is missing');
    expect(text).not.toMatch(/\bother\b/); // top-level keys besides templates are left alone (YAML anchors)
  });
});

describe('the policy file (DORMOUSE_POLICY)', () => {
  it('none: no approval rules and no quotas; the shipped example loads against the shipped catalogue', () => {
    const none = loadConfig({}, root);
    expect(none.policy.rules).toEqual([]);
    expect(none.policy.quotas).toEqual({ approvalOverrides: false, raisedBy: [] });
    expect(none.ops).toEqual(['U0OPS']);
    const example = loadConfig({ DORMOUSE_POLICY: 'infra/policy.yml' }, root);
    expect(example.policy.rules.map((r) => r.name)).toEqual(['costly', 'big', 'always on']);
    expect(example.policyPath).toBe(join(root, 'infra', 'policy.yml'));
  });

  it('every problem of a policy file is named at once, with its place, together with the settings’ own; nothing starts', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dormouse-policy-'));
    writeFileSync(
      join(dir, 'policy.yml'),
      ['approval:', '  rules:', '    - name: costly', '      monthlyCostOver: -5', '    - name: nothing', '  approvers:', '    - team: nobody', '      users: [someone]', '      channel: C0OPS', 'quotas:', '  person: { servers: 0 }'].join('\n'),
    );
    const problems = problemsOf({ DORMOUSE_POLICY: join(dir, 'policy.yml'), DORMOUSE_TEAMS: 'platform=U0DEV' });
    const text = problems.join('\n');
    expect(text).toMatch(/approval\.rules\[0\]\.monthlyCostOver = -5: a positive number/);
    expect(text).toMatch(/approval\.rules\[1\].*no condition/);
    expect(text).toMatch(/approval\.approvers\[0\]\.team: `nobody` is not a team; the teams \(DORMOUSE_TEAMS\) are platform/);
    expect(text).toMatch(/approval\.approvers\[0\]\.users\[0\]/);
    expect(text).toMatch(/approval\.default is missing/);
    expect(text).toMatch(/quotas\.person\.servers = 0/);
    expect(problems.length).toBeGreaterThanOrEqual(6);
    expect(problemsOf({ DORMOUSE_POLICY: join(dir, 'absent.yml') }).join('\n')).toMatch(/cannot read the policy file .*absent\.yml \(ENOENT\)/);
    expect(problemsOf({ DORMOUSE_OPS: 'bob' }).join('\n')).toMatch(/DORMOUSE_OPS.*`bob` is not a Slack user id/);
  });
});
