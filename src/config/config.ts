/**
 * The only place that reads process.env and the templates file. Validates
 * everything once, against zod schemas, and fails with one message listing
 * every problem: each names its key (or its place in the templates file) and
 * what to set instead.
 *
 * With no configuration at all, Dormouse runs as the sandbox: the Slack
 * console instead of Slack, a local cloud instead of AWS, an embedded store.
 */
import { resolve } from 'node:path';
import { DateTime, IANAZone } from 'luxon';
import { z } from 'zod';
import { validHolidayCountry } from '../adapters/holidays/date-holidays.calendar.js';
import { parseSchedule } from '../core/schedule/schedule.js';
import type { Template } from '../core/environment/template.js';
import { parseSandboxDelays, type SandboxDelays } from '../adapters/sandbox/local-cloud/sandbox-delays.js';
import { parseSandboxFaults, type SandboxFaults } from '../adapters/sandbox/local-cloud/sandbox-faults.js';
import { loadTemplates } from './templates.js';
import { loadPolicy, type Policy } from './policy.js';
import { despiteInvalidParts, messageOf, whenValid, type Issue } from './validation.js';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export type SlackMode = 'http' | 'socket' | 'console';
export type CloudMode = 'aws' | 'sandbox';
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface Config {
  slack: {
    mode: SlackMode;
    botToken: string;
    signingSecret: string;
    appToken?: string;
    apiUrl?: string;
  };
  http: { port: number; host: string };
  cloud: CloudMode;
  aws: { region: string; endpoint?: string };
  /** The sandbox's store: embedded unless an endpoint is given (several sandbox replicas sharing one store). */
  store: { endpoint?: string };
  /** Workflow leases and the leader's sweep (tens of seconds and a few seconds). */
  leases: { leaseSeconds: number; sweepSeconds: number };
  /** The reconciler on the leader: how often it compares records and cloud (0: never), and how young an instance it leaves alone. */
  reconcile: { everySeconds: number; graceSeconds: number };
  table: { name: string; create: boolean };
  templatesPath: string;
  templates: readonly Template[];
  opsChannel?: string;
  admins: readonly string[];
  /** Who acts on alerts (retry or destroy a failed environment), besides owners and admins. */
  ops: readonly string[];
  /** The policy file (DORMOUSE_POLICY), if any, and what it says: approval rules, approvers, quotas. */
  policyPath?: string;
  policy: Policy;
  timeouts: { runningSeconds: number; agentSeconds: number };
  /**
   * Where environments' data is kept when they sleep. The sandbox always has one (an embedded
   * S3-compatible server, or the one at `endpoint`); AWS needs a bucket named.
   */
  data: {
    bucket?: string;
    prefix: string;
    endpoint?: string;
    retentionDays: number;
    keepGenerations: number;
    saveTimeoutSeconds: number;
    restoreTimeoutSeconds: number;
  };
  /** When environments are awake, and what the scheduler says and does about it. */
  schedule: {
    /** The schedule an environment gets unless its owner sets one (`weekdays 08:00-18:30`); parsed by the schedule parser, not here. */
    default: string;
    /** The IANA zone schedules are read in when the owner's Slack zone is unknown. */
    zone: string;
    /** How long before a scheduled sleep its owner is reminded. */
    reminderMinutes: number;
    /** Whether the reminder offers "skip tonight". */
    allowSkip: boolean;
    /** The longest a schedule may be turned off for, in days; unset: no cap. */
    offMaxDays?: number;
    /** Days without a scheduled wake: a country's (and region's) public holidays, and dates of its own. */
    holidays: { country?: string; region?: string; extraDates: string[] };
    /** After `days` unused, the owner is asked; without an answer within `answerHours`, it sleeps. */
    idle: { days: number; answerHours: number };
    /** Where the weekly savings summary goes, if anywhere. */
    savingsChannel?: string;
    /** How often the scheduler looks for what is due. */
    tickSeconds: number;
  };
  /** Teams by name, each a list of Slack user ids. */
  teams: Record<string, string[]>;
  sandbox: {
    dataDir: string;
    faults: SandboxFaults;
    delays: Partial<SandboxDelays>;
    /** The sandbox clock: where it starts (default: real now) and how fast it runs. */
    clock: { start?: Date; speed: number };
  };
  logLevel: LogLevel;
}

