import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { commandHash } from '../../../../src/adapters/sandbox/local-cloud/command-files.js';
import { DomainError, ErrorCodes } from '../../../../src/core/environment/errors.js';
import { newEnvironmentId } from '../../../../src/core/environment/ids.js';
import type { Instance, LaunchRequest } from '../../../../src/core/ports/compute.port.js';
import { systemClock } from '../../../../src/core/ports/clock.port.js';
import type { RemoteStep } from '../../../../src/core/ports/remote-command.port.js';
import {
  FAST_SANDBOX_DELAYS,
  LocalCloud,
  RECORDED_STEP_STDOUT,
  type SandboxFaults,
} from '../../../../src/adapters/sandbox/local-cloud/local-cloud.js';
import { eventually } from '../../../support/eventually.js';
import { ManualClock } from './manual-clock.js';

const delays = FAST_SANDBOX_DELAYS;
/** The environment most tests launch: `demo`, with this id. */
const DEMO_ID = '01JD3Q8Z6KX7W8Y9A0B1C2D3E4';

function launchRequest(overrides: Partial<LaunchRequest> = {}): LaunchRequest {
  const environmentId = overrides.environmentId ?? DEMO_ID;
  const attempt = overrides.attempt ?? 1;
  return {
    environmentId,
    environment: 'demo',
    owner: 'U123',
    template: 'web',
    image: 'ami-0123456789abcdef0',
    instanceType: 't3.small',
    count: 2,
    subnets: ['subnet-1'],
    securityGroups: ['sg-1'],
    volumes: [{ device: '/dev/xvda', sizeGiB: 20, type: 'gp3' }],
    tags: { team: 'payments' },
    attempt,
    idempotencyKey: `dormouse-${environmentId}-${attempt}`,
    ...overrides,
  };
}

let runs = 0;
/** A step with a key of its own (as the core builds one per server, step and retry), unless the test gives one. */
function step(overrides: Partial<RemoteStep> = {}): RemoteStep {
  runs += 1;
  return {
    name: 'install',
    key: `${DEMO_ID}/1.0/0/install#${runs}`,
    script: 'echo hi',
    timeoutSeconds: 60,
    sandboxSafe: false,
    env: {},
    ...overrides,
  };
}

/** The "sent" lines of a step in the server's bootstrap.log: how many times it was sent. */
async function sentLines(c: LocalCloud, instanceId: string, name = 'install'): Promise<number> {
  return (await readFile(c.serverLogPath(instanceId), 'utf8')).split(`step ${name}: sent`).length - 1;
}

/** Alive and not a zombie (a container's init may not reap orphans at once). */
async function isAlive(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

async function expectDomainError(p: Promise<unknown>, code: string): Promise<DomainError> {
  const error = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DomainError);
  expect((error as DomainError).code).toBe(code);
  return error as DomainError;
}

let rootDir: string;
let clock: ManualClock;

beforeEach(async () => {
  rootDir = await mkdtemp(join(tmpdir(), 'dormouse-local-cloud-'));
  clock = new ManualClock();
});

afterEach(async () => {
  await rm(rootDir, { recursive: true, force: true });
});

function cloud(faults?: SandboxFaults): LocalCloud {
  return new LocalCloud({ rootDir, clock, delays, ...(faults ? { faults } : {}) });
}

/** Launches and moves the clock until the servers' agents are online. */
async function readyServers(c: LocalCloud, overrides: Partial<LaunchRequest> = {}): Promise<Instance[]> {
  const instances = await c.launch(launchRequest({ count: 1, ...overrides }));
  clock.advance(delays.bootMs + delays.agentMs);
  return instances;
}

