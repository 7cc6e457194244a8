/**
 * What people and processes do at the same time, on the local cloud with
 * short real delays: double clicks, a reused name, many servers at once.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LocalCloud } from '../../src/adapters/sandbox/local-cloud/local-cloud.js';
import { ErrorCodes } from '../../src/core/environment/errors.js';
import type { LaunchRequest } from '../../src/core/ports/compute.port.js';
import { systemClock } from '../../src/core/ports/clock.port.js';
import { buildWorld, testTemplate, type World } from '../support/world.js';

let world: World | undefined;
afterEach(async () => {
  await world?.close();
  world = undefined;
});

const fast = { bootMs: 30, agentMs: 10, stepMs: 20, terminateMs: 10, pollMs: 5 };

async function setUp(opts: { faults?: ConstructorParameters<typeof LocalCloud>[0]['faults']; steps?: number; max?: number } = {}) {
  const cloud = new LocalCloud({ rootDir: mkdtempSync(join(tmpdir(), 'dormouse-conc-')), clock: systemClock, delays: fast, ...(opts.faults ? { faults: opts.faults } : {}) });
  const steps = Array.from({ length: opts.steps ?? 1 }, (_, i) => ({ name: `step-${i}`, run: 'true', timeoutSeconds: 60, sandboxSafe: false }));
  world = await buildWorld({ compute: cloud, commands: cloud, clock: systemClock, templates: [testTemplate({ servers: { min: 1, max: opts.max ?? 20, default: 1 }, bootstrap: steps })] });
  return { cloud, world };
}

/** How many times each step was sent to each server (the sandbox logs every command). */
function stepRuns(cloud: LocalCloud, instanceId: string, step: string): number {
  const log = readFileSync(cloud.serverLogPath(instanceId), 'utf8');
  return log.split(`step ${step}: sent`).length - 1;
}

describe('at the same time', () => {
  it('20 servers with 3 steps each bootstrap in parallel to ready', async () => {
    const { world } = await setUp({ steps: 3 });
    await world.useCases.request.execute({ name: 'wide', template: 'api', count: 20, owner: 'U0DEV', requestId: 'r' });
    await world.idle();
    const env = await world.repo.get('wide');
    expect(env?.failure).toBeUndefined();
    expect(env?.state).toBe('ready');
    expect(env?.servers.filter((s) => s.state === 'ready' && s.lastStep === 'step-2')).toHaveLength(20);
  });

  it('two Retry clicks at once: one retries, the other is told; each step runs once more, not twice', async () => {
    const { cloud, world } = await setUp({ faults: { failStep: ['step-0'] } });
    await world.useCases.request.execute({ name: 'twice', template: 'api', owner: 'U0DEV', requestId: 'r' });
    await world.idle();
    expect((await world.repo.get('twice'))?.state).toBe('failed');
    const server = (await world.repo.get('twice'))!.servers[0]!.instanceId;
    const before = stepRuns(cloud, server, 'step-0');

    const results = await Promise.allSettled([world.useCases.retry.execute({ name: 'twice' }, 'U0DEV'), world.useCases.retry.execute({ name: 'twice' }, 'U0ADMIN')]);
    await world.idle();
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const refused = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(refused?.reason).toMatchObject({ code: ErrorCodes.INVALID_TRANSITION });
    expect(stepRuns(cloud, server, 'step-0')).toBe(before + 1);
    expect((await world.repo.listEvents('twice', 50)).filter((e) => e.type === 'retry')).toHaveLength(1);
  });

  it('two Destroy clicks at once: one destroy, one "destroyed" note', async () => {
    const { world } = await setUp();
    await world.useCases.request.execute({ name: 'gone-twice', template: 'api', owner: 'U0DEV', requestId: 'r' });
    await world.idle();
    const [a, b] = await Promise.all([world.useCases.destroy.execute({ name: 'gone-twice' }, 'U0DEV'), world.useCases.destroy.execute({ name: 'gone-twice' }, 'U0ADMIN')]);
    await world.idle();
    expect([a.started, b.started].sort()).toEqual([false, true]);
    expect((await world.repo.get('gone-twice'))?.state).toBe('destroyed');
    expect(world.notifier.notes.filter((n) => n.note === 'destroyed')).toHaveLength(1);
    expect((await world.repo.listEvents('gone-twice', 50)).filter((e) => e.type === 'state:destroyed')).toHaveLength(1);
  });

  it('a name reused after destroy: a new incarnation with its own history and its own launch token', async () => {
    const { cloud, world } = await setUp();
    const tokens: string[] = [];
    const launch = cloud.launch.bind(cloud);
    cloud.launch = (request: LaunchRequest) => {
      tokens.push(request.idempotencyKey);
      return launch(request);
    };
    await world.useCases.request.execute({ name: 'again', template: 'api', owner: 'U0DEV', requestId: 'r1' });
    await world.idle();
    await world.useCases.destroy.execute({ name: 'again' }, 'U0DEV');
    await world.idle();
    await new Promise((r) => setTimeout(r, 5)); // a later createdAt
    await world.useCases.request.execute({ name: 'again', template: 'api', owner: 'U0LEAD', requestId: 'r2' });
    await world.idle();

    const { environment, events } = await world.useCases.queries.status('again');
    expect(environment).toMatchObject({ state: 'ready', owner: 'U0LEAD' });
    expect(events.map((e) => e.type)).not.toContain('state:destroyed');
    expect(tokens).toHaveLength(2);
    expect(tokens[0]).not.toBe(tokens[1]);
  });
});