/** The scheduler's settings. */
export type ScheduleSettings = Config['schedule'];

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: string[]) {
    super(`Dormouse cannot start; fix these settings (see .env.example):\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

const SANDBOX_SIGNING_SECRET = 'sandbox-signing-secret-not-for-production';
const SANDBOX_BOT_TOKEN = 'xoxb-sandbox-console';
const DEFAULT_TEMPLATES = 'infra/templates.yml';
/** Never echoed in a problem. */
const SECRETS = new Set(['SLACK_BOT_TOKEN', 'SLACK_SIGNING_SECRET', 'SLACK_APP_TOKEN']);

/** An environment value as Dormouse sees it: trimmed, and unset when blank. */
const clean = (v: unknown): string | undefined => (typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined);

// ── Building blocks: each takes what to write when the value is wrong. ──
/** An optional setting; blank counts as unset (then the schema's default, if any, applies). */
const setting = <T extends z.ZodType>(schema: T) => z.preprocess(clean, schema);
const matching = (pattern: RegExp, say: string) => z.string().regex(pattern, { error: say }).optional();
const prefixed = (prefix: string, say: string) => z.string().startsWith(prefix, { error: say }).optional();
const httpUrl = matching(/^https?:\/\//, 'expected an http(s) URL.');
const wholeNumber = (min: number, max: number, fallback: number) => {
  const say = `expected a whole number from ${min} to ${max}.`;
  return z.coerce
    .number({ error: say })
    .refine((n) => Number.isInteger(n) && n >= min && n <= max, { error: say })
    .default(fallback);
};
/** A whole number in [min, max], or unset (no default). */
const wholeNumberOrUnset = (min: number, max: number, say = `expected a whole number from ${min} to ${max}.`) =>
  z.coerce
    .number({ error: say })
    .refine((n) => Number.isInteger(n) && n >= min && n <= max, { error: say })
    .optional();
const YES = ['1', 'true', 'yes'];
const NO = ['0', 'false', 'no'];
/** Not z.stringbool(): its issue stops the rules across keys, whose problems would then go unreported. */
const yesNo = z
  .string()
  .refine((s) => [...YES, ...NO].includes(s.toLowerCase()), { error: 'expected true or false.' })
  .transform((s) => YES.includes(s.toLowerCase()))
  .optional();
/** A value in a small syntax of its own, read by `parse` (which throws an Error naming the bad part). */
const spec = <T>(parse: (spec: string) => T) =>
  z
    .string()
    .transform((s, ctx) => {
      try {
        return parse(s);
      } catch (e) {
        ctx.addIssue({ code: 'custom', input: s, message: (e as Error).message });
        return z.NEVER;
      }
    })
    .optional();

const SAY_SPEED = 'expected a number from 1 to 3600: how many sandbox seconds pass per real second (60: a real minute is a sandbox hour).';
const CHANNEL_ID = /^[CG][A-Z0-9]{2,}$/;
const USER_ID = /^[UW][A-Z0-9]{2,}$/;

/** An instant with its offset: `2026-12-01T07:45:00Z`, `2026-12-01T17:45:00+01:00` (seconds and fractions optional). */
const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}(:?\d{2})?)$/;
const SAY_INSTANT = 'an ISO 8601 date and time with its time zone, like 2026-12-01T07:45:00Z or 2026-12-01T17:45:00+01:00 (or leave it unset to start at the real time).';
function parseInstant(text: string): Date {
  if (/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?$/.test(text)) {
    // Without a zone the same words name different instants on different machines: refused, not guessed.
    const at = text.includes('T') ? text : `${text}T08:00:00`;
    const lacks = text.includes('T') ? 'has no time zone' : 'has no time and no time zone';
    throw new Error(`\`${text}\` ${lacks}: add Z for UTC or the offset, like ${at}Z or ${at}+01:00.`);
  }
  const parsed = DateTime.fromISO(text, { setZone: true });
  if (!ISO_INSTANT.test(text) || !parsed.isValid) throw new Error(SAY_INSTANT);
  return parsed.toJSDate();
}