describe('LocalCloud as compute', () => {
  it('launches servers that are pending, then running with distinct private IPs once bootMs has passed', async () => {
    const c = cloud();
    const launched = await c.launch(launchRequest());

    expect(launched).toHaveLength(2);
    expect(launched.map((i) => i.index)).toEqual([0, 1]);
    for (const i of launched) {
      expect(i.instanceId).toMatch(/^i-[0-9a-f]{17}$/);
      expect(i.state).toBe('pending');
      expect(i.attempt).toBe(1);
    }

    clock.advance(delays.bootMs - 1);
    expect((await c.findByEnvironment(DEMO_ID)).map((i) => i.state)).toEqual(['pending', 'pending']);
    clock.advance(1);
    const running = await c.findByEnvironment(DEMO_ID);
    expect(running.map((i) => i.state)).toEqual(['running', 'running']);
    const ips = running.map((i) => i.privateIp);
    for (const ip of ips) expect(ip).toMatch(/^10\.0\.\d{1,3}\.\d{1,3}$/);
    expect(new Set(ips).size).toBe(2);
  });

  it('keeps each server as a folder with instance.json, a data directory and a bootstrap.log', async () => {
    const c = cloud();
    const [first] = await c.launch(launchRequest({ count: 1 }));
    const id = first!.instanceId;
    const folder = join(rootDir, 'servers', id);

    const record = JSON.parse(await readFile(join(folder, 'instance.json'), 'utf8'));
    expect(record).toMatchObject({
      instanceId: id,
      environmentId: DEMO_ID,
      environment: 'demo',
      owner: 'U123',
      index: 0,
      attempt: 1,
      state: 'pending',
      privateIp: first!.privateIp,
      launchedAt: clock.now().toISOString(),
      tags: {
        team: 'payments',
        Name: 'dormouse-demo',
        'managed-by': 'dormouse',
        'dormouse:environment-id': DEMO_ID,
        'dormouse:environment': 'demo',
        'dormouse:owner': 'U123',
        'dormouse:template': 'web',
        'dormouse:attempt': '1',
      },
    });
    // As on EC2, no tag tells the servers of one launch apart: the index is the record's own.
    expect(record.tags).not.toHaveProperty('dormouse:index');
    expect(c.serverDataDir(id)).toBe(join(folder, 'data'));
    expect(existsSync(c.serverDataDir(id))).toBe(true);
    expect(await readFile(join(folder, 'bootstrap.log'), 'utf8')).toContain(`launch ${id}`);

    // The snapshot in the file follows the state once the cloud looks again.
    clock.advance(delays.bootMs);
    await c.describeAll();
    expect(JSON.parse(await readFile(join(folder, 'instance.json'), 'utf8')).state).toBe('running');
  });

  it('waitUntilRunning polls (reporting each poll) until every server runs', async () => {
    const c = cloud();
    const launched = await c.launch(launchRequest());
    const polls: string[][] = [];
    const running = await c.waitUntilRunning(
      launched.map((i) => i.instanceId),
      { timeoutMs: 60_000, onPoll: (instances) => polls.push(instances.map((i) => i.state)) },
    );
    expect(running.every((i) => i.state === 'running' && i.privateIp)).toBe(true);
    expect(polls[0]).toEqual(['pending', 'pending']);
    expect(polls.at(-1)).toEqual(['running', 'running']);
    // It slept until the servers were up, not (much) longer.
    const slept = clock.sleeps.reduce((a, b) => a + b, 0);
    expect(slept).toBeGreaterThanOrEqual(delays.bootMs);
    expect(slept).toBeLessThan(delays.bootMs + 8 * delays.pollMs);
  });

  it('waitUntilRunning gives up with WAIT_TIMED_OUT (retryable) when the servers take too long', async () => {
    const c = new LocalCloud({ rootDir, clock, delays: { ...delays, bootMs: 60_000 } });
    const launched = await c.launch(launchRequest({ count: 1 }));
    const e = await expectDomainError(
      c.waitUntilRunning([launched[0]!.instanceId], { timeoutMs: 1000 }),
      ErrorCodes.WAIT_TIMED_OUT,
    );
    expect(e.retryable).toBe(true);
    expect(e.message).toContain(launched[0]!.instanceId);
  });

  it('is idempotent per environment id and attempt: a repeated launch returns the same servers', async () => {
    const c = cloud();
    const first = await c.launch(launchRequest());
    const again = await c.launch(launchRequest());
    expect(again.map((i) => i.instanceId)).toEqual(first.map((i) => i.instanceId));

    // Concurrent double click: still two servers.
    const twice = launchRequest({ environmentId: newEnvironmentId(clock.now()), environment: 'twice' });
    const [a, b] = await Promise.all([c.launch(twice), c.launch(twice)]);
    expect(a.map((i) => i.instanceId)).toEqual(b.map((i) => i.instanceId));
    expect(await c.findByEnvironment(twice.environmentId)).toHaveLength(2);

    // All or none: a larger count for the same attempt launches nothing more; a new attempt launches a new set.
    const three = await c.launch(launchRequest({ count: 3 }));
    expect(three.map((i) => i.instanceId)).toEqual(first.map((i) => i.instanceId));
    const second = await c.launch(launchRequest({ attempt: 2 }));
    expect(second).toHaveLength(2);
    expect(second.some((i) => first.some((f) => f.instanceId === i.instanceId))).toBe(false);
    expect((await c.describeAll()).filter((s) => s.environmentId === DEMO_ID)).toHaveLength(4);
  });

  it('returns a set whose servers have ended as it is (the caller sees it is incomplete) and launches nothing', async () => {
    const c = cloud();
    const first = await c.launch(launchRequest());
    clock.advance(delays.bootMs);
    await c.terminate([first[1]!.instanceId]);
    clock.advance(delays.terminateMs);

    const again = await c.launch(launchRequest());

    expect(again.map((i) => [i.instanceId, i.state])).toEqual([
      [first[0]!.instanceId, 'running'],
      [first[1]!.instanceId, 'terminated'],
    ]);
    expect(await c.describeAll()).toHaveLength(2);
  });

  it('never gives a reused name the servers of the environment that had it before', async () => {
    const c = cloud();
    const old = await c.launch(launchRequest());
    const reused = launchRequest({ environmentId: newEnvironmentId(clock.now()) });

    const fresh = await c.launch(reused);

    expect(fresh.some((i) => old.some((o) => o.instanceId === i.instanceId))).toBe(false);
    expect((await c.findByEnvironment(reused.environmentId)).map((i) => i.instanceId)).toEqual(fresh.map((i) => i.instanceId));
    expect((await c.findByEnvironment(DEMO_ID)).map((i) => i.instanceId)).toEqual(old.map((i) => i.instanceId));
  });

  it('launches once when two processes share the folder and launch the same attempt at once (the lock file)', async () => {
    // Two clouds on one folder have separate in-process queues: only the lock file keeps them apart.
    const [a, b] = [cloud(), cloud()];
    const results = await Promise.all([a.launch(launchRequest({ count: 3 })), b.launch(launchRequest({ count: 3 }))]);

    expect(results[0].map((i) => i.instanceId)).toEqual(results[1].map((i) => i.instanceId));
    expect(await a.describeAll()).toHaveLength(3);
    expect(existsSync(join(rootDir, 'cloud.lock'))).toBe(false);
  });

  it('breaks a lock left by a process that died, and waits for one held by a live process', async () => {
    const lock = join(rootDir, 'cloud.lock');
    await writeFile(lock, JSON.stringify({ pid: 2 ** 22 + 12345, at: Date.now(), nonce: 'dead' }));
    expect(await cloud().launch(launchRequest({ count: 1 }))).toHaveLength(1);
    expect(existsSync(lock)).toBe(false);

    // Held by a live process (this one stands in for it): the launch waits until it is released.
    await writeFile(lock, JSON.stringify({ pid: process.pid, at: Date.now(), nonce: 'live' }));
    let launched = false;
    const launching = cloud()
      .launch(launchRequest({ count: 1, environmentId: newEnvironmentId(clock.now()) }))
      .then(() => (launched = true));
    await new Promise((r) => setTimeout(r, 200));
    expect(launched).toBe(false);
    await rm(lock);
    await launching;
    expect(launched).toBe(true);

    // Older than 30 s: stale, even if its process lives (paused, say).
    await writeFile(lock, JSON.stringify({ pid: process.pid, at: Date.now() - 31_000, nonce: 'old' }));
    expect(await cloud().launch(launchRequest({ count: 1, environmentId: newEnvironmentId(clock.now()) }))).toHaveLength(1);
  });

  it('keeps its servers across a restart: a new LocalCloud on the same folder finds them where they would be', async () => {
    const launched = await cloud().launch(launchRequest());
    clock.advance(delays.bootMs); // time passes while the process is down

    const restarted = cloud();
    const found = await restarted.findByEnvironment(DEMO_ID);
    expect(found.map((i) => i.instanceId)).toEqual(launched.map((i) => i.instanceId));
    expect(found.map((i) => i.state)).toEqual(['running', 'running']);
    // And it is still idempotent after the restart.
    expect((await restarted.launch(launchRequest())).map((i) => i.instanceId)).toEqual(
      launched.map((i) => i.instanceId),
    );
  });

  it('terminate marks servers shutting-down then terminated, keeps their folder and data, and forgets nothing silently', async () => {
    const c = cloud();
    const [server] = await readyServers(c);
    const id = server!.instanceId;
    await writeFile(join(c.serverDataDir(id), 'precious.txt'), 'keep me');

    await c.terminate([id]);
    expect((await c.describe(id))?.state).toBe('shutting-down');
    // Like EC2's: shutting-down and terminated servers are no longer the environment's.
    expect(await c.findByEnvironment(DEMO_ID)).toEqual([]);
    await c.waitUntilTerminated([id], { timeoutMs: 10_000 });

    expect(await c.findByEnvironment(DEMO_ID)).toEqual([]);
    const all = await c.describeAll();
    expect(all.map((s) => [s.instanceId, s.state])).toEqual([[id, 'terminated']]);
    expect(await readFile(join(c.serverDataDir(id), 'precious.txt'), 'utf8')).toBe('keep me');
    expect(JSON.parse(await readFile(join(rootDir, 'servers', id, 'instance.json'), 'utf8')).state).toBe('terminated');
    expect(await readFile(c.serverLogPath(id), 'utf8')).toContain('terminate requested');

    // Terminating again, or an unknown id, is not an error.
    await c.terminate([id, 'i-00000000000000000']);
    // The next environment of that name (a new id) gets new servers.
    const relaunched = await c.launch(launchRequest({ count: 1, environmentId: newEnvironmentId(clock.now()) }));
    expect(relaunched[0]!.instanceId).not.toBe(id);
  });

  it('stops waiting when the signal is aborted, with its reason', async () => {
    const c = new LocalCloud({ rootDir, clock, delays: { ...delays, bootMs: 60_000 } });
    const [server] = await c.launch(launchRequest({ count: 1 }));
    const stop = new AbortController();
    let polls = 0;
    const error = await c
      .waitUntilRunning([server!.instanceId], {
        timeoutMs: 120_000,
        signal: stop.signal,
        onPoll: () => {
          if (++polls === 3) stop.abort(new Error('lease lost'));
        },
      })
      .catch((e: unknown) => e);
    expect(error).toBe(stop.signal.reason);
    expect(polls).toBe(3);

    await c.terminate([server!.instanceId]);
    await expect(
      c.waitUntilTerminated([server!.instanceId], { timeoutMs: 60_000, signal: AbortSignal.abort('stopping') }),
    ).rejects.toBe('stopping');
  });

  it('waitUntilRunning reports a terminated server as INSTANCE_LOST', async () => {
    const c = cloud();
    const [server] = await c.launch(launchRequest({ count: 1 }));
    await c.terminate([server!.instanceId]);
    await expectDomainError(
      c.waitUntilRunning([server!.instanceId], { timeoutMs: 10_000 }),
      ErrorCodes.INSTANCE_LOST,
    );
  });
});

