/**
 * Leader election for periodic work, on the environments' table: one item
 * per job family, `pk = LEADER#<job>`, holding the leader, a fencing token
 * and until when it leads. Every change is a conditional write on what was
 * read, so two replicas racing for an expired lease get one leader:
 *
 *   A  read (B until t, token 4) ── t passed ── Put A token 5 if token = 4 AND until = t ──✔ leads
 *   C  read (B until t, token 4) ── t passed ── Put C token 5 if token = 4 AND until = t ──✘ follows
 * ──────────────────────────────────────────────────────────────────────────────────────────> time
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Clock } from '../../core/ports/clock.port.js';
import type { LeadershipPort } from '../../core/ports/leadership.port.js';
import { isConditionalCheckFailed, keys, storeError } from './dynamodb-environment.repository.js';
import { documentClient } from './dynamodb-document-client.js';

interface LeaderItem {
  holder: string;
  token: number;
  /** Epoch milliseconds. */
  until: number;
}

export class DynamoDbLeadership implements LeadershipPort {
  private readonly doc: DynamoDBDocumentClient;

  /** Builds its own document client from `client` (see dynamodb-document-client.ts). */
  constructor(
    client: DynamoDBClient,
    private readonly tableName: string,
    private readonly job = 'scheduler',
    private readonly clock: Pick<Clock, 'now'> = { now: () => new Date() },
  ) {
    this.doc = documentClient(client);
  }

  async acquire(holder: string, ttlMs: number): Promise<{ leader: boolean; token: number }> {
    const now = this.clock.now().getTime();
    const current = await this.read();
    if (current && current.holder !== holder && current.until > now) return { leader: false, token: current.token };
    // Renewing keeps the token; taking over (from nobody, or from a lapsed leader) raises it.
    const token = current && current.holder === holder && current.until > now ? current.token : (current?.token ?? 0) + 1;
    const next: LeaderItem = { holder, token, until: now + ttlMs };
    const landed = await this.put(
      next,
      current ? '#token = :token AND #until = :until AND #holder = :holder' : 'attribute_not_exists(pk)',
      current ? { ':token': current.token, ':until': current.until, ':holder': current.holder } : undefined,
    );
    return landed ? { leader: true, token } : { leader: false, token: (await this.read())?.token ?? token };
  }

  async release(holder: string): Promise<void> {
    const current = await this.read();
    if (!current || current.holder !== holder) return;
    await this.put({ ...current, until: 0 }, '#holder = :holder AND #token = :token', { ':holder': holder, ':token': current.token });
  }

  private async read(): Promise<LeaderItem | undefined> {
    try {
      const out = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: keys.leader(this.job), ConsistentRead: true }));
      return out.Item ? { holder: String(out.Item.holder), token: Number(out.Item.token), until: Number(out.Item.until) } : undefined;
    } catch (e) {
      throw storeError(e, 'leadership', this.tableName);
    }
  }

  private async put(item: LeaderItem, condition: string, values?: Record<string, unknown>): Promise<boolean> {
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...keys.leader(this.job), ...item, at: this.clock.now().toISOString() },
          ConditionExpression: condition,
          ...(values ? { ExpressionAttributeNames: namesIn(condition), ExpressionAttributeValues: values } : {}),
        }),
      );
      return true;
    } catch (e) {
      if (isConditionalCheckFailed(e)) return false;
      throw storeError(e, 'leadership', this.tableName);
    }
  }
}

/** DynamoDB refuses names an expression does not use: only those it does. */
function namesIn(expression: string): Record<string, string> {
  return Object.fromEntries([...new Set(expression.match(/#\w+/g) ?? [])].map((n) => [n, n.slice(1)]));
}
