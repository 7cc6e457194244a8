/**
 * `listDue` on dynalite: the scheduler's read of the timers due by now. The
 * table holds environments with and without timers, timers due and later,
 * a cleared timer, expired delivery claims under CLAIM (same index, other
 * partition), events and an archive: the answer is exactly the due
 * environments, earliest first, and `itemsRead` equals what it returns, so
 * the read touches nothing else (the index is sparse and the read bounded).
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbDeliveryClaims } from '../../../src/adapters/aws/dynamodb-delivery-claims.js';
import { DynamoDbEnvironmentRepository, ensureTable } from '../../../src/adapters/aws/dynamodb-environment.repository.js';
import { newEnvironment, transition, type Environment } from '../../../src/core/environment/environment.js';
import { newEnvironmentId } from '../../../src/core/environment/ids.js';
import { TEST_REGION, uniqueName } from '../../support/aws.js';
import { startDynalite, type RunningDynalite } from '../../support/dynalite.js';
import { InMemoryEnvironmentRepository } from '../../support/fakes/memory-repository.js';

const T0 = Date.parse('2030-01-01T09:00:00.000Z');
const NOW = new Date(T0);
const minutes = (n: number) => n * 60_000;
const iso = (ms: number) => new Date(ms).toISOString();

function makeEnv(name: string, dueAt?: string): Environment {
  const env = newEnvironment(
    {
      id: newEnvironmentId(new Date(T0 - minutes(120))),
      name,
      owner: 'U0OWNER',
      template: 'web',
      instanceType: 't3.small',
      count: 1,
      purpose: 'a timer',
      requestId: uniqueName('req'),
      channel: 'C0CHANNEL',
      hourlyCostUsd: 0.0208,
    },
    new Date(T0 - minutes(120)),
  );
  return dueAt ? { ...env, dueAt } : env;
}

describe('DynamoDbEnvironmentRepository.listDue on dynalite', () => {
  let server: RunningDynalite;
  let client: DynamoDBClient;
  let repo: DynamoDbEnvironmentRepository;
  const memory = new InMemoryEnvironmentRepository();
  const tableName = uniqueName('dormouse');
  const tag = uniqueName('due');
  const name = (n: string) => `${tag}-${n}`;

  /** Due by NOW, in the order listDue must return them (created in another order below). */
  const due = [
    { name: name('a'), dueAt: iso(T0 - minutes(90)) },
    { name: name('b'), dueAt: iso(T0 - minutes(45)) },
    { name: name('c'), dueAt: iso(T0 - minutes(10)) },
    { name: name('d'), dueAt: iso(T0 - 1) },
    // Exactly now: due (`<=`).
    { name: name('e'), dueAt: iso(T0) },
  ];
  const later = [
    { name: name('later-1'), dueAt: iso(T0 + 1) },
    { name: name('later-2'), dueAt: iso(T0 + minutes(30)) },
    { name: name('later-3'), dueAt: iso(T0 + minutes(24 * 60)) },
  ];
  const untimed = [name('plain-1'), name('plain-2'), name('plain-3'), name('plain-4')];

  /** Stores `env` in both the DynamoDB repository and the in-memory fake. */
  async function store(env: Environment): Promise<Environment> {
    await memory.create(env);
    return (await repo.create(env)).environment;
  }

  beforeAll(async () => {
    server = await startDynalite();
    client = new DynamoDBClient({
      region: TEST_REGION,
      endpoint: server.endpoint,
      credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
      maxAttempts: 2,
    });
    await ensureTable(client, tableName, { timeoutMs: 20_000 });
    repo = new DynamoDbEnvironmentRepository(client, tableName, { now: () => NOW });

    for (const e of [due[3]!, later[0]!, due[0]!, due[4]!, later[2]!, due[2]!, due[1]!, later[1]!]) {
      await store(makeEnv(e.name, e.dueAt));
    }
    for (const n of untimed) await store(makeEnv(n));

    // A timer that was due and was cleared (saved without dueAt): out of the index.
    const cleared = await store(makeEnv(name('cleared'), iso(T0 - minutes(60))));
    const { dueAt: _dueAt, ...withoutTimer } = cleared;
    await repo.save({ ...withoutTimer, version: cleared.version });
    await memory.save({ ...withoutTimer, version: cleared.version });

    // An ended environment whose name was taken again: its archive keeps `dueAt` but is in no index.
    const ended = (await repo.create(makeEnv(name('reused'), iso(T0 - minutes(100))))).environment;
    const destroying = await repo.save(transition(ended, 'destroying', new Date(T0 - minutes(99))));
    await repo.save(transition(destroying, 'destroyed', new Date(T0 - minutes(98))));
    await store(makeEnv(name('reused')));

    // Audit events: in no index.
    for (const n of untimed) await repo.appendEvent({ environment: n, at: iso(T0 - minutes(5)), type: 'requested', message: 'asked' });

    // Delivery claims that expired before NOW, under CLAIM in the same index.
    const claims = new DynamoDbDeliveryClaims(client, tableName, { now: () => new Date(T0 - minutes(30)) });
    for (let i = 0; i < 6; i++) await claims.begin(`${tag}-claim-${i}`, 60);
  });

  afterAll(async () => {
    client?.destroy();
    await server?.close();
  });

  it('returns exactly the due environments, earliest first, having read only them', async () => {
    const { environments, itemsRead } = await repo.listDue(NOW);

    expect(environments.map((e) => [e.name, e.dueAt])).toEqual(due.map((e) => [e.name, e.dueAt]));
    expect(itemsRead).toBe(due.length);
  });

  it('returns environments as `get` does: whole, without the table’s key and index attributes', async () => {
    const { environments } = await repo.listDue(NOW);

    for (const env of environments) {
      expect(env).toStrictEqual(await repo.get(env.name));
      for (const attribute of ['pk', 'sk', 'gsi1pk', 'gsi1sk', 'gsi2pk', 'gsi2sk', 'duePk']) expect(env).not.toHaveProperty(attribute);
    }
  });

  it('stops at `limit`, reading no more than it returns', async () => {
    const { environments, itemsRead } = await repo.listDue(NOW, 2);

    expect(environments.map((e) => e.name)).toEqual([due[0]!.name, due[1]!.name]);
    expect(itemsRead).toBe(2);
  });

  it('reads page after page when a page holds fewer than `limit`', async () => {
    const paged = new DynamoDbEnvironmentRepository(client, tableName, { now: () => NOW }, { queryPageSize: 2 });

    const all = await paged.listDue(NOW, 10);
    expect(all.environments.map((e) => e.name)).toEqual(due.map((e) => e.name));
    expect(all.itemsRead).toBe(due.length);

    const some = await paged.listDue(NOW, 3);
    expect(some.environments.map((e) => e.name)).toEqual(due.slice(0, 3).map((e) => e.name));
    expect(some.itemsRead).toBe(3);
  });

  it('reads nothing when nothing is due yet', async () => {
    await expect(repo.listDue(new Date(T0 - minutes(24 * 60)))).resolves.toEqual({ environments: [], itemsRead: 0 });
    await expect(repo.listDue(NOW, 0)).resolves.toEqual({ environments: [], itemsRead: 0 });
  });

  it('includes a later timer once its time has come', async () => {
    const { environments, itemsRead } = await repo.listDue(new Date(T0 + minutes(30)));

    expect(environments.map((e) => e.name)).toEqual([...due, later[0]!, later[1]!].map((e) => e.name));
    expect(itemsRead).toBe(due.length + 2);
  });

  it('agrees with the in-memory repository the core tests use', async () => {
    for (const [at, limit] of [
      [NOW, undefined],
      [NOW, 2],
      [new Date(T0 + minutes(30)), 10],
    ] as const) {
      const fromDynamo = await repo.listDue(at, limit);
      const fromMemory = await memory.listDue(at, limit);
      expect(fromMemory.environments.map((e) => [e.name, e.dueAt])).toEqual(fromDynamo.environments.map((e) => [e.name, e.dueAt]));
      expect(fromMemory.itemsRead).toBe(fromDynamo.itemsRead);
    }
  });

  it('returns at most 100 when no limit is given', async () => {
    const crowded = uniqueName('crowded');
    await ensureTable(client, crowded, { timeoutMs: 20_000 });
    const other = new DynamoDbEnvironmentRepository(client, crowded, { now: () => NOW });
    const names = Array.from({ length: 105 }, (_, i) => `${tag}-many-${String(i).padStart(3, '0')}`);
    await Promise.all(names.map((n, i) => other.create(makeEnv(n, iso(T0 - minutes(200) + i * 1000)))));

    const { environments, itemsRead } = await other.listDue(NOW);

    expect(environments.map((e) => e.name)).toEqual(names.slice(0, 100));
    expect(itemsRead).toBe(100);
  });
});
