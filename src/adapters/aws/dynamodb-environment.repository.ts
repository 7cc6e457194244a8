/**
 * The environment repository on one DynamoDB table (docs/dynamodb.md).
 *
 * Key design
 * ----------
 *   item                  pk               sk
 *   environment           ENV#<name>       ENV
 *   archived environment  ENV#<name>       ARCHIVE#<createdAt>     (in byState only: it is ended)
 *   audit event           ENV#<name>       EVENT#<at>#<6 random>   (in no index)
 *   message ledger        ENV#<name>       NOTE#<id>               (in no index; see dynamodb-message-ledger.ts)
 *   delivery claim        DELIVERY#<key>   DELIVERY                in byDue under CLAIM (see dynamodb-delivery-claims.ts)
 *   leader lease          LEADER#<job>     LEADER                  (see dynamodb-leadership.ts)
 *
 *   index    partition key              sort key                           answers
 *   byOwner  gsi1pk = OWNER#<owner>     gsi1sk = <createdAt>#<name>        "my environments", newest first
 *   byState  gsi2pk = STATE#<state>     gsi2sk = <stateChangedAt>#<name>   "all in state X", longest in it first
 *   byDue    duePk  = DUE | CLAIM       dueAt  = <iso time>                "every timer due by now", "every claim expired by now"
 *
 * Only environment items carry index attributes; `duePk`/`dueAt` only while a
 * timer is pending, which makes `byDue` sparse: a sweep reads what is due,
 * not everything that exists.
 *
 * Every write is a single-item Put, conditional where it matters: no
 * transactions and no reliance on TTL, so the same code runs on DynamoDB,
 * moto and dynalite (which has neither). Writes are full Puts, so attributes
 * an environment no longer has (`dueAt`, `failure`, `lease` …) disappear from
 * the item by being left out, and the sparse index follows by itself.
 *
 * The repository (like the other DynamoDB adapters) is given a plain
 * DynamoDBClient and builds its own document client from it
 * (dynamodb-document-client.ts): the caller's configuration decides how the
 * calls travel (endpoint, retries, timeouts), never how items are marshalled.
 */
import { randomInt } from 'node:crypto';
import {
  CreateTableCommand,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  UpdateTimeToLiveCommand,
  type CreateTableCommandInput,
  type DynamoDBClient,
  type TableDescription,
} from '@aws-sdk/client-dynamodb';
import {
  GetCommand,
  PutCommand,
  QueryCommand,
  paginateQuery,
  type DynamoDBDocumentClient,
  type QueryCommandInput,
} from '@aws-sdk/lib-dynamodb';
import type { Environment } from '../../core/environment/environment.js';
import { DomainError, ErrorCodes } from '../../core/environment/errors.js';
import { isLive, type EnvironmentState } from '../../core/environment/lifecycle.js';
import { nameTaken } from '../../core/environment/name.rules.js';
import type { Clock } from '../../core/ports/clock.port.js';
import type { AuditEvent, CreateResult, EnvironmentRepository, Fence } from '../../core/ports/environment-repository.port.js';
import { documentClient } from './dynamodb-document-client.js';

export const INDEX = { byOwner: 'byOwner', byState: 'byState', byDue: 'byDue' } as const;
/** Attribute DynamoDB's TTL deletes delivery claims by (where TTL exists). */
export const TTL_ATTRIBUTE = 'expiresAt';
/** The one partition of the sparse `byDue` index. */
export const DUE_PARTITION = 'DUE';

export const keys = {
  environment: (name: string) => ({ pk: `ENV#${name}`, sk: 'ENV' }),
  archive: (name: string, createdAt: string) => ({ pk: `ENV#${name}`, sk: `ARCHIVE#${createdAt}` }),
  event: (name: string, at: string, suffix: string) => ({ pk: `ENV#${name}`, sk: `EVENT#${at}#${suffix}` }),
  delivery: (key: string) => ({ pk: `DELIVERY#${key}`, sk: 'DELIVERY' }),
  ledger: (name: string, id: string) => ({ pk: `ENV#${name}`, sk: `NOTE#${id}` }),
  leader: (job: string) => ({ pk: `LEADER#${job}`, sk: 'LEADER' }),
};

/** Attributes that exist only for the table's keys and indexes, never part of an Environment. */
const INTERNAL_ATTRIBUTES = ['pk', 'sk', 'gsi1pk', 'gsi1sk', 'gsi2pk', 'gsi2sk', 'duePk'] as const;

