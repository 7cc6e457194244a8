/**
 * One behavioural suite, run against dynalite (the embedded default) and moto:
 * the quota book must behave the same on both, and on DynamoDB, with only
 * single-item conditional writes.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureTable, INDEX } from '../../../src/adapters/aws/dynamodb-environment.repository.js';
import { DynamoDbQuotaLedger, quotaKeys } from '../../../src/adapters/aws/dynamodb-quota-ledger.js';
import { DomainError, ErrorCodes } from '../../../src/core/environment/errors.js';
import type { QuotaHold } from '../../../src/core/ports/quota-ledger.port.js';
import { TEST_REGION, uniqueName } from '../../support/aws.js';
import { backends } from '../../support/dynamo-backends.js';


const AT = '2030-01-01T09:00:00.000Z';

function hold(environmentId: string, overrides: Partial<QuotaHold> = {}): QuotaHold {
  return { environmentId, name: `env-${environmentId}`, owner: 'U1', servers: 2, usdPerDay: 0.0416 * 24, at: AT, ...overrides };
}

const byId = (...holds: QuotaHold[]): Record<string, QuotaHold> => Object.fromEntries(holds.map((h) => [h.environmentId, h]));

describe.each(backends)('DynamoDbQuotaLedger on $name', (backend) => {
  let close: () => Promise<void>;
  let client: DynamoDBClient;
  let doc: DynamoDBDocumentClient;
  let ledger: DynamoDbQuotaLedger;
  const tableName = uniqueName('dormouse-quota');
  const clock = { now: () => new Date(AT) };

  beforeAll(async () => {
    const started = await backend.start();
    close = started.close;
    client = new DynamoDBClient(started.config);
    // The test's own reads, on a document client of its own.
    doc = DynamoDBDocumentClient.from(client);
    await ensureTable(client, tableName, { timeoutMs: 20_000 });
    ledger = new DynamoDbQuotaLedger(client, tableName, clock);
  });

  afterAll(async () => {
    client?.destroy();
    await close?.();
  });

  const scope = () => uniqueName('person:U');
  const rawItem = async (s: string) =>
    (await doc.send(new GetCommand({ TableName: tableName, Key: quotaKeys.quota(s), ConsistentRead: true }))).Item;

  it('reads an absent scope as version 0 with no holds', async () => {
    await expect(ledger.read(scope())).resolves.toEqual({ holds: {}, version: 0 });
  });

  it('a write at version 0 lands, and the book reads back as version 1', async () => {
    const s = scope();
    const holds = byId(hold('E1'));
    await expect(ledger.write(s, holds, 0)).resolves.toBe(true);
    await expect(ledger.read(s)).resolves.toEqual({ holds, version: 1 });
    expect(await rawItem(s)).toEqual({ pk: `QUOTA#${s}`, sk: 'QUOTA', scope: s, holds, version: 1, updatedAt: AT });
  });

  it('a second write at version 0 is refused and changes nothing', async () => {
    const s = scope();
    const first = byId(hold('E1'));
    await expect(ledger.write(s, first, 0)).resolves.toBe(true);
    await expect(ledger.write(s, byId(hold('E2')), 0)).resolves.toBe(false);
    await expect(ledger.read(s)).resolves.toEqual({ holds: first, version: 1 });
  });

  it('a write at a stale version is refused; at the current one it lands', async () => {
    const s = scope();
    await expect(ledger.write(s, byId(hold('E1')), 0)).resolves.toBe(true);
    const two = byId(hold('E1'), hold('E2'));
    await expect(ledger.write(s, two, 1)).resolves.toBe(true);
    await expect(ledger.write(s, byId(hold('E3')), 1)).resolves.toBe(false);
    await expect(ledger.write(s, byId(hold('E3')), 7)).resolves.toBe(false);
    await expect(ledger.read(s)).resolves.toEqual({ holds: two, version: 2 });
    // Releasing everything is a write like any other.
    await expect(ledger.write(s, {}, 2)).resolves.toBe(true);
    await expect(ledger.read(s)).resolves.toEqual({ holds: {}, version: 3 });
  });

  it('holds with several entries round-trip exactly, decimals included', async () => {
    const s = scope();
    const holds = byId(
      hold('01J0000000000000000000000A', { servers: 1, usdPerDay: 0.0832 * 24, name: 'checkout' }),
      hold('01J0000000000000000000000B', { servers: 3, usdPerDay: 0.1664 * 24 * 3, owner: 'U2', at: '2030-01-02T10:11:12.345Z' }),
      hold('01J0000000000000000000000C', { servers: 8, usdPerDay: 0.1, name: 'big one' }),
      hold('01J0000000000000000000000D', { servers: 0, usdPerDay: 0 }),
    );
    await expect(ledger.write(s, holds, 0)).resolves.toBe(true);
    const book = await ledger.read(s);
    expect(book).toEqual({ holds, version: 1 });
    expect(book.holds['01J0000000000000000000000A']!.usdPerDay).toBe(0.0832 * 24);
    expect(book.holds['01J0000000000000000000000B']!.usdPerDay).toBe(0.1664 * 24 * 3);
  });

  it('scopes are independent', async () => {
    const suffix = uniqueName('');
    const person = `person:U1${suffix}`;
    const team = `team:platform${suffix}`;
    await expect(ledger.write(person, byId(hold('P1')), 0)).resolves.toBe(true);
    await expect(ledger.write(team, byId(hold('T1'), hold('T2')), 0)).resolves.toBe(true);
    await expect(ledger.write(team, byId(hold('T1')), 1)).resolves.toBe(true);
    await expect(ledger.read(person)).resolves.toEqual({ holds: byId(hold('P1')), version: 1 });
    await expect(ledger.read(team)).resolves.toEqual({ holds: byId(hold('T1')), version: 2 });
  });

  it('the book is in no index', async () => {
    const s = scope();
    await expect(ledger.write(s, byId(hold('E1')), 0)).resolves.toBe(true);
    const item = await rawItem(s);
    expect(Object.keys(item ?? {}).sort()).toEqual(['holds', 'pk', 'scope', 'sk', 'updatedAt', 'version']);
    // Only quota books live in this suite's table, so every index must be empty.
    for (const IndexName of Object.values(INDEX)) {
      const out = await doc.send(new ScanCommand({ TableName: tableName, IndexName }));
      expect(out.Items ?? [], IndexName).toEqual([]);
    }
  });

  it('20 concurrent admissions against a limit of 5 servers admit exactly 5', async () => {
    const s = scope();
    const LIMIT = 5;
    let refusedWrites = 0;
    async function admit(i: number): Promise<boolean> {
      for (;;) {
        const book = await ledger.read(s);
        const servers = Object.values(book.holds).reduce((sum, h) => sum + h.servers, 0);
        if (servers + 1 > LIMIT) return false;
        const mine = hold(`E${i}`, { servers: 1 });
        if (await ledger.write(s, { ...book.holds, [mine.environmentId]: mine }, book.version)) return true;
        refusedWrites++;
      }
    }
    const admitted = await Promise.all(Array.from({ length: 20 }, (_, i) => admit(i)));
    expect(admitted.filter(Boolean)).toHaveLength(LIMIT);
    const book = await ledger.read(s);
    expect(book.version).toBe(LIMIT);
    expect(Object.keys(book.holds)).toHaveLength(LIMIT);
    expect(Object.keys(book.holds).sort()).toEqual(
      admitted
        .map((ok, i) => (ok ? `E${i}` : undefined))
        .filter((id): id is string => id !== undefined)
        .sort(),
    );
    // They really raced: some writes were refused and read again.
    expect(refusedWrites).toBeGreaterThan(0);
  });
});

describe('DynamoDbQuotaLedger with the store unreachable', () => {
  let client: DynamoDBClient;
  let ledger: DynamoDbQuotaLedger;

  beforeAll(() => {
    client = new DynamoDBClient({
      region: TEST_REGION,
      endpoint: 'http://127.0.0.1:1',
      credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
      maxAttempts: 1,
    });
    ledger = new DynamoDbQuotaLedger(client, 'dormouse-unreachable');
  });

  afterAll(() => client?.destroy());

  async function catchError(promise: Promise<unknown>): Promise<DomainError> {
    const error = await promise.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(DomainError);
    return error as DomainError;
  }

  it('a read throws a retryable store error rather than answering', async () => {
    const error = await catchError(ledger.read('person:U1'));
    expect(error.code).toBe(ErrorCodes.STORE_ERROR);
    expect(error.retryable).toBe(true);
    expect(error.details).toMatchObject({ operation: 'quota.read', tableName: 'dormouse-unreachable' });
  });

  it('a write throws a store error rather than answering true or false', async () => {
    const error = await catchError(ledger.write('person:U1', byId(hold('E1')), 0));
    expect(error.code).toBe(ErrorCodes.STORE_ERROR);
    expect(error.details).toMatchObject({ operation: 'quota.write', tableName: 'dormouse-unreachable' });
  });
});