/** `FR`, `US-NY`, `DE-BY`: a country (ISO 3166-1 alpha-2) and, optionally, a region of it. */
function parseHolidays(text: string): { country: string; region?: string } {
  const m = /^([A-Za-z]{2})(?:-([A-Za-z0-9]{1,3}))?$/.exec(text);
  if (!m?.[1]) throw new Error('a country code, optionally with a region: FR, US-NY or DE-BY (or leave it unset for no public holidays).');
  const found = { country: m[1].toUpperCase(), ...(m[2] ? { region: m[2].toUpperCase() } : {}) };
  const problem = validHolidayCountry(found.country, found.region);
  if (problem) throw new Error(problem);
  return found;
}

/** The default schedule, read by the schedule parser: what it cannot read is said now, not at the first tick. */
function parseDefaultSchedule(text: string): string {
  const parsed = parseSchedule(text, { now: new Date(0) });
  if (!parsed.ok) throw new Error(`${parsed.problem}. Write it like weekdays 08:00-18:30 or every day 07:00-23:00.`);
  if (parsed.schedule.kind === 'off') throw new Error('the default cannot be off: every environment would stay up day and night. Write it like weekdays 08:00-18:30.');
  return text;
}

/** `2026-12-24,2026-12-31`: calendar dates, each one real. */
function parseDates(text: string): string[] {
  const dates = text.split(',').map((d) => d.trim()).filter(Boolean);
  const bad = dates.filter((d) => !/^\d{4}-\d{2}-\d{2}$/.test(d) || !DateTime.fromISO(d).isValid);
  if (bad.length) throw new Error(`\`${bad.join('`, `')}\` ${bad.length > 1 ? 'are not dates' : 'is not a date'}: write dates as YYYY-MM-DD, separated by commas, like 2026-12-24,2026-12-31.`);
  return [...new Set(dates)].sort();
}

/**
 * `platform=U0123ABCD,U0456EFGH;data=S0789IJKL`: teams by name, each with its members' Slack user
 * ids, or a Slack user group id (S…) whose members are read from Slack at start and every few
 * minutes, or both.
 */
const TEAM_GROUP_ID = /^S[A-Z0-9]{2,}$/;

function parseTeams(text: string): Record<string, string[]> {
  const example = 'like platform=U0123ABCD,U0456EFGH;data=S0789IJKL (a user group)';
  const teams: Record<string, string[]> = {};
  for (const part of text.split(';').map((p) => p.trim()).filter(Boolean)) {
    const m = /^([^=]*)=(.*)$/.exec(part);
    const name = m?.[1]?.trim() ?? '';
    if (!m || !/^[a-z0-9][a-z0-9_-]{0,39}$/i.test(name)) {
      throw new Error(`\`${part}\` is not a team: write name=user ids, teams separated by semicolons, ${example} (a name is letters, digits, - and _).`);
    }
    if (Object.hasOwn(teams, name)) throw new Error(`the team \`${name}\` is given twice: list each team once, ${example}.`);
    const members = (m[2] ?? '').split(',').map((u) => u.trim()).filter(Boolean);
    const bad = members.filter((u) => !USER_ID.test(u) && !TEAM_GROUP_ID.test(u));
    if (members.length === 0) throw new Error(`the team \`${name}\` has no members: give its Slack user ids or a user group id, ${example}.`);
    if (bad.length) throw new Error(`in the team \`${name}\`, \`${bad.join('`, `')}\` ${bad.length > 1 ? 'are not Slack user ids' : 'is not a Slack user id'} like U0123ABCD (profile → ⋮ → Copy member ID) or user group ids like S0123ABCD; ${example}.`);
    teams[name] = [...new Set(members)];
  }
  return teams;
}