describe('LocalCloud as remote commands', () => {
  it('records a step that is not sandbox-safe in bootstrap.log without running it', async () => {
    const c = cloud();
    const [server] = await readyServers(c);
    const id = server!.instanceId;
    const marker = join(tmpdir(), `dormouse-must-not-exist-${process.pid}-${Date.now()}`);

    const result = await c.run(
      id,
      step({ script: `touch "${marker}"\ntouch "$DORMOUSE_DATA_DIR/made-by-step"`, env: { ENV_NAME: 'demo' } }),
      { agentTimeoutMs: 1000 },
    );

    expect(result).toEqual({
      status: 'Success',
      exitCode: 0,
      stdoutTail: RECORDED_STEP_STDOUT,
      stderrTail: '',
      durationMs: delays.stepMs,
    });
    expect(existsSync(marker)).toBe(false);
    expect(existsSync(join(c.serverDataDir(id), 'made-by-step'))).toBe(false);
    const log = await readFile(c.serverLogPath(id), 'utf8');
    expect(log).toContain('step install: sent');
    expect(log).toContain('recorded only');
    expect(log).toContain(`  | export ENV_NAME='demo'`);
    expect(log).toContain(`  | touch "${marker}"`);
    expect(log).toContain('step install: Success, exit code 0');
  });

  it('runs a sandbox-safe step with bash in the server data directory and returns its exit code and output tails', async () => {
    const c = cloud();
    const [server] = await readyServers(c);
    const id = server!.instanceId;
    const script = [
      'pwd > where.txt',
      'echo "$DORMOUSE_DATA_DIR" > data-dir.txt',
      'for i in $(seq 1 30); do echo "line $i"; done',
      'echo "warning: careful" >&2',
    ].join('\n');

    const result = await c.run(id, step({ sandboxSafe: true, script }), { agentTimeoutMs: 1000 });

    expect(result.status).toBe('Success');
    expect(result.exitCode).toBe(0);
    const dataDir = c.serverDataDir(id);
    expect((await readFile(join(dataDir, 'where.txt'), 'utf8')).trim()).toBe(dataDir);
    expect((await readFile(join(dataDir, 'data-dir.txt'), 'utf8')).trim()).toBe(dataDir);
    const lines = result.stdoutTail.split('\n');
    expect(lines).toHaveLength(20);
    expect(lines[0]).toBe('line 11');
    expect(lines[19]).toBe('line 30');
    expect(result.stderrTail).toBe('warning: careful');
    const log = await readFile(c.serverLogPath(id), 'utf8');
    expect(log).toContain('run on this machine');
    expect(log).toContain('  stdout | line 30');
  });

  it('passes variables as inert values and keeps this process environment away from the step', async () => {
    const c = cloud();
    const [server] = await readyServers(c);
    const id = server!.instanceId;
    const dataDir = c.serverDataDir(id);
    const hostile = `it's "quoted" $(touch pwned) \`touch pwned2\` ; touch pwned3 $HOME`;
    process.env.DORMOUSE_TEST_SECRET = 'xoxb-not-for-steps';
    try {
      const result = await c.run(
        id,
        step({ sandboxSafe: true, env: { VALUE: hostile }, script: `printf '%s' "$VALUE" > value.txt\nenv > env.txt` }),
        { agentTimeoutMs: 1000 },
      );
      expect(result.status).toBe('Success');
    } finally {
      delete process.env.DORMOUSE_TEST_SECRET;
    }
    expect(await readFile(join(dataDir, 'value.txt'), 'utf8')).toBe(hostile);
    for (const f of ['pwned', 'pwned2', 'pwned3']) expect(existsSync(join(dataDir, f))).toBe(false);
    const env = await readFile(join(dataDir, 'env.txt'), 'utf8');
    expect(env).not.toContain('xoxb-not-for-steps');
    expect(env).toContain(`DORMOUSE_DATA_DIR=${dataDir}`);
  });

  it('reports a failing sandbox-safe step as Failed with its exit code and stderr', async () => {
    const c = cloud();
    const [server] = await readyServers(c);
    const result = await c.run(
      server!.instanceId,
      step({ sandboxSafe: true, script: 'echo "partial work"\necho "cannot reach the database" >&2\nexit 3' }),
      { agentTimeoutMs: 1000 },
    );
    expect(result).toMatchObject({
      status: 'Failed',
      exitCode: 3,
      stdoutTail: 'partial work',
      stderrTail: 'cannot reach the database',
    });
    expect(await readFile(c.serverLogPath(server!.instanceId), 'utf8')).toContain('step install: Failed, exit code 3');
  });

  it('kills a sandbox-safe step (and what it started) when its timeout passes: TimedOut', async () => {
    const c = cloud();
    const [server] = await readyServers(c);
    const dataDir = c.serverDataDir(server!.instanceId);
    const started = Date.now();
    const result = await c.run(
      server!.instanceId,
      step({
        sandboxSafe: true,
        timeoutSeconds: 0.5,
        script: 'echo $$ > bash.pid\nsleep 30 &\necho $! > sleep.pid\necho started\nwait',
      }),
      { agentTimeoutMs: 1000 },
    );
    expect(result.status).toBe('TimedOut');
    expect(result.exitCode).toBeUndefined();
    expect(result.stdoutTail).toBe('started');
    expect(Date.now() - started).toBeLessThan(5000);
    for (const f of ['bash.pid', 'sleep.pid']) {
      const pid = Number((await readFile(join(dataDir, f), 'utf8')).trim());
      expect(pid).toBeGreaterThan(0);
      expect(await isAlive(pid)).toBe(false);
    }
  });

  it('waits for the agent to come online before sending, like SSM during InvalidInstanceId', async () => {
    const c = cloud();
    const [server] = await c.launch(launchRequest({ count: 1 }));
    const onlineAt = (await c.describe(server!.instanceId))!.agentOnlineAt;
    let acceptedAt: string | undefined;
    let accepted = 0;

    const result = await c.run(server!.instanceId, step(), {
      agentTimeoutMs: 60_000,
      onAccepted: () => {
        accepted += 1;
        acceptedAt = clock.now().toISOString();
      },
    });

    expect(result.status).toBe('Success');
    expect(accepted).toBe(1);
    expect(acceptedAt! >= onlineAt).toBe(true);
    expect(Date.parse(acceptedAt!) - Date.parse(onlineAt)).toBeLessThanOrEqual(8 * delays.pollMs);
  });

  it('gives up with AGENT_OFFLINE (retryable) when the agent does not come online in time', async () => {
    const c = cloud();
    const [server] = await c.launch(launchRequest({ count: 1 }));
    let accepted = false;
    const e = await expectDomainError(
      c.run(server!.instanceId, step(), { agentTimeoutMs: 10, onAccepted: () => (accepted = true) }),
      ErrorCodes.AGENT_OFFLINE,
    );
    expect(e.retryable).toBe(true);
    expect(accepted).toBe(false);
    expect(await readFile(c.serverLogPath(server!.instanceId), 'utf8')).not.toContain('step install');
  });

  it('answers AGENT_OFFLINE at once for an unknown or terminated server', async () => {
    const c = cloud();
    await expectDomainError(c.run('i-00000000000000000', step(), { agentTimeoutMs: 60_000 }), ErrorCodes.AGENT_OFFLINE);
    await expectDomainError(c.run('../../etc', step(), { agentTimeoutMs: 60_000 }), ErrorCodes.AGENT_OFFLINE);
    const [server] = await readyServers(c);
    await c.terminate([server!.instanceId]);
    const e = await expectDomainError(
      c.run(server!.instanceId, step(), { agentTimeoutMs: 60_000 }),
      ErrorCodes.AGENT_OFFLINE,
    );
    expect(e.message).toContain('shutting-down');
  });
});

