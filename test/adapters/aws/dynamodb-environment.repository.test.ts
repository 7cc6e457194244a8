/**
 * One behavioural suite, run against dynalite (the embedded default) and moto:
 * the repository must behave the same on both, and on DynamoDB, with only
 * single-item conditional writes.
 */
import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DynamoDbEnvironmentRepository,
  ensureTable,
  INDEX,
  keys,
} from '../../../src/adapters/aws/dynamodb-environment.repository.js';
import { newEnvironment, transition, type Environment } from '../../../src/core/environment/environment.js';
import { newEnvironmentId } from '../../../src/core/environment/ids.js';
import { DynamoDbDeliveryClaims } from '../../../src/adapters/aws/dynamodb-delivery-claims.js';
import { DynamoDbLeadership } from '../../../src/adapters/aws/dynamodb-leadership.js';
import { DynamoDbMessageLedger } from '../../../src/adapters/aws/dynamodb-message-ledger.js';
import { DomainError, ErrorCodes } from '../../../src/core/environment/errors.js';
import { TEST_REGION, uniqueName } from '../../support/aws.js';
import { backends } from '../../support/dynamo-backends.js';
import { startDynalite } from '../../support/dynalite.js';


const T0 = Date.parse('2030-01-01T09:00:00.000Z');
const minutes = (n: number) => n * 60_000;

