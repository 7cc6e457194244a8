/**
 * The only place that reads process.env and the templates file. Validates
 * everything once and fails with one message listing every problem.
 *
 * With no configuration at all, Dormouse runs as the sandbox: the Slack
 * console instead of Slack, a local cloud instead of AWS, an embedded store.
 */
import { resolve } from 'node:path';
import type { Template } from '../core/environment/template.js';
import { parseSandboxDelays, type SandboxDelays } from '../adapters/sandbox/local-cloud/sandbox-delays.js';
import { parseSandboxFaults, type SandboxFaults } from '../adapters/sandbox/local-cloud/sandbox-faults.js';
import { loadTemplates } from './templates.js';

export type SlackMode = 'http' | 'socket' | 'console';
export type CloudMode = 'aws' | 'sandbox';
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

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
  table: { name: string; create: boolean };
  templatesPath: string;
  templates: readonly Template[];
  opsChannel?: string;
  admins: readonly string[];
  timeouts: { runningSeconds: number; agentSeconds: number };
  sandbox: { dataDir: string; faults: SandboxFaults; delays: Partial<SandboxDelays> };
  logLevel: LogLevel;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: string[]) {
    super(`Dormouse cannot start; fix these settings (see .env.example):\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

const LOG_LEVELS: LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
const SANDBOX_SIGNING_SECRET = 'sandbox-signing-secret-not-for-production';
const SANDBOX_BOT_TOKEN = 'xoxb-sandbox-console';

export function loadConfig(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): Config {
  const problems: string[] = [];
  const get = (key: string): string | undefined => {
    const v = env[key]?.trim();
    return v ? v : undefined;
  };
  const int = (key: string, fallback: number, min: number, max: number): number => {
    const raw = get(key);
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) {
      problems.push(`${key}=${raw}: expected a whole number from ${min} to ${max}.`);
      return fallback;
    }
    return n;
  };
  const bool = (key: string, fallback: boolean): boolean => {
    const raw = get(key)?.toLowerCase();
    if (raw === undefined) return fallback;
    if (['1', 'true', 'yes'].includes(raw)) return true;
    if (['0', 'false', 'no'].includes(raw)) return false;
    problems.push(`${key}=${raw}: expected true or false.`);
    return fallback;
  };

  const parsed = <T>(key: string, parse: (spec: string) => T, fallback: T): T => {
    const raw = get(key);
    if (raw === undefined) return fallback;
    try {
      return parse(raw);
    } catch (e) {
      problems.push(`${key}: ${(e as Error).message}`);
      return fallback;
    }
  };

  // Slack: configured when a bot token is given; otherwise the sandbox console.
  const botToken = get('SLACK_BOT_TOKEN');
  const signingSecret = get('SLACK_SIGNING_SECRET');
  const appToken = get('SLACK_APP_TOKEN');
  const apiUrl = get('SLACK_API_URL');
  let mode: SlackMode = 'console';
  if (botToken || signingSecret || appToken) {
    mode = appToken ? 'socket' : 'http';
    if (!botToken) problems.push('SLACK_BOT_TOKEN is missing: the Bot User OAuth Token (xoxb-…) from the app\'s "OAuth & Permissions" page.');
    else if (!botToken.startsWith('xoxb-')) problems.push('SLACK_BOT_TOKEN must be a bot token starting with xoxb-.');
    if (mode === 'http' && !signingSecret) problems.push('SLACK_SIGNING_SECRET is missing: "Basic Information" → "Signing Secret" of the Slack app.');
    if (appToken && !appToken.startsWith('xapp-')) problems.push('SLACK_APP_TOKEN must be an app-level token starting with xapp- (or leave it unset to receive HTTP).');
  }
  if (apiUrl && !/^https?:\/\/.+\/$/.test(apiUrl)) problems.push(`SLACK_API_URL=${apiUrl}: expected a URL ending in a slash, like https://slack.com/api/.`);

  const port = int('PORT', 3000, 0, 65535);
  const host = get('HOST') ?? (mode === 'console' ? '127.0.0.1' : '0.0.0.0');

  // Cloud: AWS when Slack is configured and a region is set, or an endpoint (moto, LocalStack)
  // is given, or when told. A region exported in a developer's shell alone does not turn
  // the try-it-out sandbox into launches on their real account.
  const region = get('AWS_REGION') ?? get('AWS_DEFAULT_REGION');
  const endpoint = get('AWS_ENDPOINT_URL');
  const cloudRaw = get('DORMOUSE_CLOUD');
  let cloud: CloudMode = endpoint || (region && mode !== 'console') ? 'aws' : 'sandbox';
  if (cloudRaw) {
    if (cloudRaw === 'aws' || cloudRaw === 'sandbox') cloud = cloudRaw;
    else problems.push(`DORMOUSE_CLOUD=${cloudRaw}: expected aws or sandbox.`);
  }
  if (cloud === 'aws' && !region) problems.push('AWS_REGION is missing: the region Dormouse launches servers in, e.g. eu-west-1.');
  if (endpoint && !/^https?:\/\//.test(endpoint)) problems.push(`AWS_ENDPOINT_URL=${endpoint}: expected an http(s) URL.`);

  const storeEndpoint = get('AWS_ENDPOINT_URL_DYNAMODB');
  if (storeEndpoint && !/^https?:\/\//.test(storeEndpoint)) problems.push(`AWS_ENDPOINT_URL_DYNAMODB=${storeEndpoint}: expected an http(s) URL.`);

  const leaseSeconds = int('DORMOUSE_LEASE_SECONDS', 30, 5, 600);
  const sweepSeconds = int('DORMOUSE_SWEEP_SECONDS', 5, 1, 30);
  if (60 % sweepSeconds !== 0) problems.push(`DORMOUSE_SWEEP_SECONDS=${sweepSeconds}: use a number that divides 60 (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30).`);
  if (sweepSeconds * 2 > leaseSeconds) problems.push(`DORMOUSE_SWEEP_SECONDS=${sweepSeconds}: the sweep must run at least twice per lease (DORMOUSE_LEASE_SECONDS=${leaseSeconds}), or the leader's lease lapses between ticks.`);

  const tableName = get('DORMOUSE_TABLE') ?? 'dormouse';
  if (!/^[a-zA-Z0-9_.-]{3,255}$/.test(tableName)) problems.push(`DORMOUSE_TABLE=${tableName}: 3-255 letters, digits, _ . or -.`);

  const templatesPath = resolve(cwd, get('DORMOUSE_TEMPLATES') ?? 'infra/templates.yml');
  const { templates, problems: templateProblems } = loadTemplates(templatesPath);
  problems.push(...templateProblems);

  const opsChannel = get('DORMOUSE_OPS_CHANNEL') ?? (mode === 'console' ? 'C0OPS' : undefined);
  if (opsChannel && !/^[CG][A-Z0-9]{2,}$/.test(opsChannel)) problems.push(`DORMOUSE_OPS_CHANNEL=${opsChannel}: a channel id like C0123ABCD (right-click the channel → Copy link).`);
  if (!opsChannel && mode !== 'console') problems.push('DORMOUSE_OPS_CHANNEL is missing: the channel id where failure alerts go.');

  const admins = (get('DORMOUSE_ADMINS') ?? (mode === 'console' ? 'U0OPS' : '')).split(',').map((s) => s.trim()).filter(Boolean);
  for (const a of admins) if (!/^[UW][A-Z0-9]{2,}$/.test(a)) problems.push(`DORMOUSE_ADMINS: \`${a}\` is not a Slack user id like U0123ABCD.`);

  const logLevel = (get('LOG_LEVEL') ?? 'info') as LogLevel;
  if (!LOG_LEVELS.includes(logLevel)) problems.push(`LOG_LEVEL=${logLevel}: one of ${LOG_LEVELS.join(', ')}.`);

  const config: Config = {
    slack: {
      mode,
      botToken: mode === 'console' ? SANDBOX_BOT_TOKEN : (botToken ?? ''),
      signingSecret: mode === 'console' ? SANDBOX_SIGNING_SECRET : (signingSecret ?? ''),
      ...(appToken ? { appToken } : {}),
      ...(apiUrl ? { apiUrl } : {}),
    },
    http: { port, host },
    cloud,
    aws: { region: region ?? 'us-east-1', ...(endpoint ? { endpoint } : {}) },
    store: storeEndpoint ? { endpoint: storeEndpoint } : {},
    leases: { leaseSeconds, sweepSeconds },
    table: { name: tableName, create: bool('DORMOUSE_CREATE_TABLE', cloud === 'sandbox' || Boolean(endpoint || storeEndpoint)) },
    templatesPath,
    templates,
    ...(opsChannel ? { opsChannel } : {}),
    admins,
    timeouts: {
      runningSeconds: int('DORMOUSE_RUNNING_TIMEOUT_SECONDS', 600, 5, 3600),
      agentSeconds: int('DORMOUSE_AGENT_TIMEOUT_SECONDS', 600, 5, 3600),
    },
    sandbox: {
      dataDir: resolve(cwd, get('DORMOUSE_SANDBOX_DIR') ?? '.dormouse'),
      faults: parsed('DORMOUSE_SANDBOX_FAULTS', parseSandboxFaults, {}),
      delays: parsed('DORMOUSE_SANDBOX_DELAYS', parseSandboxDelays, {}),
    },
    logLevel,
  };
  if (problems.length) throw new ConfigError(problems);
  return deepFreeze(config);
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}
