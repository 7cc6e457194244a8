/**
 * Destroy while provisioning is under way, on the local cloud with real
 * (short) delays: whatever the provisioning worker launched is terminated,
 * and nothing it does afterwards brings the environment back.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LocalCloud } from '../../src/adapters/sandbox/local-cloud/local-cloud.js';
import { systemClock } from '../../src/core/ports/clock.port.js';
import { buildWorld, testTemplate, type World } from '../support/world.js';
import { eventually } from '../support/eventually.js';

let world: World | undefined;
afterEach(async () => {
  await world?.close();
});

describe('destroy during provisioning', () => {
  it.each([
    ['while the servers boot', 'provisioning'],
    ['while they bootstrap', 'bootstrapping'],
  ])('%s: ends destroyed with no server left', async (_label, phase) => {
    const cloud = new LocalCloud({
      rootDir: mkdtempSync(join(tmpdir(), 'dormouse-race-')),
      clock: systemClock,
      delays: { bootMs: 300, agentMs: 50, stepMs: 300, terminateMs: 50, pollMs: 10 },
    });
    world = await buildWorld({ compute: cloud, commands: cloud, clock: systemClock, templates: [testTemplate({ bootstrap: [{ name: 'slow', run: 'true', timeoutSeconds: 60, sandboxSafe: false }] })] });
    const { useCases, repo } = world;
    await useCases.request.execute({ name: 'racer', template: 'api', count: 2, owner: 'U0DEV', requestId: 'r' });
    await eventually(async () => {
      const env = await repo.get('racer');
      expect(env?.state).toBe(phase);
      expect(env?.servers.length).toBe(2);
    });

    await useCases.destroy.execute({ name: 'racer' }, 'U0DEV');
    await world.idle();

    const env = await repo.get('racer');
    expect(env?.state).toBe('destroyed');
    expect(await cloud.findByEnvironment(env!.id)).toEqual([]);
    const servers = await cloud.describeAll();
    expect(servers.length).toBe(2);
    expect(servers.every((s) => s.state === 'terminated' || s.state === 'shutting-down')).toBe(true);
  });
});