/** How many times `create` re-reads and retries when an ended record it replaces changes under it. */
const MAX_CREATE_ATTEMPTS = 3;

/** How many due environments `listDue` returns when the caller names no limit. */
export const DEFAULT_DUE_LIMIT = 100;

type Item = Record<string, unknown>;

export interface RepositoryOptions {
  /** Items a listing query asks for per page (default: as many as fit in DynamoDB's 1 MB page); every page is read. */
  queryPageSize?: number;
}

export class DynamoDbEnvironmentRepository implements EnvironmentRepository {
  private readonly doc: DynamoDBDocumentClient;
  private readonly queryPageSize: number | undefined;

  constructor(
    client: DynamoDBClient,
    private readonly tableName: string,
    private readonly clock: Pick<Clock, 'now'> = { now: () => new Date() },
    options: RepositoryOptions = {},
  ) {
    this.doc = documentClient(client);
    this.queryPageSize = options.queryPageSize;
  }

  async get(name: string): Promise<Environment | undefined> {
    const item = await this.getItem(keys.environment(name), 'get', name);
    return item ? toEnvironment(item) : undefined;
  }

  /**
   * Three outcomes, each decided by a conditional write rather than by a read
   * that could be stale by the time we write:
   *
   *  1. no item of that name        → Put if `attribute_not_exists(pk)`        → created
   *  2. a live item holds the name  → same requestId: the request came again   → created: false
   *                                   another requestId                        → NAME_TAKEN
   *  3. an ended item holds it      → copy it to ARCHIVE#<createdAt>, then Put
   *                                   if it is still that version in that state → created
   *
   * In (3) the archive copy is written first, so a crash in between leaves the
   * old record and a duplicate archive (same key, same content: harmless), never
   * a lost history. If someone else replaces the ended record first, our
   * condition fails and we decide again from what they wrote.
   */
  async create(env: Environment): Promise<CreateResult> {
    const stored: Environment = { ...env, version: env.version + 1 };
    const nameIsFree = 'attribute_not_exists(pk)';

    for (let attempt = 1; attempt <= MAX_CREATE_ATTEMPTS; attempt += 1) {
      if (await this.putIf(toItem(stored), nameIsFree, {}, {}, 'create', env.name)) {
        return { created: true, environment: stored };
      }

      const existingItem = await this.getItem(keys.environment(env.name), 'create', env.name);
      // Gone between our write and our read (nothing deletes today): just try again.
      if (!existingItem) continue;
      const existing = toEnvironment(existingItem);

      if (isLive(existing.state)) {
        if (existing.requestId === env.requestId) return { created: false, environment: existing };
        throw nameTaken(env.name, existing);
      }

      await this.put(
        // Still in byState (an ended state): the savings report counts an environment whose name was reused within its week.
        { ...stripInternal(existingItem), gsi2pk: existingItem.gsi2pk, gsi2sk: existingItem.gsi2sk, ...keys.archive(existing.name, existing.createdAt), archivedAt: this.now() },
        'create',
        env.name,
      );
      const stillTheEndedOne = '#version = :oldVersion AND #state = :oldState';
      const replaced = await this.putIf(
        toItem(stored),
        stillTheEndedOne,
        { '#version': 'version', '#state': 'state' },
        { ':oldVersion': existing.version, ':oldState': existing.state },
        'create',
        env.name,
      );
      if (replaced) return { created: true, environment: stored };
    }

    throw concurrentModification(env.name);
  }

  /**
   * Optimistic concurrency on `version`, and with a `fence`, on the lease.
   * Two workers that read version 4:
   *
   *   worker A  read v4 ──── Put v5 if version = 4 ──✔ stored v5
   *   worker B  read v4 ─────────────────────────────── Put v5 if version = 4 ──✘ (stored is 5)
   *                                                     → CONCURRENT_MODIFICATION: B re-reads v5
   *                                                       and decides again; it never overwrites A
   * ─────────────────────────────────────────────────────────────────────────────────────> time
   *
   * A flow's writes also name the lease they hold (holder and fencing token):
   * once another worker has taken the lease over, the condition fails even
   * if the versions happened to line up, and the ex-holder stops.
   *
   * The condition also fails when the item does not exist, so a save never
   * creates an environment.
   */
  async save(next: Environment, fence?: Fence): Promise<Environment> {
    const stored: Environment = { ...next, version: next.version + 1 };
    const versionUnchanged = '#version = :expected';
    const leaseStillOurs = '#lease.#holder = :holder AND #lease.#token = :token';
    const saved = await this.putIf(
      toItem(stored),
      fence ? `${versionUnchanged} AND ${leaseStillOurs}` : versionUnchanged,
      { '#version': 'version', ...(fence ? { '#lease': 'lease', '#holder': 'holder', '#token': 'token' } : {}) },
      { ':expected': next.version, ...(fence ? { ':holder': fence.holder, ':token': fence.token } : {}) },
      'save',
      next.name,
    );
    if (!saved) throw concurrentModification(next.name);
    return stored;
  }

