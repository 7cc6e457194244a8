/**
 * The quota book on the environments' table (docs/dynamodb.md): one item per
 * scope (`person:<user id>`, `team:<team name>`).
 *
 *   item   pk = QUOTA#<scope>   sk = QUOTA
 *          scope      the scope, as given
 *          holds      environment id → QuotaHold (what it holds against the quota)
 *          version    bumped by every write; each write is conditional on the one read
 *          updatedAt  ISO time of the last write
 *          (no index attributes: the book is in no index, it is only ever read by key)
 *
 * Optimistic concurrency without transactions (dynalite has none): a write is
 * one Put of the whole item, conditional on the version its writer read, so
 * of two admissions against the same book one lands and the other reads again:
 *
 *   A  read (v3) ── Put holds+A as v4 if version = 3 ──✔
 *   B  read (v3) ── Put holds+B as v4 if version = 3 ──✘ ── read (v4) ── decide anew
 * ─────────────────────────────────────────────────────────────────────────> time
 *
 * A whole book in one item is fine: a hold is ~150 bytes, so thousands fit in
 * DynamoDB's 400 KB item limit, far more than one person or team ever holds.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Clock } from '../../core/ports/clock.port.js';
import type { QuotaBook, QuotaHold, QuotaLedger } from '../../core/ports/quota-ledger.port.js';
import { isConditionalCheckFailed, storeError } from './dynamodb-environment.repository.js';
import { documentClient } from './dynamodb-document-client.js';

export const quotaKeys = {
  quota: (scope: string) => ({ pk: `QUOTA#${scope}`, sk: 'QUOTA' }),
};

export class DynamoDbQuotaLedger implements QuotaLedger {
  private readonly doc: DynamoDBDocumentClient;

  /** Builds its own document client from `client` (see dynamodb-document-client.ts). */
  constructor(
    client: DynamoDBClient,
    private readonly tableName: string,
    private readonly clock: Pick<Clock, 'now'> = { now: () => new Date() },
  ) {
    this.doc = documentClient(client);
  }

  async read(scope: string): Promise<QuotaBook> {
    const out = await this.doc
      .send(new GetCommand({ TableName: this.tableName, Key: quotaKeys.quota(scope), ConsistentRead: true }))
      .catch((e: unknown) => {
        throw storeError(e, 'quota.read', this.tableName);
      });
    const item = out.Item;
    if (!item) return { holds: {}, version: 0 };
    return { holds: (item.holds ?? {}) as Record<string, QuotaHold>, version: Number(item.version ?? 0) };
  }

  async write(scope: string, holds: Record<string, QuotaHold>, version: number): Promise<boolean> {
    const condition =
      version === 0
        ? { ConditionExpression: 'attribute_not_exists(pk)' }
        : {
            ConditionExpression: '#version = :v',
            ExpressionAttributeNames: { '#version': 'version' },
            ExpressionAttributeValues: { ':v': version },
          };
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...quotaKeys.quota(scope), scope, holds, version: version + 1, updatedAt: this.clock.now().toISOString() },
          ...condition,
        }),
      );
      return true;
    } catch (e) {
      if (isConditionalCheckFailed(e)) return false;
      throw storeError(e, 'quota.write', this.tableName);
    }
  }
}