describe('LocalCloud commands are kept on the server, by key', () => {
  it('records each command as a file named by its key: key, step, when it was sent, and for a simulated step its end and result', async () => {
    const c = cloud();
    const [server] = await readyServers(c);
    const id = server!.instanceId;
    const sentAt = clock.now().toISOString();
    const sent = step({ key: 'env-1/1.0/0/install' });

    await c.run(id, sent, { agentTimeoutMs: 1000 });

    const file = join(rootDir, 'servers', id, 'commands', `${commandHash(sent.key)}.json`);
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual({
      key: 'env-1/1.0/0/install',
      step: 'install',
      sentAt,
      timeoutSeconds: 60,
      mode: 'simulated',
      endsAt: new Date(Date.parse(sentAt) + delays.stepMs).toISOString(),
      outcome: { status: 'Success', exitCode: 0, stdoutTail: RECORDED_STEP_STDOUT, stderrTail: '' },
    });
    expect(await c.commandsOf(id)).toHaveLength(1);
  });

  it('sends a key once: a second run, at once or later, attaches to the command and gets its result', async () => {
    const c = cloud();
    const [server] = await readyServers(c);
    const id = server!.instanceId;
    const sent = step();
    const accepted: number[] = [];

    const [a, b] = await Promise.all([
      c.run(id, sent, { agentTimeoutMs: 1000, onAccepted: () => accepted.push(1) }),
      c.run(id, sent, { agentTimeoutMs: 1000, onAccepted: () => accepted.push(2) }),
    ]);
    const later = await c.run(id, sent, { agentTimeoutMs: 1000 });

    expect([a, b, later].map((r) => [r.status, r.durationMs])).toEqual([
      ['Success', delays.stepMs],
      ['Success', delays.stepMs],
      ['Success', delays.stepMs],
    ]);
    expect(accepted.sort()).toEqual([1, 2]);
    expect(await sentLines(c, id)).toBe(1);
    // Its result is logged once, however many runs waited for it.
    expect((await readFile(c.serverLogPath(id), 'utf8')).split('step install: Success').length - 1).toBe(1);
    // Another key is another command.
    await c.run(id, step(), { agentTimeoutMs: 1000 });
    expect(await sentLines(c, id)).toBe(2);
    expect(await c.commandsOf(id)).toHaveLength(2);
  });

  it('attaches to a command sent by another process on the folder: a sandbox-safe step runs once', async () => {
    const a = new LocalCloud({ rootDir, clock: systemClock, delays });
    const b = new LocalCloud({ rootDir, clock: systemClock, delays });
    const [server] = await a.launch(launchRequest({ count: 1 }));
    const id = server!.instanceId;
    await a.waitUntilRunning([id], { timeoutMs: 5000 });
    const sent = step({ sandboxSafe: true, script: 'sleep 0.3\necho ran >> runs.txt\necho done' });

    const [first, second] = await Promise.all([
      a.run(id, sent, { agentTimeoutMs: 5000 }),
      new Promise((r) => setTimeout(r, 100)).then(() => b.run(id, sent, { agentTimeoutMs: 5000 })),
    ]);

    expect(first).toMatchObject({ status: 'Success', exitCode: 0, stdoutTail: 'done' });
    expect(second).toEqual(first);
    expect(await readFile(join(a.serverDataDir(id), 'runs.txt'), 'utf8')).toBe('ran\n');
    expect(await sentLines(a, id)).toBe(1);
  });

  it('stops waiting when the signal is aborted, with its reason; the command goes on and a later run gets its result', async () => {
    const c = cloud({ slowStep: { install: 5000 } });
    const [server] = await readyServers(c);
    const sent = step();
    const stop = new AbortController();

    const error = await c
      .run(server!.instanceId, sent, { agentTimeoutMs: 1000, signal: stop.signal, onAccepted: () => stop.abort('lease lost') })
      .catch((e: unknown) => e);
    expect(error).toBe('lease lost');

    const result = await c.run(server!.instanceId, sent, { agentTimeoutMs: 1000 });
    expect(result).toMatchObject({ status: 'Success', durationMs: delays.stepMs + 5000 });
    expect(await sentLines(c, server!.instanceId)).toBe(1);

    await expect(c.run(server!.instanceId, step(), { agentTimeoutMs: 1000, signal: AbortSignal.abort('stopped') })).rejects.toBe('stopped');
    expect(await sentLines(c, server!.instanceId)).toBe(1);
  });

  it('reports a sandbox-safe step whose runner was killed as Failed, saying so, instead of waiting for ever', async () => {
    const c = new LocalCloud({ rootDir, clock: systemClock, delays });
    const [server] = await c.launch(launchRequest({ count: 1 }));
    const id = server!.instanceId;
    await c.waitUntilRunning([id], { timeoutMs: 5000 });
    const sent = step({ sandboxSafe: true, script: 'echo started\nsleep 30' });
    const stop = new AbortController();
    await c.run(id, sent, { agentTimeoutMs: 5000, signal: stop.signal, onAccepted: () => stop.abort() }).catch(() => undefined);

    // What a reboot of the machine (or a person's kill) does to the runner and its step.
    const prefix = join(rootDir, 'servers', id, 'commands', commandHash(sent.key));
    const pid = async (suffix: string) => Number((await readFile(prefix + suffix, 'utf8').catch(() => '')).trim());
    await eventually(async () => expect(await readFile(`${prefix}.stdout`, 'utf8')).toBe('started\n'));
    process.kill(-(await pid('.runner')), 'SIGKILL');
    process.kill(-(await pid('.pid')), 'SIGKILL');

    const result = await c.run(id, sent, { agentTimeoutMs: 5000 });
    expect(result.status).toBe('Failed');
    expect(result.stdoutTail).toBe('started');
    expect(result.stderrTail).toContain('ended without a result');
  });
});