/** One line per key, in the order of .env.example (problems are listed in this order). */
const EnvSchema = z
  .object({
    SLACK_BOT_TOKEN: setting(prefixed('xoxb-', 'must be a bot token starting with xoxb- (Bot User OAuth Token, "OAuth & Permissions" page of the app).')),
    SLACK_SIGNING_SECRET: setting(z.string().optional()),
    SLACK_APP_TOKEN: setting(prefixed('xapp-', 'must be an app-level token starting with xapp- (or leave it unset to receive HTTP).')),
    SLACK_API_URL: setting(matching(/^https?:\/\/.+\/$/, 'expected a URL ending in a slash, like https://slack.com/api/.')),
    PORT: setting(wholeNumber(0, 65535, 3000)),
    HOST: setting(z.string().optional()),
    AWS_REGION: setting(z.string().optional()),
    AWS_DEFAULT_REGION: setting(z.string().optional()),
    AWS_ENDPOINT_URL: setting(httpUrl),
    DORMOUSE_CLOUD: setting(z.enum(['aws', 'sandbox'], { error: 'expected aws or sandbox.' }).optional()),
    DORMOUSE_TABLE: setting(z.string().regex(/^[a-zA-Z0-9_.-]{3,255}$/, { error: '3-255 letters, digits, _ . or -.' }).default('dormouse')),
    DORMOUSE_CREATE_TABLE: setting(yesNo),
    DORMOUSE_TEMPLATES: setting(z.string().default(DEFAULT_TEMPLATES)),
    DORMOUSE_OPS_CHANNEL: setting(matching(CHANNEL_ID, 'a channel id like C0123ABCD (right-click the channel → Copy link).')),
    DORMOUSE_ADMINS: setting(
      z
        .string()
        .transform((s) => s.split(',').map((a) => a.trim()).filter(Boolean))
        .pipe(z.array(z.string().regex(USER_ID, { error: (iss) => `\`${String(iss.input)}\` is not a Slack user id like U0123ABCD (profile → ⋮ → Copy member ID).` })))
        .optional(),
    ),
    DORMOUSE_OPS: setting(
      z
        .string()
        .transform((s) => s.split(',').map((a) => a.trim()).filter(Boolean))
        .pipe(z.array(z.string().regex(USER_ID, { error: (iss) => `\`${String(iss.input)}\` is not a Slack user id like U0123ABCD (profile → ⋮ → Copy member ID).` })))
        .optional(),
    ),
    DORMOUSE_POLICY: setting(z.string().optional()),
    DORMOUSE_LEASE_SECONDS: setting(wholeNumber(5, 600, 30)),
    DORMOUSE_SWEEP_SECONDS: setting(wholeNumber(1, 30, 5)),
    DORMOUSE_RECONCILE_SECONDS: setting(wholeNumber(0, 86400, 300)),
    DORMOUSE_RECONCILE_GRACE_SECONDS: setting(wholeNumber(0, 86400, 300)),
    DORMOUSE_RUNNING_TIMEOUT_SECONDS: setting(wholeNumber(5, 3600, 600)),
    DORMOUSE_AGENT_TIMEOUT_SECONDS: setting(wholeNumber(5, 3600, 600)),
    DORMOUSE_DATA_BUCKET: setting(matching(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'an S3 bucket name: 3-63 lowercase letters, digits, dots and dashes (the DataBucketName output of infra/dormouse.cfn.yml).')),
    DORMOUSE_DATA_PREFIX: setting(matching(/^[\w.-]+(\/[\w.-]+)*\/$/, 'a key prefix ending in a slash, like dormouse/ (or leave it unset).')),
    DORMOUSE_DATA_RETENTION_DAYS: setting(wholeNumber(1, 3650, 7)),
    DORMOUSE_DATA_KEEP_GENERATIONS: setting(wholeNumber(1, 100, 5)),
    DORMOUSE_SAVE_TIMEOUT_SECONDS: setting(wholeNumber(60, 43200, 21600)),
    DORMOUSE_RESTORE_TIMEOUT_SECONDS: setting(wholeNumber(60, 43200, 21600)),
    LOG_LEVEL: setting(z.enum(LOG_LEVELS, { error: `one of ${LOG_LEVELS.join(', ')}.` }).default('info')),
    DORMOUSE_SCHEDULE_DEFAULT: setting(spec(parseDefaultSchedule).default('weekdays 08:00-18:30')),
    DORMOUSE_SCHEDULE_ZONE: setting(
      z
        .string()
        .refine((zone) => IANAZone.isValidZone(zone), { error: 'an IANA time zone, like Europe/Paris, America/New_York or UTC.' })
        .default('UTC'),
    ),
    DORMOUSE_REMINDER_MINUTES: setting(wholeNumber(1, 720, 30)),
    DORMOUSE_SKIP_TONIGHT: setting(yesNo),
    DORMOUSE_OFF_MAX_DAYS: setting(wholeNumberOrUnset(1, 365, 'expected a whole number of days from 1 to 365 (or leave it unset for no cap).')),
    DORMOUSE_HOLIDAYS: setting(spec(parseHolidays)),
    DORMOUSE_HOLIDAY_DATES: setting(spec(parseDates)),
    DORMOUSE_IDLE_DAYS: setting(wholeNumber(1, 365, 7)),
    DORMOUSE_IDLE_ANSWER_HOURS: setting(wholeNumber(1, 720, 48)),
    DORMOUSE_SAVINGS_CHANNEL: setting(matching(CHANNEL_ID, 'a channel id like C0123ABCD (right-click the channel → Copy link), or leave it unset for no savings summary.')),
    DORMOUSE_TEAMS: setting(spec(parseTeams)),
    DORMOUSE_TICK_SECONDS: setting(wholeNumberOrUnset(1, 300)),
    DORMOUSE_SANDBOX_DIR: setting(z.string().default('.dormouse')),
    DORMOUSE_SANDBOX_FAULTS: setting(spec(parseSandboxFaults)),
    AWS_ENDPOINT_URL_DYNAMODB: setting(httpUrl),
    AWS_ENDPOINT_URL_S3: setting(httpUrl),
    DORMOUSE_SANDBOX_DELAYS: setting(spec(parseSandboxDelays)),
    DORMOUSE_SANDBOX_CLOCK: setting(spec(parseInstant)),
    DORMOUSE_SANDBOX_CLOCK_SPEED: setting(
      z.coerce
        .number({ error: SAY_SPEED })
        .refine((n) => Number.isFinite(n) && n >= 1 && n <= 3600, { error: SAY_SPEED })
        .default(1),
    ),
  })
  // Rules across keys. The first two read only whether keys are set, so they run
  // whatever else is wrong; the others wait until the numbers they read are valid.
  .superRefine((env, ctx) => {
    const mode = slackMode(env);
    if (mode === 'console') return;
    if (!env.SLACK_BOT_TOKEN) ctx.addIssue(missing('SLACK_BOT_TOKEN', 'the Bot User OAuth Token (xoxb-…) from the app\'s "OAuth & Permissions" page.'));
    if (mode === 'http' && !env.SLACK_SIGNING_SECRET) ctx.addIssue(missing('SLACK_SIGNING_SECRET', '"Basic Information" → "Signing Secret" of the Slack app (or set SLACK_APP_TOKEN for Socket Mode).'));
    if (!env.DORMOUSE_OPS_CHANNEL) ctx.addIssue(missing('DORMOUSE_OPS_CHANNEL', 'the channel id where failure alerts go, like C0123ABCD (right-click the channel → Copy link).'));
  }, despiteInvalidParts)
  .superRefine((env, ctx) => {
    if (cloudMode(env) === 'aws' && !region(env)) ctx.addIssue(missing('AWS_REGION', 'the region Dormouse launches servers in, e.g. eu-west-1.'));
  }, despiteInvalidParts)
  .superRefine(({ DORMOUSE_SWEEP_SECONDS: sweep }, ctx) => {
    if (60 % sweep !== 0) ctx.addIssue({ ...sweepIssue(sweep), message: 'use a number that divides 60 (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30).' });
  }, whenValid('DORMOUSE_SWEEP_SECONDS'))
  .superRefine(({ DORMOUSE_LEASE_SECONDS: lease, DORMOUSE_SWEEP_SECONDS: sweep }, ctx) => {
    if (sweep * 2 > lease) ctx.addIssue({ ...sweepIssue(sweep), message: `the sweep must run at least twice per lease (DORMOUSE_LEASE_SECONDS=${lease}), or the leader's lease lapses between ticks.` });
  }, whenValid('DORMOUSE_LEASE_SECONDS', 'DORMOUSE_SWEEP_SECONDS'));

