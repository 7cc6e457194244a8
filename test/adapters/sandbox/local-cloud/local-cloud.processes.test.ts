/**
 * The local cloud with real processes: a sandbox-safe step belongs to the
 * server (its runner), not to the bot process that sent it. A bot killed
 * with -9 or paused right after sending leaves a step that still ends and
 * records its result; the next run of the same key, from another process,
 * attaches to it, and the step has run once.
 *
 * The signals go to the bot's whole process group, as a supervisor's would,
 * so a runner left in that group would be killed or paused with it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FAST_SANDBOX_DELAYS, LocalCloud } from '../../../../src/adapters/sandbox/local-cloud/local-cloud.js';
import { systemClock } from '../../../../src/core/ports/clock.port.js';
import type { RemoteStep } from '../../../../src/core/ports/remote-command.port.js';

const CHILD = join(import.meta.dirname, 'support', 'run-step.child.ts');
const REPO = join(import.meta.dirname, '..', '..', '..', '..');
/** Takes long enough that the process that sent it is gone before it ends; counts its runs. */
const SCRIPT = 'sleep 1\necho ran >> runs.txt\necho done';

let rootDir: string;
let cloud: LocalCloud;
let instanceId: string;
const children: ChildProcess[] = [];

beforeEach(async () => {
  rootDir = await mkdtemp(join(tmpdir(), 'dormouse-local-cloud-processes-'));
  cloud = new LocalCloud({ rootDir, clock: systemClock, delays: FAST_SANDBOX_DELAYS });
  const [server] = await cloud.launch({
    environmentId: '01JD3Q8Z6KX7W8Y9A0B1C2D3E4',
    environment: 'demo',
    owner: 'U123',
    template: 'web',
    image: 'ami-0123456789abcdef0',
    instanceType: 't3.small',
    count: 1,
    subnets: [],
    securityGroups: [],
    volumes: [],
    tags: {},
    attempt: 1,
    idempotencyKey: 'dormouse-01JD3Q8Z6KX7W8Y9A0B1C2D3E4-1',
  });
  instanceId = server!.instanceId;
  await cloud.waitUntilRunning([instanceId], { timeoutMs: 5000 });
});

/** Sends a signal to the child's process group: the bot and anything it left in its group. */
function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  process.kill(-(child.pid ?? 0), signal);
}

afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) signalGroup(child, 'SIGKILL');
  }
  await rm(rootDir, { recursive: true, force: true });
});

/** Starts the one-call bot on the shared folder; resolves once it says the step was accepted. */
async function sendFromChild(key: string): Promise<{ child: ChildProcess; lines: string[] }> {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, rootDir, instanceId, key, SCRIPT], {
    cwd: REPO,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  children.push(child);
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const lines: string[] = [];
  const accepted = new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      lines.push(line);
      if (line === 'accepted') resolve();
    });
    child.once('exit', (code, signal) => reject(new Error(`child exited (${code ?? signal}) before accepting: ${stderr}`)));
  });
  await accepted;
  return { child, lines };
}

const survivor = (key: string): RemoteStep => ({
  name: 'survive',
  key,
  script: SCRIPT,
  timeoutSeconds: 30,
  sandboxSafe: true,
  env: {},
});

async function runs(): Promise<string> {
  return readFile(join(cloud.serverDataDir(instanceId), 'runs.txt'), 'utf8').catch(() => '');
}

async function sentLines(): Promise<number> {
  return (await readFile(cloud.serverLogPath(instanceId), 'utf8')).split('step survive: sent').length - 1;
}

describe('a sandbox-safe step outlives the process that sent it', () => {
  it('killed with -9 right after sending: the step ends anyway, and a run from this process attaches to it', async () => {
    const { child } = await sendFromChild('kill-9');
    signalGroup(child, 'SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    expect(await runs()).toBe('');

    const result = await cloud.run(instanceId, survivor('kill-9'), { agentTimeoutMs: 5000 });

    expect(result).toMatchObject({ status: 'Success', exitCode: 0, stdoutTail: 'done' });
    expect(result.durationMs).toBeGreaterThanOrEqual(1000);
    expect(await runs()).toBe('ran\n');
    expect(await sentLines()).toBe(1);
  }, 60_000);

  it('paused (SIGSTOP) right after sending: the step ends anyway; both runs get its one result', async () => {
    const { child, lines } = await sendFromChild('paused');
    signalGroup(child, 'SIGSTOP');

    const result = await cloud.run(instanceId, survivor('paused'), { agentTimeoutMs: 5000 });
    expect(result).toMatchObject({ status: 'Success', exitCode: 0, stdoutTail: 'done' });

    signalGroup(child, 'SIGCONT');
    await new Promise((resolve) => child.once('exit', resolve));
    const childResult = lines.find((l) => l.startsWith('result '));
    expect(JSON.parse(childResult?.slice('result '.length) ?? '{}')).toEqual(result);
    expect(await runs()).toBe('ran\n');
    expect(await sentLines()).toBe(1);
  }, 60_000);
});