describe('LocalCloud faults', () => {
  it('capacity: refuses every launch with a retryable INSUFFICIENT_CAPACITY and launches nothing', async () => {
    const c = cloud({ capacity: true });
    const e = await expectDomainError(c.launch(launchRequest()), ErrorCodes.CAPACITY);
    expect(e.retryable).toBe(true);
    expect(e.message).toContain('t3.small');
    expect(e.message).toContain('capacity');
    expect(await c.describeAll()).toEqual([]);
  });

  it('capacity with types: refuses only those instance types', async () => {
    const c = cloud({ capacity: { types: ['t3.large'] } });
    await expectDomainError(c.launch(launchRequest({ instanceType: 't3.large' })), ErrorCodes.CAPACITY);
    expect(await c.launch(launchRequest({ instanceType: 't3.small' }))).toHaveLength(2);
  });

  it('fail-step: the named step fails with exit code 1 and says the fault was injected, without running', async () => {
    const c = cloud({ failStep: ['install'] });
    const [server] = await readyServers(c);
    const dataDir = c.serverDataDir(server!.instanceId);
    const failed = await c.run(server!.instanceId, step({ sandboxSafe: true, script: 'touch ran' }), {
      agentTimeoutMs: 1000,
    });
    expect(failed.status).toBe('Failed');
    expect(failed.exitCode).toBe(1);
    expect(failed.stderrTail).toMatch(/injected/);
    expect(failed.stderrTail).toContain('fail-step:install');
    expect(existsSync(join(dataDir, 'ran'))).toBe(false);

    const other = await c.run(server!.instanceId, step({ name: 'migrate' }), { agentTimeoutMs: 1000 });
    expect(other.status).toBe('Success');
  });

  it('a counted fault fires that many times, then no more: fail-step:install*1 fails once, then the step runs', async () => {
    const c = cloud({ failStep: ['install'], times: { 'fail-step:install': 1 } });
    const [server] = await readyServers(c);
    const first = await c.run(server!.instanceId, step({ key: 'k1' }), { agentTimeoutMs: 1000 });
    expect(first.status).toBe('Failed');
    const second = await c.run(server!.instanceId, step({ key: 'k2' }), { agentTimeoutMs: 1000 });
    expect(second.status).toBe('Success');
    const capacityOnce = cloud({ capacity: true, times: { capacity: 1 } });
    const other = launchRequest({ environmentId: '01JD3Q8Z6KX7W8Y9A0B1C2D3ZZ', environment: 'other-one' });
    await expectDomainError(capacityOnce.launch(other), ErrorCodes.CAPACITY);
    expect(await capacityOnce.launch(other)).toHaveLength(2);
  });

  it('slow-step: the named step takes the extra time, measured on the clock', async () => {
    const c = cloud({ slowStep: { migrate: 5000 } });
    const [server] = await readyServers(c);
    const before = clock.now().getTime();
    const result = await c.run(server!.instanceId, step({ name: 'migrate' }), { agentTimeoutMs: 1000 });
    expect(result.status).toBe('Success');
    expect(result.durationMs).toBe(delays.stepMs + 5000);
    expect(clock.now().getTime() - before).toBe(delays.stepMs + 5000);

    const quick = await c.run(server!.instanceId, step({ name: 'install' }), { agentTimeoutMs: 1000 });
    expect(quick.durationMs).toBe(delays.stepMs);
  });

  it('slow-step longer than the step timeout ends TimedOut at the timeout', async () => {
    const c = cloud({ slowStep: { migrate: 5000 } });
    const [server] = await readyServers(c);
    const result = await c.run(server!.instanceId, step({ name: 'migrate', timeoutSeconds: 2 }), {
      agentTimeoutMs: 1000,
    });
    expect(result.status).toBe('TimedOut');
    expect(result.durationMs).toBe(2000);
  });

  it('timeout-step: the named step hangs until its timeout and ends TimedOut', async () => {
    const c = cloud({ timeoutStep: ['seed'] });
    const [server] = await readyServers(c);
    const result = await c.run(server!.instanceId, step({ name: 'seed', timeoutSeconds: 90 }), { agentTimeoutMs: 1000 });
    expect(result.status).toBe('TimedOut');
    expect(result.durationMs).toBe(90_000);
    expect(result.stderrTail).toContain('timeout-step:seed');
    expect(await readFile(c.serverLogPath(server!.instanceId), 'utf8')).toContain('step seed: TimedOut');
  });
});

describe('LocalCloud on the real clock', () => {
  it('launches, waits, runs a step and terminates with the fast delays', async () => {
    const c = new LocalCloud({ rootDir, clock: systemClock, delays: FAST_SANDBOX_DELAYS });
    const launched = await c.launch(launchRequest({ count: 1 }));
    const [running] = await c.waitUntilRunning([launched[0]!.instanceId], { timeoutMs: 5000 });
    expect(running!.state).toBe('running');
    const result = await c.run(running!.instanceId, step({ sandboxSafe: true, script: 'echo ok' }), {
      agentTimeoutMs: 5000,
    });
    expect(result).toMatchObject({ status: 'Success', exitCode: 0, stdoutTail: 'ok' });
    await c.terminate([running!.instanceId]);
    await c.waitUntilTerminated([running!.instanceId], { timeoutMs: 5000 });
    expect(await c.findByEnvironment(DEMO_ID)).toEqual([]);
  });
});