/** The value is given because it may be the default, which the message then shows. */
const sweepIssue = (sweep: number) => ({ code: 'custom' as const, path: ['DORMOUSE_SWEEP_SECONDS'], input: sweep });

/** A key that must be set given the others. */
const missing = (key: string, message: string) => ({ code: 'custom' as const, path: [key], input: undefined, message });

type Env = z.output<typeof EnvSchema>;
const KEYS = Object.keys(EnvSchema.shape);

// Slack: configured when a token or secret is given; otherwise the sandbox console.
function slackMode(env: Pick<Env, 'SLACK_BOT_TOKEN' | 'SLACK_SIGNING_SECRET' | 'SLACK_APP_TOKEN'>): SlackMode {
  if (!env.SLACK_BOT_TOKEN && !env.SLACK_SIGNING_SECRET && !env.SLACK_APP_TOKEN) return 'console';
  return env.SLACK_APP_TOKEN ? 'socket' : 'http';
}

// Cloud: AWS when Slack is configured and a region is set, or an endpoint (moto, LocalStack)
// is given, or when told. A region exported in a developer's shell alone does not turn
// the try-it-out sandbox into launches on their real account.
function cloudMode(env: Env): CloudMode {
  const told: string | undefined = env.DORMOUSE_CLOUD; // an invalid value is reported, and ignored here
  if (told === 'aws' || told === 'sandbox') return told;
  return env.AWS_ENDPOINT_URL || (region(env) && slackMode(env) !== 'console') ? 'aws' : 'sandbox';
}