  async listByOwner(owner: string, options: { includeEnded?: boolean } = {}): Promise<Environment[]> {
    const items = await this.queryAll(
      {
        IndexName: INDEX.byOwner,
        KeyConditionExpression: 'gsi1pk = :pk',
        ExpressionAttributeValues: { ':pk': `OWNER#${owner}` },
        ScanIndexForward: false,
      },
      'listByOwner',
    );
    // Filtered here rather than by a FilterExpression: DynamoDB reads (and
    // bills) the filtered-out items either way, and this keeps the rule in
    // one place (lifecycle.ts).
    const all = items.map(toEnvironment);
    return options.includeEnded ? all : all.filter((e) => isLive(e.state));
  }

  /** Longest in that state first (the order a sweep wants). */
  async listByState(state: EnvironmentState, options: { changedSince?: Date } = {}): Promise<Environment[]> {
    const since = options.changedSince?.toISOString();
    const items = await this.queryAll(
      {
        IndexName: INDEX.byState,
        // gsi2sk is `<stateChangedAt>#<name>`: ISO times sort as text, so "entered since" is a range.
        KeyConditionExpression: since ? 'gsi2pk = :pk AND gsi2sk >= :since' : 'gsi2pk = :pk',
        ExpressionAttributeValues: { ':pk': `STATE#${state}`, ...(since ? { ':since': since } : {}) },
      },
      'listByState',
    );
    return items.map(toEnvironment);
  }

  /**
   * The timers due by `now`: one query on the sparse `byDue` index,
   * `duePk = DUE AND dueAt <= now` (ISO times sort as text), earliest first,
   * page after page until `limit` items. Only environments with a pending
   * timer are in that partition (claims are under CLAIM), so what is read is
   * what is due. The index projects ALL attributes: the items come back
   * whole, with no second read. Index reads are eventually consistent: a
   * timer set a moment ago may show on the next tick.
   */
  async listDue(now: Date, limit = DEFAULT_DUE_LIMIT): Promise<{ environments: Environment[]; itemsRead: number }> {
    const wanted = Math.floor(limit);
    const environments: Environment[] = [];
    let itemsRead = 0;
    if (!(wanted >= 1)) return { environments, itemsRead };
    let startKey: Record<string, unknown> | undefined;
    try {
      do {
        const remaining = wanted - environments.length;
        const out = await this.doc.send(
          new QueryCommand({
            TableName: this.tableName,
            IndexName: INDEX.byDue,
            KeyConditionExpression: 'duePk = :due AND dueAt <= :now',
            ExpressionAttributeValues: { ':due': DUE_PARTITION, ':now': now.toISOString() },
            ScanIndexForward: true,
            Limit: Math.min(remaining, this.queryPageSize ?? remaining),
            ...(startKey ? { ExclusiveStartKey: startKey } : {}),
          }),
        );
        const items = out.Items ?? [];
        itemsRead += out.ScannedCount ?? items.length;
        for (const item of items) environments.push(toEnvironment(item));
        startKey = out.LastEvaluatedKey;
      } while (startKey && environments.length < wanted);
    } catch (e) {
      throw storeError(e, 'listDue', this.tableName);
    }
    return { environments, itemsRead };
  }

  async appendEvent(event: AuditEvent): Promise<void> {
    // The random suffix keeps two events of the same millisecond apart.
    const suffix = randomInt(36 ** 6).toString(36).padStart(6, '0');
    await this.put({ ...event, ...keys.event(event.environment, event.at, suffix) }, 'appendEvent', event.environment);
  }