describe.each(backends)('DynamoDbEnvironmentRepository on $name', (backend) => {
  let close: () => Promise<void>;
  let client: DynamoDBClient;
  let doc: DynamoDBDocumentClient;
  let repo: DynamoDbEnvironmentRepository;
  const tableName = uniqueName('dormouse');
  /** The repository's clock: tests move it forward by hand. */
  let nowMs = T0;
  const clock = { now: () => new Date(nowMs) };

  beforeAll(async () => {
    const started = await backend.start();
    close = started.close;
    client = new DynamoDBClient(started.config);
    // The test's own reads and writes, on a document client without removeUndefinedValues.
    doc = DynamoDBDocumentClient.from(client);
    await ensureTable(client, tableName, { timeoutMs: 20_000 });
    repo = new DynamoDbEnvironmentRepository(client, tableName, clock);
  });

  afterAll(async () => {
    client?.destroy();
    await close?.();
  });

  function makeEnv(overrides: Partial<Parameters<typeof newEnvironment>[0]> = {}, at = new Date(nowMs)): Environment {
    return newEnvironment(
      {
        id: newEnvironmentId(at),
        name: uniqueName('env'),
        owner: 'U0OWNER',
        template: 'web',
        instanceType: 't3.small',
        count: 2,
        purpose: 'try the new checkout',
        requestId: uniqueName('req'),
        channel: 'C0CHANNEL',
        hourlyCostUsd: 0.0416,
        ...overrides,
      },
      at,
    );
  }

  const rawEnvironmentItem = async (name: string) =>
    (await doc.send(new GetCommand({ TableName: tableName, Key: keys.environment(name), ConsistentRead: true }))).Item;

  const itemsUnder = async (name: string) =>
    (
      await doc.send(
        new QueryCommand({
          TableName: tableName,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': keys.environment(name).pk },
          ConsistentRead: true,
        }),
      )
    ).Items ?? [];

  /** Moves a stored environment to `to` through the repository, as a use case would. */
  async function moveTo(env: Environment, to: Environment['state'], atMs: number): Promise<Environment> {
    return repo.save(transition(env, to, new Date(atMs)));
  }

  async function destroy(env: Environment, atMs: number): Promise<Environment> {
    return moveTo(await moveTo(env, 'destroying', atMs), 'destroyed', atMs);
  }

  async function catchError(promise: Promise<unknown>): Promise<DomainError> {
    const error = await promise.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(DomainError);
    return error as DomainError;
  }

  describe('ensureTable', () => {
    it('leaves an existing table alone', async () => {
      await expect(ensureTable(client, tableName)).resolves.toEqual({ created: false });
    });
  });

  describe('create and get', () => {
    it('stores a new environment at version 1 and reads it back without key attributes', async () => {
      const env = { ...makeEnv(), message: { channel: 'C0CHANNEL', ts: '1700000000.000100' }, lease: undefined };

      const result = await repo.create(env);

      const { lease: _undefined, ...expected } = { ...env, version: 1 };
      expect(result).toEqual({ created: true, environment: expected });
      const read = await repo.get(env.name);
      expect(read).toStrictEqual(expected);
    });

    it('leaves undefined fields out whatever else wraps its client: its document client keeps its own options', async () => {
      const own = new DynamoDbEnvironmentRepository(client, tableName, clock);
      // Made afterwards on the same DynamoDBClient, without removeUndefinedValues (lib-dynamodb keeps such options on the client's config).
      const other = DynamoDBDocumentClient.from(client);
      const env = { ...makeEnv(), lease: undefined, message: { channel: 'C0CHANNEL', ts: '1700000000.000200', thread: undefined } } as Environment;

      await own.create(env);
      const saved = await own.save({ ...(await own.get(env.name))!, purpose: 'again', failure: undefined });

      expect(await rawEnvironmentItem(env.name)).toMatchObject({ version: saved.version, message: { channel: 'C0CHANNEL', ts: '1700000000.000200' } });
      expect(await rawEnvironmentItem(env.name)).not.toHaveProperty('lease');
      expect((await rawEnvironmentItem(env.name))?.message).not.toHaveProperty('thread');
      // The other document client's options are its own too: it still refuses undefined inside a map.
      const raw = { ...keys.environment(uniqueName('raw')), message: { channel: 'C0CHANNEL', thread: undefined } };
      await expect(other.send(new PutCommand({ TableName: tableName, Item: raw }))).rejects.toThrow(/removeUndefinedValues/);
    });

    it('reads a record written before environments had ids and fencing tokens (an older sandbox folder)', async () => {
      const old = makeEnv();
      const { id: _id, fence: _fence, retries: _retries, ...legacy } = old;
      await doc.send(new PutCommand({ TableName: tableName, Item: { ...legacy, version: 3, ...keys.environment(old.name), gsi1pk: `OWNER#${old.owner}`, gsi1sk: `${old.createdAt}#${old.name}`, gsi2pk: `STATE#${old.state}`, gsi2sk: `${old.stateChangedAt}#${old.name}` } }));
      const read = (await repo.get(old.name))!;
      expect(read).toMatchObject({ fence: 0, retries: 0, version: 3 });
      expect(read.id).toMatch(/^legacy-/);
      // And it can be written again.
      expect((await repo.save({ ...read, purpose: 'still here' })).version).toBe(4);
    });

    it('returns undefined for a name nobody has', async () => {
      await expect(repo.get(uniqueName('nobody'))).resolves.toBeUndefined();
    });

    it('treats the same request arriving again as a duplicate, not a new environment', async () => {
      const env = makeEnv();
      await repo.create(env);

      const again = await repo.create({ ...env, purpose: 'the retried delivery' });

      expect(again.created).toBe(false);
      expect(again.environment).toEqual({ ...env, version: 1 });
      expect(await itemsUnder(env.name)).toHaveLength(1);
      expect((await repo.get(env.name))?.purpose).toBe(env.purpose);
    });

    it('refuses a name a live environment of someone else holds, naming its owner', async () => {
      const env = makeEnv({ owner: 'U0ALICE' });
      await repo.create(env);

      const error = await catchError(repo.create(makeEnv({ name: env.name, owner: 'U0BOB' })));

      expect(error.code).toBe(ErrorCodes.NAME_TAKEN);
      expect(error.message).toContain('U0ALICE');
      expect(error.message).toContain(env.name);
      expect(error.details).toEqual({ name: env.name, owner: 'U0ALICE', state: env.state });
      expect((await repo.get(env.name))?.owner).toBe('U0ALICE');
    });

    it('archives an ended environment before reusing its name', async () => {
      const old = makeEnv({ owner: 'U0ALICE' }, new Date(T0));
      const destroyed = await destroy((await repo.create(old)).environment, T0 + minutes(5));

      const fresh = makeEnv({ name: old.name, owner: 'U0BOB' }, new Date(T0 + minutes(10)));
      const result = await repo.create(fresh);

      expect(result).toEqual({ created: true, environment: { ...fresh, version: 1 } });
      expect(await repo.get(old.name)).toEqual({ ...fresh, version: 1 });
      const archive = await doc.send(
        new GetCommand({ TableName: tableName, Key: keys.archive(old.name, old.createdAt), ConsistentRead: true }),
      );
      expect(archive.Item).toMatchObject({ ...destroyed, sk: `ARCHIVE#${old.createdAt}` });
      // Archives are history: out of "my environments" and the due index; in byState under their ended
      // state only, so the week's savings still count an environment whose name was reused.
      expect(archive.Item).not.toHaveProperty('gsi1pk');
      expect(archive.Item).not.toHaveProperty('duePk');
      expect(archive.Item).toMatchObject({ gsi2pk: 'STATE#destroyed' });
      const destroyedOnes = await repo.listByState('destroyed');
      expect(destroyedOnes.filter((e) => e.name === old.name).map((e) => e.id)).toEqual([old.id]);
      expect((await repo.listByOwner(old.owner, { includeEnded: true })).map((e) => e.id)).not.toContain(old.id);
    });

    it('lets one of two requests racing for an ended name have it and tells the other it is taken', async () => {
      for (let round = 0; round < 3; round += 1) {
        const old = (await repo.create(makeEnv())).environment;
        await destroy(old, T0 + minutes(1));
        const alice = makeEnv({ name: old.name, owner: 'U0ALICE' }, new Date(T0 + minutes(2)));
        const bob = makeEnv({ name: old.name, owner: 'U0BOB' }, new Date(T0 + minutes(2)));

        const results = await Promise.allSettled([repo.create(alice), repo.create(bob)]);

        const won = results.filter((r) => r.status === 'fulfilled');
        const lost = results.filter((r) => r.status === 'rejected');
        expect(won).toHaveLength(1);
        expect(lost).toHaveLength(1);
        expect((lost[0]!.reason as DomainError).code).toBe(ErrorCodes.NAME_TAKEN);
        expect(await repo.get(old.name)).toEqual(won[0]!.value.environment);
      }
    });

    it('creates once when the same request arrives twice at the same time', async () => {
      const env = makeEnv();

      const results = await Promise.all([repo.create(env), repo.create(env)]);

      expect(results.map((r) => r.created).sort()).toEqual([false, true]);
      expect(results[0]!.environment).toEqual(results[1]!.environment);
    });

    it('archives a rejected environment too', async () => {
      const old = makeEnv();
      const created = (await repo.create(old)).environment;
      await moveTo(await moveTo(created, 'awaiting_approval', T0), 'rejected', T0 + minutes(1));

      const result = await repo.create(makeEnv({ name: old.name }, new Date(T0 + minutes(2))));

      expect(result.created).toBe(true);
      expect((await itemsUnder(old.name)).map((i) => i.sk).sort()).toEqual([`ARCHIVE#${old.createdAt}`, 'ENV']);
    });
  });

  describe('save', () => {
    it('writes when the version is unchanged and returns the next version', async () => {
      const stored = (await repo.create(makeEnv())).environment;

      const saved = await repo.save({ ...stored, purpose: 'changed' });

      expect(saved).toEqual({ ...stored, purpose: 'changed', version: 2 });
      expect(await repo.get(stored.name)).toEqual(saved);
    });

    it('refuses a stale version and leaves the stored item as it was', async () => {
      const stored = (await repo.create(makeEnv())).environment;
      await repo.save({ ...stored, purpose: 'first writer' });
      const before = await rawEnvironmentItem(stored.name);

      const error = await catchError(repo.save({ ...stored, purpose: 'second writer' }));

      expect(error.code).toBe(ErrorCodes.CONCURRENT_MODIFICATION);
      expect(error.retryable).toBe(true);
      expect(error.message).toContain(`\`${stored.name}\``);
      const after = await rawEnvironmentItem(stored.name);
      expect(after).toEqual(before);
      expect(after).toMatchObject({ purpose: 'first writer', version: 2 });
    });

    it('lets exactly one of two writers from the same version win', async () => {
      let current = (await repo.create(makeEnv())).environment;
      for (let round = 0; round < 5; round += 1) {
        const results = await Promise.allSettled([
          repo.save({ ...current, purpose: `A${round}` }),
          repo.save({ ...current, purpose: `B${round}` }),
        ]);

        const won = results.filter((r) => r.status === 'fulfilled');
        const lost = results.filter((r) => r.status === 'rejected');
        expect(won).toHaveLength(1);
        expect(lost).toHaveLength(1);
        expect((lost[0]!.reason as DomainError).code).toBe(ErrorCodes.CONCURRENT_MODIFICATION);
        const winner = won[0]!.value;
        expect(await repo.get(current.name)).toEqual(winner);
        expect(winner.version).toBe(current.version + 1);
        current = winner;
      }
    });

    it('with a fence, writes only while the stored lease has that holder and token', async () => {
      const stored = (await repo.create({ ...makeEnv(), state: 'provisioning', fence: 3, lease: { holder: 'w1', token: 3, until: new Date(T0 + 30_000).toISOString() } })).environment;
      const saved = await repo.save({ ...stored, purpose: 'by w1' }, { holder: 'w1', token: 3 });
      expect(saved.purpose).toBe('by w1');

      // The same version but another token (a takeover the writer has not seen) or another holder: refused.
      const byOldToken = await catchError(repo.save({ ...saved, purpose: 'stale' }, { holder: 'w1', token: 2 }));
      expect(byOldToken.code).toBe(ErrorCodes.CONCURRENT_MODIFICATION);
      const byOther = await catchError(repo.save({ ...saved, purpose: 'stale' }, { holder: 'w2', token: 3 }));
      expect(byOther.code).toBe(ErrorCodes.CONCURRENT_MODIFICATION);
      const { lease: _gone, ...withoutLease } = saved;
      const released = await repo.save(withoutLease);
      const afterRelease = await catchError(repo.save({ ...released, purpose: 'stale' }, { holder: 'w1', token: 3 }));
      expect(afterRelease.code).toBe(ErrorCodes.CONCURRENT_MODIFICATION);
      expect((await repo.get(stored.name))?.purpose).toBe('by w1');
    });

    it('never creates an environment that does not exist', async () => {
      const error = await catchError(repo.save({ ...makeEnv(), version: 1 }));

      expect(error.code).toBe(ErrorCodes.CONCURRENT_MODIFICATION);
      expect(await rawEnvironmentItem(error.details.name as string)).toBeUndefined();
    });
  });

  describe('listByOwner', () => {
    it('lists newest first and leaves ended environments out unless asked', async () => {
      const owner = uniqueName('U');
      const first = makeEnv({ owner }, new Date(T0));
      const second = makeEnv({ owner }, new Date(T0 + minutes(1)));
      const third = makeEnv({ owner }, new Date(T0 + minutes(2)));
      for (const env of [second, first, third]) await repo.create(env);
      await repo.create(makeEnv({ owner: uniqueName('U') }, new Date(T0 + minutes(3))));
      await destroy((await repo.get(second.name))!, T0 + minutes(4));

      const live = await repo.listByOwner(owner);
      const all = await repo.listByOwner(owner, { includeEnded: true });

      expect(live.map((e) => e.name)).toEqual([third.name, first.name]);
      expect(all.map((e) => e.name)).toEqual([third.name, second.name, first.name]);
      expect(all[1]).toMatchObject({ state: 'destroyed', version: 3 });
      expect(all[0]).not.toHaveProperty('gsi1pk');
    });

    it('reads every page', async () => {
      const owner = uniqueName('U');
      const big = 'x'.repeat(200_000);
      // A query page holds at most 1 MB: eight items of ~200 KB need two.
      const envs = Array.from({ length: 8 }, (_, i) => ({
        ...makeEnv({ owner }, new Date(T0 + i)),
        purpose: big,
      }));
      for (const env of envs) await repo.create(env);

      const listed = await repo.listByOwner(owner);

      expect(listed.map((e) => e.name)).toEqual(envs.map((e) => e.name).reverse());
    });

    it('reads every page of a given size, one query each', async () => {
      const paged = new DynamoDbEnvironmentRepository(client, tableName, clock, { queryPageSize: 2 });
      const owner = uniqueName('U');
      const envs = Array.from({ length: 5 }, (_, i) => makeEnv({ owner }, new Date(T0 + i)));
      for (const env of envs) await paged.create(env);
      const queries: Array<Record<string, unknown>> = [];
      const recorder = 'recordQueries';
      client.middlewareStack.add(
        (next, context) => async (args) => {
          if (context.commandName === 'QueryCommand') queries.push({ ...(args.input as Record<string, unknown>) });
          return next(args);
        },
        { step: 'initialize', name: recorder },
      );
      try {
        const listed = await paged.listByOwner(owner);

        expect(listed.map((e) => e.name)).toEqual(envs.map((e) => e.name).reverse());
      } finally {
        client.middlewareStack.remove(recorder);
      }
      expect(queries.length).toBeGreaterThanOrEqual(3);
      expect(queries.every((q) => q.Limit === 2)).toBe(true);
      expect(queries[0]?.ExclusiveStartKey).toBeUndefined();
      expect(queries.slice(1).every((q) => q.ExclusiveStartKey !== undefined)).toBe(true);
    });
  });

  describe('listByState', () => {
    it('finds environments by state, longest in that state first, and follows state changes', async () => {
      const a = (await repo.create(makeEnv())).environment;
      const b = (await repo.create(makeEnv())).environment;
      const names = new Set([a.name, b.name]);
      const inState = async (state: Environment['state']) =>
        (await repo.listByState(state)).filter((e) => names.has(e.name)).map((e) => e.name);

      expect(await inState('requested')).toEqual(expect.arrayContaining([a.name, b.name]));

      await moveTo(b, 'provisioning', T0 + minutes(1));
      await moveTo(a, 'provisioning', T0 + minutes(2));

      expect(await inState('requested')).toEqual([]);
      expect(await inState('provisioning')).toEqual([b.name, a.name]);
    });
  });

  describe('events', () => {
    it('lists the newest events of one environment first, up to the limit', async () => {
      const env = (await repo.create(makeEnv())).environment;
      const other = (await repo.create(makeEnv())).environment;
      const at = (n: number) => new Date(T0 + minutes(n)).toISOString();
      const events = [1, 2, 3, 4].map((n) => ({
        environment: env.name,
        at: at(n),
        type: `step:${n}`,
        actor: 'U0ALICE',
        message: `step ${n}`,
      }));
      for (const event of [events[2]!, events[0]!, events[3]!, events[1]!]) await repo.appendEvent(event);
      await repo.appendEvent({ environment: other.name, at: at(9), type: 'other', message: 'not mine' });

      expect(await repo.listEvents(env.name, 3)).toEqual([events[3], events[2], events[1]]);
      expect(await repo.listEvents(env.name, 10)).toEqual([...events].reverse());
    });

    it('keeps two events of the same instant apart', async () => {
      const env = (await repo.create(makeEnv())).environment;
      const at = new Date(T0).toISOString();

      await repo.appendEvent({ environment: env.name, at, type: 'a', message: 'one' });
      await repo.appendEvent({ environment: env.name, at, type: 'b', message: 'two' });

      expect((await repo.listEvents(env.name, 10)).map((e) => e.type).sort()).toEqual(['a', 'b']);
    });
  });

  describe('delivery claims', () => {
    const claims = () => new DynamoDbDeliveryClaims(client, tableName, clock);

    it('a redelivery is dropped while the first is in progress and after it is done; a dead worker\'s claim lapses', async () => {
      const key = uniqueName('event');
      nowMs = T0;
      expect(await claims().begin(key, 30)).toBe('claimed');
      expect(await claims().begin(key, 30)).toBe('in-progress');
      await claims().finish(key, 3600);
      nowMs = T0 + minutes(5);
      expect(await claims().begin(key, 30)).toBe('done');

      const died = uniqueName('event');
      expect(await claims().begin(died, 30)).toBe('claimed');
      nowMs += 31_000;
      expect(await claims().begin(died, 30)).toBe('claimed');
      nowMs = T0;
    });

    it('an abandoned claim can be claimed again at once', async () => {
      const key = uniqueName('event');
      expect(await claims().begin(key, 30)).toBe('claimed');
      await claims().abandon(key);
      expect(await claims().begin(key, 30)).toBe('claimed');
    });

    it('expired claims are deleted, found through the sparse index; live ones are kept', async () => {
      nowMs = T0 - minutes(120);
      const old = uniqueName('event');
      await claims().begin(old, 30);
      await claims().finish(old, 60);
      nowMs = T0;
      const fresh = uniqueName('event');
      await claims().begin(fresh, 30);
      expect(await claims().purgeExpired(1000)).toBeGreaterThanOrEqual(1);
      const raw = async (k: string) => (await doc.send(new GetCommand({ TableName: tableName, Key: keys.delivery(k), ConsistentRead: true }))).Item;
      expect(await raw(old)).toBeUndefined();
      expect(await raw(fresh)).toBeDefined();
    });
  });

  describe('leadership', () => {
    it('one leader at a time; it renews; another takes over when it lapses or is released, with a higher token', async () => {
      const job = uniqueName('job');
      const lead = new DynamoDbLeadership(client, tableName, job, clock);
      nowMs = T0;
      const a = await lead.acquire('A', 20_000);
      expect(a.leader).toBe(true);
      expect((await lead.acquire('B', 20_000)).leader).toBe(false);
      nowMs = T0 + 10_000;
      expect(await lead.acquire('A', 20_000)).toEqual({ leader: true, token: a.token });
      nowMs = T0 + 25_000;
      expect((await lead.acquire('B', 20_000)).leader).toBe(false);
      nowMs = T0 + 31_000;
      const b = await lead.acquire('B', 20_000);
      expect(b).toEqual({ leader: true, token: a.token + 1 });
      await lead.release('B');
      const c = await lead.acquire('C', 20_000);
      expect(c).toEqual({ leader: true, token: b.token + 1 });
      nowMs = T0;
    });

    it('of replicas racing for a lapsed lease, one wins', async () => {
      const job = uniqueName('job');
      const lead = new DynamoDbLeadership(client, tableName, job, clock);
      const results = await Promise.all(['A', 'B', 'C', 'D'].map((h) => lead.acquire(h, 20_000)));
      expect(results.filter((r) => r.leader)).toHaveLength(1);
    });
  });

  describe('message ledger', () => {
    const ledger = () => new DynamoDbMessageLedger(client, tableName, clock);
    const key = () => ({ name: uniqueName('env'), id: newEnvironmentId(new Date(nowMs)) });

    it('one poster; the others learn where the message is', async () => {
      const k = key();
      nowMs = T0;
      expect(await ledger().claimPost(k, 'A', 10_000)).toEqual({ claimed: true });
      expect(await ledger().claimPost(k, 'B', 10_000)).toEqual({ claimed: false });
      await ledger().recordPost(k, { channel: 'C1', ts: '1.1' });
      expect(await ledger().claimPost(k, 'B', 10_000)).toEqual({ claimed: false, message: { channel: 'C1', ts: '1.1' } });
      expect(await ledger().get(k)).toMatchObject({ message: { channel: 'C1', ts: '1.1' } });
    });

    it('a poster that died lets its claim lapse', async () => {
      const k = key();
      nowMs = T0;
      expect((await ledger().claimPost(k, 'A', 10_000)).claimed).toBe(true);
      nowMs = T0 + 11_000;
      expect((await ledger().claimPost(k, 'B', 10_000)).claimed).toBe(true);
      nowMs = T0;
    });

    it('an older version is dropped after a newer one was claimed', async () => {
      const k = key();
      expect(await ledger().claimVersion(k, 7)).toBe(true);
      expect(await ledger().claimVersion(k, 9)).toBe(true);
      expect(await ledger().claimVersion(k, 8)).toBe(false);
      expect(await ledger().claimVersion(k, 9)).toBe(false);
      expect(await ledger().claimVersion(k, 9, { again: true })).toBe(true);
      expect((await ledger().get(k))?.shown).toBe(9);
    });

    it('a message gone from Slack is forgotten with its thread\'s lines; DMs and alerts stay told', async () => {
      const k = key();
      await ledger().claimPost(k, 'A', 10_000);
      await ledger().recordPost(k, { channel: 'C1', ts: '1.1' });
      for (const line of ['step:launch:t1', 'note:ready:t2', 'dm:failed:t3', 'ops:failed:t3']) {
        expect(await ledger().claimLine(k, line, 10_000)).toBe(true);
        await ledger().lineTold(k, line);
      }
      await ledger().forgetPost(k, { channel: 'C1', ts: '1.1' });
      expect((await ledger().get(k))?.message).toBeUndefined();
      expect(await ledger().claimLine(k, 'step:launch:t1', 10_000)).toBe(true);
      expect(await ledger().claimLine(k, 'note:ready:t2', 10_000)).toBe(true);
      expect(await ledger().claimLine(k, 'dm:failed:t3', 10_000)).toBe(false);
      expect(await ledger().claimLine(k, 'ops:failed:t3', 10_000)).toBe(false);
      // Forgetting another message (one a replica posted since) changes nothing.
      await ledger().recordPost(k, { channel: 'C1', ts: '2.2' });
      await ledger().forgetPost(k, { channel: 'C1', ts: '1.1' });
      expect((await ledger().get(k))?.message).toEqual({ channel: 'C1', ts: '2.2' });
    });

    it('a line is told once; a failed or abandoned one can be told again', async () => {
      const k = key();
      nowMs = T0;
      expect(await ledger().claimLine(k, 'step:launch', 10_000)).toBe(true);
      expect(await ledger().claimLine(k, 'step:launch', 10_000)).toBe(false);
      await ledger().lineTold(k, 'step:launch');
      nowMs = T0 + minutes(60);
      expect(await ledger().claimLine(k, 'step:launch', 10_000)).toBe(false);
      expect(await ledger().claimLine(k, 'note:ready', 10_000)).toBe(true);
      await ledger().lineFailed(k, 'note:ready');
      expect(await ledger().claimLine(k, 'note:ready', 10_000)).toBe(true);
      nowMs += 11_000;
      expect(await ledger().claimLine(k, 'note:ready', 10_000)).toBe(true);
      nowMs = T0;
    });
  });

  describe('due index', () => {
    const due = async (names: string[]) => {
      const out = await doc.send(
        new QueryCommand({
          TableName: tableName,
          IndexName: INDEX.byDue,
          KeyConditionExpression: 'duePk = :due AND dueAt <= :now',
          ExpressionAttributeValues: { ':due': 'DUE', ':now': new Date(T0 + minutes(60)).toISOString() },
        }),
      );
      return (out.Items ?? []).map((i) => i.name as string).filter((n) => names.includes(n));
    };

    it('holds an environment only while it carries dueAt', async () => {
      const timed = (await repo.create({ ...makeEnv(), dueAt: new Date(T0 + minutes(30)).toISOString() })).environment;
      const untimed = (await repo.create(makeEnv())).environment;
      const names = [timed.name, untimed.name];

      expect(await due(names)).toEqual([timed.name]);

      const { dueAt: _cleared, ...withoutTimer } = timed;
      await repo.save(withoutTimer);

      expect(await due(names)).toEqual([]);
      expect(await rawEnvironmentItem(timed.name)).not.toHaveProperty('duePk');
    });
  });

  describe('store errors', () => {
    it('translates SDK errors into STORE_ERROR keeping the cause', async () => {
      const missing = new DynamoDbEnvironmentRepository(client, uniqueName('no-such-table'), clock);

      const error = await catchError(missing.get('anything'));

      expect(error.code).toBe(ErrorCodes.STORE_ERROR);
      expect((error.cause as Error).name).toBe('ResourceNotFoundException');
      // What people may read is a sentence; the SDK's own words are for the logs.
      expect(error.message).not.toMatch(/ResourceNotFound|Requested resource|table/i);
      expect(error.details).toMatchObject({ sdkError: 'ResourceNotFoundException', operation: 'get' });
    });
  });
});

describe('ensureTable on a slow backend', () => {
  it('waits until the new table and its indexes are ACTIVE', async () => {
    // dynalite's own default: a new table stays CREATING for 500 ms.
    const server = await startDynalite({ createTableMs: 500 });
    const client = new DynamoDBClient({
      region: TEST_REGION,
      endpoint: server.endpoint,
      credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
    });
    try {
      const tableName = uniqueName('dormouse');

      await expect(ensureTable(client, tableName)).resolves.toEqual({ created: true });

      const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
      expect(Table?.TableStatus).toBe('ACTIVE');
      expect(Table?.GlobalSecondaryIndexes?.map((i) => [i.IndexName, i.IndexStatus]).sort()).toEqual([
        ['byDue', 'ACTIVE'],
        ['byOwner', 'ACTIVE'],
        ['byState', 'ACTIVE'],
      ]);
    } finally {
      client.destroy();
      await server.close();
    }
  });
});