const region = (env: Pick<Env, 'AWS_REGION' | 'AWS_DEFAULT_REGION'>): string | undefined => env.AWS_REGION ?? env.AWS_DEFAULT_REGION;

export function loadConfig(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): Config {
  const settings = EnvSchema.safeParse(env, { reportInput: true });
  // The catalogue is checked even when settings are wrong, so both are reported at once.
  const templatesPath = resolve(cwd, clean(env.DORMOUSE_TEMPLATES) ?? DEFAULT_TEMPLATES);
  const catalogue = loadTemplates(templatesPath);
  // The policy names templates and teams: it is checked against them once they are known.
  const policyPath = clean(env.DORMOUSE_POLICY) ? resolve(cwd, clean(env.DORMOUSE_POLICY)!) : undefined;
  const policy = settings.success && !catalogue.problems.length ? loadPolicy(policyPath, { templates: catalogue.templates, teams: settings.data.DORMOUSE_TEAMS ?? {} }) : undefined;
  const problems = [...(settings.success ? [] : envProblems(settings.error.issues, env)), ...catalogue.problems, ...(policy?.problems ?? [])];
  if (!settings.success || !policy || problems.length) throw new ConfigError(problems);

  const e = settings.data;
  const mode = slackMode(e);
  const cloud = cloudMode(e);
  const opsChannel = e.DORMOUSE_OPS_CHANNEL ?? (mode === 'console' ? 'C0OPS' : undefined);
  const config: Config = {
    slack: {
      mode,
      botToken: mode === 'console' ? SANDBOX_BOT_TOKEN : (e.SLACK_BOT_TOKEN ?? ''),
      signingSecret: mode === 'console' ? SANDBOX_SIGNING_SECRET : (e.SLACK_SIGNING_SECRET ?? ''),
      ...(e.SLACK_APP_TOKEN ? { appToken: e.SLACK_APP_TOKEN } : {}),
      ...(e.SLACK_API_URL ? { apiUrl: e.SLACK_API_URL } : {}),
    },
    http: { port: e.PORT, host: e.HOST ?? (mode === 'console' ? '127.0.0.1' : '0.0.0.0') },
    cloud,
    aws: { region: region(e) ?? 'us-east-1', ...(e.AWS_ENDPOINT_URL ? { endpoint: e.AWS_ENDPOINT_URL } : {}) },
    store: e.AWS_ENDPOINT_URL_DYNAMODB ? { endpoint: e.AWS_ENDPOINT_URL_DYNAMODB } : {},
    leases: { leaseSeconds: e.DORMOUSE_LEASE_SECONDS, sweepSeconds: e.DORMOUSE_SWEEP_SECONDS },
    reconcile: { everySeconds: e.DORMOUSE_RECONCILE_SECONDS, graceSeconds: e.DORMOUSE_RECONCILE_GRACE_SECONDS },
    table: { name: e.DORMOUSE_TABLE, create: e.DORMOUSE_CREATE_TABLE ?? (cloud === 'sandbox' || Boolean(e.AWS_ENDPOINT_URL || e.AWS_ENDPOINT_URL_DYNAMODB)) },
    templatesPath,
    templates: catalogue.templates,
    ...(opsChannel ? { opsChannel } : {}),
    admins: e.DORMOUSE_ADMINS ?? (mode === 'console' ? ['U0OPS'] : []),
    ops: e.DORMOUSE_OPS ?? (mode === 'console' ? ['U0OPS'] : []),
    ...(policyPath ? { policyPath } : {}),
    policy: policy.policy,
    timeouts: { runningSeconds: e.DORMOUSE_RUNNING_TIMEOUT_SECONDS, agentSeconds: e.DORMOUSE_AGENT_TIMEOUT_SECONDS },
    data: {
      ...(e.DORMOUSE_DATA_BUCKET ? { bucket: e.DORMOUSE_DATA_BUCKET } : {}),
      prefix: e.DORMOUSE_DATA_PREFIX ?? '',
      ...(e.AWS_ENDPOINT_URL_S3 ? { endpoint: e.AWS_ENDPOINT_URL_S3 } : {}),
      retentionDays: e.DORMOUSE_DATA_RETENTION_DAYS,
      keepGenerations: e.DORMOUSE_DATA_KEEP_GENERATIONS,
      saveTimeoutSeconds: e.DORMOUSE_SAVE_TIMEOUT_SECONDS,
      restoreTimeoutSeconds: e.DORMOUSE_RESTORE_TIMEOUT_SECONDS,
    },
    sandbox: {
      dataDir: resolve(cwd, e.DORMOUSE_SANDBOX_DIR),
      faults: e.DORMOUSE_SANDBOX_FAULTS ?? {},
      delays: e.DORMOUSE_SANDBOX_DELAYS ?? {},
      clock: { ...(e.DORMOUSE_SANDBOX_CLOCK ? { start: e.DORMOUSE_SANDBOX_CLOCK } : {}), speed: e.DORMOUSE_SANDBOX_CLOCK_SPEED },
    },
    schedule: {
      default: e.DORMOUSE_SCHEDULE_DEFAULT,
      zone: e.DORMOUSE_SCHEDULE_ZONE,
      reminderMinutes: e.DORMOUSE_REMINDER_MINUTES,
      allowSkip: e.DORMOUSE_SKIP_TONIGHT ?? true,
      ...(e.DORMOUSE_OFF_MAX_DAYS !== undefined ? { offMaxDays: e.DORMOUSE_OFF_MAX_DAYS } : {}),
      holidays: { ...(e.DORMOUSE_HOLIDAYS ?? {}), extraDates: e.DORMOUSE_HOLIDAY_DATES ?? [] },
      idle: { days: e.DORMOUSE_IDLE_DAYS, answerHours: e.DORMOUSE_IDLE_ANSWER_HOURS },
      ...(e.DORMOUSE_SAVINGS_CHANNEL ? { savingsChannel: e.DORMOUSE_SAVINGS_CHANNEL } : {}),
      // The sandbox's events are seen in seconds (its clock may run fast or jump); AWS's minutes are plenty.
      tickSeconds: e.DORMOUSE_TICK_SECONDS ?? (cloud === 'sandbox' ? 1 : 60),
    },
    teams: e.DORMOUSE_TEAMS ?? {},
    logLevel: e.LOG_LEVEL,
  };
  return deepFreeze(config);
}

