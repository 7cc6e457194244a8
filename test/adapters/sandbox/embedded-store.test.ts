import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  GetItemCommand,
  ListTablesCommand,
  PutItemCommand,
} from '@aws-sdk/client-dynamodb';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startEmbeddedStore, type EmbeddedStore } from '../../../src/adapters/sandbox/embedded-store.js';

const TABLE = 'dormouse-sandbox';

let dataDir: string;
const open: EmbeddedStore[] = [];
const clients: DynamoDBClient[] = [];

async function start(options: Parameters<typeof startEmbeddedStore>[0]): Promise<EmbeddedStore> {
  const store = await startEmbeddedStore(options);
  open.push(store);
  return store;
}

function client(endpoint: string): DynamoDBClient {
  const c = new DynamoDBClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'sandbox', secretAccessKey: 'sandbox' },
    maxAttempts: 1,
  });
  clients.push(c);
  return c;
}

async function createTable(c: DynamoDBClient): Promise<void> {
  await c.send(
    new CreateTableCommand({
      TableName: TABLE,
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
  // The store keeps a new table CREATING for 50 ms.
  for (let i = 0; i < 100; i++) {
    const { Table } = await c.send(new DescribeTableCommand({ TableName: TABLE }));
    if (Table?.TableStatus === 'ACTIVE') return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`${TABLE} did not become ACTIVE`);
}

beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'dormouse-store-'));
});

afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy();
  for (const s of open.splice(0)) await s.close();
  await rm(dataDir, { recursive: true, force: true });
});

describe('startEmbeddedStore', () => {
  it('keeps items across a close and a new start on the same folder', async () => {
    const first = await start({ dataDir });
    expect(first.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const c1 = client(first.endpoint);
    await createTable(c1);
    await c1.send(new PutItemCommand({ TableName: TABLE, Item: { pk: { S: 'env#demo' }, owner: { S: 'U123' } } }));
    await first.close();
    expect(existsSync(join(dataDir, 'store'))).toBe(true);

    const second = await start({ dataDir });
    const got = await client(second.endpoint).send(
      new GetItemCommand({ TableName: TABLE, Key: { pk: { S: 'env#demo' } }, ConsistentRead: true }),
    );
    expect(got.Item).toEqual({ pk: { S: 'env#demo' }, owner: { S: 'U123' } });
  });

  it('keeps nothing without a data folder (in memory)', async () => {
    const first = await start({});
    await createTable(client(first.endpoint));
    await first.close();
    const second = await start({});
    expect((await client(second.endpoint).send(new ListTablesCommand({}))).TableNames).toEqual([]);
  });

  it('refuses, with a clear message, a second start on a folder that is open', async () => {
    await start({ dataDir });
    await expect(startEmbeddedStore({ dataDir })).rejects.toThrowError(/already open in this process/);
  });

  it('refuses a folder locked by another live process, and takes over a lock left by a dead one', async () => {
    await writeFile(join(dataDir, 'store.lock'), `${process.ppid}\n`);
    await expect(startEmbeddedStore({ dataDir })).rejects.toThrowError(new RegExp(`in use by process ${process.ppid}`));

    const dead = spawnSync('true').pid;
    await writeFile(join(dataDir, 'store.lock'), `${dead}\n`);
    const store = await start({ dataDir });
    expect((await client(store.endpoint).send(new ListTablesCommand({}))).TableNames).toEqual([]);
  });

  it('close is safe to call twice and releases the lock file', async () => {
    const store = await startEmbeddedStore({ dataDir });
    await Promise.all([store.close(), store.close()]);
    await store.close();
    expect(existsSync(join(dataDir, 'store.lock'))).toBe(false);
  });
});
