/**
 * Delivery claims on the environments' table (docs/dynamodb.md).
 *
 *   item   pk = DELIVERY#<key>   sk = DELIVERY
 *          status     in-progress | done
 *          expiresAt  epoch seconds: DynamoDB's TTL deletes it some time after that
 *          duePk      CLAIM, dueAt = expiry as ISO time: in the sparse byDue index, so
 *                     `purgeExpired` finds expired claims without a scan (dynalite has no TTL)
 *
 * Expiry is decided by conditions, never by the item being gone (TTL is lazy):
 *
 *   begin #1 ──✔ in-progress until t+30s
 *   begin #2 (redelivery, before t+30s) ──✘ → 'in-progress': dropped
 *   finish #1 ── done until t+1h
 *   begin #3 (redelivery, before t+1h) ──✘ → 'done': dropped
 *   (#1 died before finishing) begin #4 after t+30s ──✔ claims it again and does the work
 * ─────────────────────────────────────────────────────────────────────────> time
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, GetCommand, PutCommand, QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Clock } from '../../core/ports/clock.port.js';
import type { ClaimOutcome, DeliveryClaims } from '../../core/ports/delivery-claims.port.js';
import { INDEX, isConditionalCheckFailed, keys, storeError } from './dynamodb-environment.repository.js';
import { documentClient } from './dynamodb-document-client.js';

export const CLAIM_PARTITION = 'CLAIM';

export class DynamoDbDeliveryClaims implements DeliveryClaims {
  private readonly doc: DynamoDBDocumentClient;

  /** Builds its own document client from `client` (see dynamodb-document-client.ts). */
  constructor(
    client: DynamoDBClient,
    private readonly tableName: string,
    private readonly clock: Pick<Clock, 'now'> = { now: () => new Date() },
  ) {
    this.doc = documentClient(client);
  }

  async begin(key: string, inProgressSeconds: number): Promise<ClaimOutcome> {
    const now = this.clock.now();
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: this.item(key, 'in-progress', now, inProgressSeconds),
          ConditionExpression: 'attribute_not_exists(pk) OR expiresAt < :now',
          ExpressionAttributeValues: { ':now': seconds(now) },
        }),
      );
      return 'claimed';
    } catch (e) {
      if (!isConditionalCheckFailed(e)) throw storeError(e, 'claims.begin', this.tableName);
    }
    const out = await this.doc
      .send(new GetCommand({ TableName: this.tableName, Key: keys.delivery(key), ConsistentRead: true }))
      .catch((e: unknown) => {
        throw storeError(e, 'claims.begin', this.tableName);
      });
    return out.Item?.status === 'done' ? 'done' : 'in-progress';
  }

  async finish(key: string, doneSeconds: number): Promise<void> {
    await this.doc.send(new PutCommand({ TableName: this.tableName, Item: this.item(key, 'done', this.clock.now(), doneSeconds) })).catch((e: unknown) => {
      throw storeError(e, 'claims.finish', this.tableName);
    });
  }

  async abandon(key: string): Promise<void> {
    await this.doc
      .send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: keys.delivery(key),
          ConditionExpression: '#status = :inProgress',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ':inProgress': 'in-progress' },
        }),
      )
      .catch((e: unknown) => {
        if (!isConditionalCheckFailed(e)) throw storeError(e, 'claims.abandon', this.tableName);
      });
  }

  /** One query on the sparse index for what expired, then one conditional delete each (a renewed claim is kept). */
  async purgeExpired(limit = 100): Promise<number> {
    const now = this.clock.now();
    const out = await this.doc
      .send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: INDEX.byDue,
          KeyConditionExpression: 'duePk = :claims AND dueAt < :now',
          ExpressionAttributeValues: { ':claims': CLAIM_PARTITION, ':now': now.toISOString() },
          Limit: limit,
        }),
      )
      .catch((e: unknown) => {
        throw storeError(e, 'claims.purge', this.tableName);
      });
    let purged = 0;
    for (const item of out.Items ?? []) {
      try {
        await this.doc.send(
          new DeleteCommand({
            TableName: this.tableName,
            Key: { pk: item.pk, sk: item.sk },
            ConditionExpression: 'expiresAt < :now',
            ExpressionAttributeValues: { ':now': seconds(now) },
          }),
        );
        purged++;
      } catch (e) {
        if (!isConditionalCheckFailed(e)) throw storeError(e, 'claims.purge', this.tableName);
      }
    }
    return purged;
  }

  private item(key: string, status: 'in-progress' | 'done', now: Date, ttlSeconds: number) {
    const expires = new Date(now.getTime() + ttlSeconds * 1000);
    return { ...keys.delivery(key), status, expiresAt: seconds(expires), duePk: CLAIM_PARTITION, dueAt: expires.toISOString(), at: now.toISOString() };
  }
}

const seconds = (d: Date): number => Math.floor(d.getTime() / 1000);