  async listEvents(environment: string, limit: number): Promise<AuditEvent[]> {
    try {
      const out = await this.doc.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :events)',
          ExpressionAttributeValues: { ':pk': keys.environment(environment).pk, ':events': 'EVENT#' },
          ScanIndexForward: false,
          Limit: limit,
        }),
      );
      return (out.Items ?? []).map((item) => stripInternal(item) as unknown as AuditEvent);
    } catch (e) {
      throw storeError(e, 'listEvents', this.tableName, environment);
    }
  }

  // ── helpers ────────────────────────────────────────────────────────────────

  private now(): string {
    return this.clock.now().toISOString();
  }

  private async getItem(key: Item, operation: string, name: string): Promise<Item | undefined> {
    try {
      const out = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: key, ConsistentRead: true }));
      return out.Item;
    } catch (e) {
      throw storeError(e, operation, this.tableName, name);
    }
  }

  private async put(item: Item, operation: string, name: string): Promise<void> {
    try {
      await this.doc.send(new PutCommand({ TableName: this.tableName, Item: item }));
    } catch (e) {
      throw storeError(e, operation, this.tableName, name);
    }
  }

  /** A conditional Put: false when the condition did not hold, a STORE_ERROR for anything else. */
  private async putIf(
    item: Item,
    condition: string,
    names: Record<string, string>,
    values: Record<string, unknown>,
    operation: string,
    name: string,
  ): Promise<boolean> {
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: item,
          ConditionExpression: condition,
          ...(Object.keys(names).length ? { ExpressionAttributeNames: names } : {}),
          ...(Object.keys(values).length ? { ExpressionAttributeValues: values } : {}),
        }),
      );
      return true;
    } catch (e) {
      if (isConditionalCheckFailed(e)) return false;
      throw storeError(e, operation, this.tableName, name);
    }
  }

  /** Every page of a query (the SDK's paginator): the callers want the whole answer. */
  private async queryAll(input: Omit<QueryCommandInput, 'TableName'>, operation: string): Promise<Item[]> {
    const items: Item[] = [];
    try {
      const pages = paginateQuery(
        { client: this.doc, ...(this.queryPageSize ? { pageSize: this.queryPageSize } : {}) },
        { ...input, TableName: this.tableName },
      );
      for await (const page of pages) items.push(...(page.Items ?? []));
    } catch (e) {
      throw storeError(e, operation, this.tableName);
    }
    return items;
  }
}

// ── mapping ──────────────────────────────────────────────────────────────────

/** The stored form of an environment: its fields plus its keys and index attributes (what `create` and `save` put). */
export function toItem(env: Environment): Item {
  const item: Item = {
    ...env,
    ...keys.environment(env.name),
    gsi1pk: `OWNER#${env.owner}`,
    gsi1sk: `${env.createdAt}#${env.name}`,
    gsi2pk: `STATE#${env.state}`,
    gsi2sk: `${env.stateChangedAt}#${env.name}`,
  };
  // Sparse index: an item is in `byDue` only while it carries both attributes.
  if (env.dueAt) item.duePk = DUE_PARTITION;
  else delete item.dueAt;
  return item;
}

function toEnvironment(item: Item): Environment {
  const env = stripInternal(item) as unknown as Environment;
  // Records written before environments had ids and fencing tokens (an older sandbox folder) still work.
  if (env.id === undefined) env.id = `legacy-${Date.parse(env.createdAt).toString(36)}`;
  if (env.fence === undefined) env.fence = env.lease?.token ?? 0;
  if (env.retries === undefined) env.retries = 0;
  if (env.lease && env.lease.token === undefined) env.lease = { ...env.lease, token: 0 };
  return env;
}

function stripInternal(item: Item): Item {
  const copy = { ...item };
  for (const attribute of INTERNAL_ATTRIBUTES) delete copy[attribute];
  return copy;
}

// ── errors ───────────────────────────────────────────────────────────────────

/**
 * SDK exceptions are matched by name rather than `instanceof`, which fails
 * when two copies of the SDK are loaded (the name is the API's error code).
 */
export function isSdkError(e: unknown, name: string): boolean {
  return (e as { name?: unknown } | null)?.name === name;
}

export const isConditionalCheckFailed = (e: unknown): boolean => isSdkError(e, 'ConditionalCheckFailedException');

function concurrentModification(name: string): DomainError {
  return new DomainError(
    ErrorCodes.CONCURRENT_MODIFICATION,
    `Nothing was saved: someone else changed \`${name}\` at the same time; read it again.`,
    { name },
    true,
  );
}

const TRANSIENT_ERRORS = new Set([
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'RequestLimitExceeded',
  'InternalServerError',
  'ServiceUnavailable',
  'TimeoutError',
]);

