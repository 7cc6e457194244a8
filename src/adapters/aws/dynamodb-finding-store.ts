/**
 * Drift findings on the environments' table (docs/dynamodb.md), all in one
 * partition so the reconciler reads them with one query:
 *
 *   item   pk = FINDINGS   sk = FINDING#<key>
 *          record     the FindingRecord, as the core has it (version included)
 *
 * Writes are whole-item Puts conditional on the version read (no
 * transactions: dynalite has none). A few hundred findings fit in a query
 * page; every page is read all the same.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, GetCommand, PutCommand, paginateQuery, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { FindingRecord, FindingStore } from '../../core/ports/finding-store.port.js';
import { isConditionalCheckFailed, storeError } from './dynamodb-environment.repository.js';
import { documentClient } from './dynamodb-document-client.js';

const PK = 'FINDINGS';
export const findingKeys = { finding: (key: string) => ({ pk: PK, sk: `FINDING#${key}` }) };

export class DynamoDbFindingStore implements FindingStore {
  private readonly doc: DynamoDBDocumentClient;

  constructor(
    client: DynamoDBClient,
    private readonly tableName: string,
  ) {
    this.doc = documentClient(client);
  }

  async get(key: string): Promise<FindingRecord | undefined> {
    const out = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: findingKeys.finding(key), ConsistentRead: true })).catch((e: unknown) => {
      throw storeError(e, 'findings.get', this.tableName);
    });
    return out.Item ? (out.Item.record as FindingRecord) : undefined;
  }

  async list(): Promise<FindingRecord[]> {
    const records: FindingRecord[] = [];
    try {
      for await (const page of paginateQuery(
        { client: this.doc },
        { TableName: this.tableName, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': PK }, ConsistentRead: true },
      )) {
        for (const item of page.Items ?? []) records.push(item.record as FindingRecord);
      }
    } catch (e) {
      throw storeError(e, 'findings.list', this.tableName);
    }
    return records;
  }

  async put(record: FindingRecord): Promise<boolean> {
    const condition =
      record.version === 0
        ? { ConditionExpression: 'attribute_not_exists(pk)' }
        : { ConditionExpression: '#version = :v', ExpressionAttributeNames: { '#version': 'version' }, ExpressionAttributeValues: { ':v': record.version } };
    try {
      const next = { ...record, version: record.version + 1 };
      await this.doc.send(new PutCommand({ TableName: this.tableName, Item: { ...findingKeys.finding(record.key), version: next.version, record: next }, ...condition }));
      return true;
    } catch (e) {
      if (isConditionalCheckFailed(e)) return false;
      throw storeError(e, 'findings.put', this.tableName);
    }
  }

  async remove(key: string, version: number): Promise<void> {
    try {
      await this.doc.send(
        new DeleteCommand({ TableName: this.tableName, Key: findingKeys.finding(key), ConditionExpression: '#version = :v', ExpressionAttributeNames: { '#version': 'version' }, ExpressionAttributeValues: { ':v': version } }),
      );
    } catch (e) {
      if (isConditionalCheckFailed(e)) return;
      throw storeError(e, 'findings.remove', this.tableName);
    }
  }
}