/**
 * `PORT=eighty: expected a whole number from 0 to 65535.`, `SLACK_BOT_TOKEN is missing: …`,
 * `DORMOUSE_SWEEP_SECONDS=5 (default): …` for a rule that a default breaks.
 * Secrets are named, never shown; a value the message already quotes is not repeated.
 */
function envProblems(issues: readonly Issue[], env: NodeJS.ProcessEnv): string[] {
  const keyOf = (iss: Issue) => String(iss.path[0]);
  const sorted = [...issues].sort((a, b) => KEYS.indexOf(keyOf(a)) - KEYS.indexOf(keyOf(b)));
  return [
    ...new Set(
      sorted.map((iss) => {
        const key = keyOf(iss);
        const raw = clean(env[key]);
        const message = messageOf(iss);
        if (raw === undefined) {
          const effective = iss.input;
          return typeof effective === 'number' || typeof effective === 'string' ? `${key}=${effective} (default): ${message}` : `${key} is missing: ${message}`;
        }
        // A value the message quotes (in backticks) is not repeated; one it only happens to contain (`0` in 720) is.
        if (SECRETS.has(key) || message.includes(`\`${raw}\``) || message.includes(`"${raw}"`)) return `${key}: ${message}`;
        return `${key}=${raw}: ${message}`;
      }),
    ),
  ];
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}
