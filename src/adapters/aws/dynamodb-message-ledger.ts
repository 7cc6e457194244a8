/**
 * The notifier's memory, on the environments' table next to the environment
 * it is about: `pk = ENV#<name>`, `sk = NOTE#<id>` (one per incarnation, so a
 * reused name starts afresh). Every change is a conditional UpdateItem:
 *
 *   message    { channel, ts } once posted
 *   postClaim  { holder, until }: who is posting it now (a crash lets it lapse)
 *   shown      the highest environment version claimed for display
 *   lines      line key → 'told', or the ISO time until which someone is telling it
 *   alerts     failure time → { message, summary, closed? }: ops alerts, closed once someone acted
 *
 * Two replicas showing versions 7 and 8 of one environment:
 *
 *   A  claim 7 ✔ ───────────── chat.update(7) ─── shown is 8 > 7: show the newest again
 *   B  claim 8 ✔ ── chat.update(8) ──
 *   (a claim of 7 after 8 was claimed fails: the older update is dropped)
 * ─────────────────────────────────────────────────────────────────────────> time
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Clock } from '../../core/ports/clock.port.js';
import type { AlertRecord, LedgerEntry, LedgerKey, MessageLedger, MessageLocation, PostClaim } from '../../core/ports/message-ledger.port.js';
import { isConditionalCheckFailed, isSdkError, keys, storeError } from './dynamodb-environment.repository.js';
import { documentClient } from './dynamodb-document-client.js';

const TOLD = 'told';

export class DynamoDbMessageLedger implements MessageLedger {
  private readonly doc: DynamoDBDocumentClient;

  /** Builds its own document client from `client` (see dynamodb-document-client.ts). */
  constructor(
    client: DynamoDBClient,
    private readonly tableName: string,
    private readonly clock: Pick<Clock, 'now'> = { now: () => new Date() },
  ) {
    this.doc = documentClient(client);
  }

  async get(key: LedgerKey): Promise<LedgerEntry | undefined> {
    try {
      const out = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: keys.ledger(key.name, key.id), ConsistentRead: true }));
      if (!out.Item) return undefined;
      const message = out.Item.message as MessageLocation | undefined;
      return { shown: Number(out.Item.shown ?? 0), ...(message ? { message } : {}) };
    } catch (e) {
      throw storeError(e, 'ledger.get', this.tableName, key.name);
    }
  }

  async claimPost(key: LedgerKey, holder: string, ttlMs: number): Promise<PostClaim> {
    const now = this.clock.now();
    const claimed = await this.update(
      key,
      'SET postClaim = :claim, shown = if_not_exists(shown, :zero), #lines = if_not_exists(#lines, :empty)',
      // Never the same holder twice: a holder that posted but could not record it must not post again.
      'attribute_not_exists(message) AND (attribute_not_exists(postClaim) OR postClaim.#until < :now)',
      { '#lines': 'lines', '#until': 'until' },
      { ':claim': { holder, until: new Date(now.getTime() + ttlMs).toISOString() }, ':zero': 0, ':empty': {}, ':now': now.toISOString() },
    );
    if (claimed) return { claimed: true };
    const entry = await this.get(key);
    return { claimed: false, ...(entry?.message ? { message: entry.message } : {}) };
  }

  async recordPost(key: LedgerKey, message: MessageLocation): Promise<void> {
    await this.update(key, 'SET message = :message REMOVE postClaim', undefined, undefined, { ':message': message });
  }

  async forgetPost(key: LedgerKey, message: MessageLocation): Promise<void> {
    // Only that message (another replica may have posted a new one already). The lines of its thread go with it,
    // so the new thread tells the story again; DMs and alerts were said elsewhere and stay said.
    const out = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: keys.ledger(key.name, key.id), ConsistentRead: true })).catch((e: unknown) => {
      throw storeError(e, 'ledger.forgetPost', this.tableName, key.name);
    });
    const threadLines = Object.keys((out.Item?.lines ?? {}) as Record<string, unknown>).filter((l) => l.startsWith('step:') || l.startsWith('note:'));
    const names: Record<string, string> = { '#ts': 'ts', '#lines': 'lines' };
    threadLines.forEach((l, i) => (names[`#l${i}`] = l));
    const removeLines = threadLines.map((_l, i) => `, #lines.#l${i}`).join('');
    await this.update(key, `REMOVE message, postClaim${removeLines}`, 'message.#ts = :ts', threadLines.length ? names : { '#ts': 'ts' }, { ':ts': message.ts });
  }

  async claimVersion(key: LedgerKey, version: number, options: { again?: boolean } = {}): Promise<boolean> {
    return this.update(
      key,
      'SET shown = :v, #lines = if_not_exists(#lines, :empty)',
      `attribute_not_exists(shown) OR shown ${options.again ? '<=' : '<'} :v`,
      { '#lines': 'lines' },
      { ':v': version, ':empty': {} },
    );
  }

  async claimLine(key: LedgerKey, line: string, ttlMs: number): Promise<boolean> {
    const now = this.clock.now();
    // 'told' sorts after every ISO time, so a told line never counts as an expired claim.
    const attempt = () =>
      this.update(
        key,
        'SET #lines.#line = :until',
        'attribute_not_exists(#lines.#line) OR #lines.#line < :now',
        { '#lines': 'lines', '#line': line },
        { ':until': new Date(now.getTime() + ttlMs).toISOString(), ':now': now.toISOString() },
      );
    try {
      return await attempt();
    } catch (e) {
      // No ledger item (or no `lines` map) yet: make one, then claim.
      if (!isMissingPath(e)) throw e;
      await this.update(key, 'SET #lines = if_not_exists(#lines, :empty), shown = if_not_exists(shown, :zero)', undefined, { '#lines': 'lines' }, { ':empty': {}, ':zero': 0 });
      return attempt();
    }
  }

  async isLineTold(key: LedgerKey, line: string): Promise<boolean> {
    try {
      const out = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: keys.ledger(key.name, key.id), ConsistentRead: true }));
      const lines = (out.Item?.lines ?? {}) as Record<string, unknown>;
      return lines[line] === TOLD;
    } catch (e) {
      throw storeError(e, 'ledger.isLineTold', this.tableName, key.name);
    }
  }

  async lineTold(key: LedgerKey, line: string): Promise<void> {
    await this.update(key, 'SET #lines.#line = :told', undefined, { '#lines': 'lines', '#line': line }, { ':told': TOLD });
  }

  async lineFailed(key: LedgerKey, line: string): Promise<void> {
    await this.update(key, 'REMOVE #lines.#line', '#lines.#line <> :told', { '#lines': 'lines', '#line': line }, { ':told': TOLD }).catch((e: unknown) => {
      if (!isMissingPath(e)) throw e;
    });
  }

  async recordAlert(key: LedgerKey, alert: AlertRecord): Promise<void> {
    const set = () => this.update(key, 'SET #alerts.#id = :alert', undefined, { '#alerts': 'alerts', '#id': alert.id }, { ':alert': { message: alert.message, summary: alert.summary } });
    try {
      await set();
    } catch (e) {
      if (!isMissingPath(e)) throw e;
      await this.update(key, 'SET #alerts = if_not_exists(#alerts, :empty)', undefined, { '#alerts': 'alerts' }, { ':empty': {} });
      await set();
    }
  }

  async openAlerts(key: LedgerKey): Promise<AlertRecord[]> {
    try {
      const out = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: keys.ledger(key.name, key.id), ConsistentRead: true }));
      const alerts = (out.Item?.alerts ?? {}) as Record<string, { message: MessageLocation; summary: string; closed?: boolean }>;
      return Object.entries(alerts)
        .filter(([, a]) => !a.closed)
        .map(([id, a]) => ({ id, message: a.message, summary: a.summary }));
    } catch (e) {
      throw storeError(e, 'ledger.openAlerts', this.tableName, key.name);
    }
  }

  async closeAlert(key: LedgerKey, id: string): Promise<boolean> {
    return this.update(key, 'SET #alerts.#id.#closed = :true', 'attribute_exists(#alerts.#id) AND attribute_not_exists(#alerts.#id.#closed)', { '#alerts': 'alerts', '#id': id, '#closed': 'closed' }, { ':true': true });
  }

  /** An UpdateItem; false when its condition did not hold. */
  private async update(
    key: LedgerKey,
    expression: string,
    condition: string | undefined,
    names: Record<string, string> | undefined,
    values: Record<string, unknown> | undefined,
  ): Promise<boolean> {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.ledger(key.name, key.id),
          UpdateExpression: expression,
          ...(condition ? { ConditionExpression: condition } : {}),
          ...(names ? { ExpressionAttributeNames: names } : {}),
          ...(values ? { ExpressionAttributeValues: values } : {}),
        }),
      );
      return true;
    } catch (e) {
      if (isConditionalCheckFailed(e)) return false;
      if (isMissingPath(e)) throw e;
      throw storeError(e, 'ledger', this.tableName, key.name);
    }
  }
}

/** DynamoDB refuses `SET lines.x` when `lines` does not exist (ValidationException: "document path … invalid"). */
function isMissingPath(e: unknown): boolean {
  return isSdkError(e, 'ValidationException') && /document path/i.test(String((e as Error).message));
}