export function storeError(e: unknown, operation: string, tableName: string, name?: string): DomainError {
  const err = e as { name?: string; message?: string; $retryable?: unknown; $metadata?: { httpStatusCode?: number } };
  const sdkError = err?.name ?? 'Error';
  const retryable =
    TRANSIENT_ERRORS.has(sdkError) || Boolean(err?.$retryable) || (err?.$metadata?.httpStatusCode ?? 0) >= 500 || isNetworkError(e);
  // The sentence is for people; what went wrong inside (the SDK's words) is in the details and the cause, for the logs.
  return new DomainError(
    ErrorCodes.STORE_ERROR,
    retryable ? 'Dormouse could not reach its database just now.' : 'Dormouse\'s database refused a request.',
    { operation, tableName, sdkError, sdkMessage: err?.message ?? String(e), ...(name ? { name } : {}) },
    retryable,
    { cause: e },
  );
}

/** Connection refused or reset, a socket hang-up, a request that timed out: the store may answer next time. */
function isNetworkError(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  const name = (e as { name?: unknown } | null)?.name;
  return (
    (typeof code === 'string' && ['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'EAI_AGAIN'].includes(code)) ||
    name === 'TimeoutError' ||
    name === 'AbortError'
  );
}

// ── table ────────────────────────────────────────────────────────────────────

export function tableDefinition(tableName: string): CreateTableCommandInput {
  const index = (IndexName: string, hash: string, range: string) => ({
    IndexName,
    KeySchema: [
      { AttributeName: hash, KeyType: 'HASH' as const },
      { AttributeName: range, KeyType: 'RANGE' as const },
    ],
    Projection: { ProjectionType: 'ALL' as const },
  });
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: ['pk', 'sk', 'gsi1pk', 'gsi1sk', 'gsi2pk', 'gsi2sk', 'duePk', 'dueAt'].map(
      (AttributeName) => ({ AttributeName, AttributeType: 'S' as const }),
    ),
    KeySchema: [
      { AttributeName: 'pk', KeyType: 'HASH' },
      { AttributeName: 'sk', KeyType: 'RANGE' },
    ],
    GlobalSecondaryIndexes: [
      index(INDEX.byOwner, 'gsi1pk', 'gsi1sk'),
      index(INDEX.byState, 'gsi2pk', 'gsi2sk'),
      index(INDEX.byDue, 'duePk', 'dueAt'),
    ],
  };
}

const isActive = (t: TableDescription | undefined): boolean =>
  t?.TableStatus === 'ACTIVE' &&
  (t.GlobalSecondaryIndexes ?? []).every((i) => i.IndexStatus === undefined || i.IndexStatus === 'ACTIVE');

/**
 * Creates the table when it is missing and waits until it and its indexes
 * are ACTIVE (dynalite keeps a new table CREATING for `createTableMs`).
 * Then asks for TTL on `expiresAt`, ignoring a refusal: dynalite has no TTL
 * and claims expire by their condition anyway.
 */
export async function ensureTable(
  client: DynamoDBClient,
  tableName: string,
  opts: { timeoutMs?: number } = {},
): Promise<{ created: boolean }> {
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const deadline = Date.now() + timeoutMs;
  const describe = async (): Promise<TableDescription | undefined> => {
    try {
      return (await client.send(new DescribeTableCommand({ TableName: tableName }))).Table;
    } catch (e) {
      if (isSdkError(e, 'ResourceNotFoundException')) return undefined;
      throw e;
    }
  };

  let table = await describe();
  let created = false;
  if (!table) {
    try {
      table = (await client.send(new CreateTableCommand(tableDefinition(tableName)))).TableDescription;
      created = true;
    } catch (e) {
      // Another process created it between our describe and our create.
      if (!isSdkError(e, 'ResourceInUseException')) throw e;
    }
  }

  let delayMs = 50;
  while (!isActive(table)) {
    if (Date.now() > deadline) {
      const status = table?.TableStatus ?? 'missing';
      throw new Error(`Table ${tableName} is not ACTIVE after ${timeoutMs} ms (it is ${status}).`);
    }
    await new Promise((r) => setTimeout(r, delayMs));
    delayMs = Math.min(delayMs * 2, 1_000);
    table = await describe();
  }

  try {
    const ttl = await client.send(new DescribeTimeToLiveCommand({ TableName: tableName }));
    const status = ttl.TimeToLiveDescription?.TimeToLiveStatus;
    if (status !== 'ENABLED' && status !== 'ENABLING') {
      await client.send(
        new UpdateTimeToLiveCommand({
          TableName: tableName,
          TimeToLiveSpecification: { AttributeName: TTL_ATTRIBUTE, Enabled: true },
        }),
      );
    }
  } catch {
    // No TTL here (dynalite) or not allowed: claims still expire by condition.
  }

  return { created };
}
