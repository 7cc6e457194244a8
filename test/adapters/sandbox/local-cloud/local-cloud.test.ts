import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DomainError, ErrorCodes } from '../../../../src/core/environment/errors.js';
import type { Instance, LaunchRequest } from '../../../../src/core/ports/compute.port.js';
import { systemClock } from '../../../../src/core/ports/notifier.port.js';
import type { RemoteStep } from '../../../../src/core/ports/remote-command.port.js';
import {
  FAST_SANDBOX_DELAYS,
  LocalCloud,
  RECORDED_STEP_STDOUT,
  type SandboxFaults,
} from '../../../../src/adapters/sandbox/local-cloud/local-cloud.js';
import { ManualClock } from './manual-clock.js';

const delays = FAST_SANDBOX_DELAYS;

function launchRequest(overrides: Partial<LaunchRequest> = {}): LaunchRequest {
  return {
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
    attempt: 1,
    idempotencyKey: 'demo-1',
    ...overrides,
  };
}

function step(overrides: Partial<RemoteStep> = {}): RemoteStep {
  return { name: 'install', script: 'echo hi', timeoutSeconds: 60, sandboxSafe: false, env: {}, ...overrides };
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
    expect((await c.findByEnvironment('demo')).map((i) => i.state)).toEqual(['pending', 'pending']);
    clock.advance(1);
    const running = await c.findByEnvironment('demo');
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
      environment: 'demo',
      owner: 'U123',
      index: 0,
      attempt: 1,
      state: 'pending',
      privateIp: first!.privateIp,
      launchedAt: clock.now().toISOString(),
      tags: {
        team: 'payments',
        'managed-by': 'dormouse',
        'dormouse:environment': 'demo',
        'dormouse:owner': 'U123',
        'dormouse:index': '0',
        'dormouse:attempt': '1',
      },
    });
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

  it('is idempotent per environment and attempt: a repeated launch returns the same servers', async () => {
    const c = cloud();
    const first = await c.launch(launchRequest());
    const again = await c.launch(launchRequest());
    expect(again.map((i) => i.instanceId)).toEqual(first.map((i) => i.instanceId));

    // Concurrent double click: still two servers.
    const [a, b] = await Promise.all([
      c.launch(launchRequest({ environment: 'twice' })),
      c.launch(launchRequest({ environment: 'twice' })),
    ]);
    expect(a.map((i) => i.instanceId)).toEqual(b.map((i) => i.instanceId));
    expect(await c.findByEnvironment('twice')).toHaveLength(2);

    // A larger count only adds the missing indexes; a new attempt launches new servers.
    const three = await c.launch(launchRequest({ count: 3 }));
    expect(three.slice(0, 2).map((i) => i.instanceId)).toEqual(first.map((i) => i.instanceId));
    expect(three.map((i) => i.index)).toEqual([0, 1, 2]);
    const second = await c.launch(launchRequest({ attempt: 2, idempotencyKey: 'demo-2' }));
    expect(second.some((i) => first.some((f) => f.instanceId === i.instanceId))).toBe(false);
  });

  it('keeps its servers across a restart: a new LocalCloud on the same folder finds them where they would be', async () => {
    const launched = await cloud().launch(launchRequest());
    clock.advance(delays.bootMs); // time passes while the process is down

    const restarted = cloud();
    const found = await restarted.findByEnvironment('demo');
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
    expect((await c.findByEnvironment('demo')).map((i) => i.state)).toEqual(['shutting-down']);
    await c.waitUntilTerminated([id], { timeoutMs: 10_000 });

    expect(await c.findByEnvironment('demo')).toEqual([]);
    const all = await c.describeAll();
    expect(all.map((s) => [s.instanceId, s.state])).toEqual([[id, 'terminated']]);
    expect(await readFile(join(c.serverDataDir(id), 'precious.txt'), 'utf8')).toBe('keep me');
    expect(JSON.parse(await readFile(join(rootDir, 'servers', id, 'instance.json'), 'utf8')).state).toBe('terminated');
    expect(await readFile(c.serverLogPath(id), 'utf8')).toContain('terminate requested');

    // Terminating again, or an unknown id, is not an error.
    await c.terminate([id, 'i-00000000000000000']);
    // A new launch of the same attempt after a destroy gets new servers.
    const relaunched = await c.launch(launchRequest({ count: 1 }));
    expect(relaunched[0]!.instanceId).not.toBe(id);
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
    expect(await c.findByEnvironment('demo')).toEqual([]);
  });
});
