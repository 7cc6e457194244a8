/**
 * `npm run create-table`: creates the Dormouse table (and waits until it is
 * ACTIVE) if it does not exist yet.
 *
 *   DORMOUSE_TABLE     table name (default `dormouse`)
 *   AWS_REGION         region
 *   AWS_ENDPOINT_URL   or AWS_ENDPOINT_URL_DYNAMODB: another endpoint (dynalite, moto);
 *                      read by the SDK itself
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ensureTable } from '../adapters/aws/dynamodb-environment.repository.js';

const tableName = process.env.DORMOUSE_TABLE || 'dormouse';
const client = new DynamoDBClient({ ...(process.env.AWS_REGION ? { region: process.env.AWS_REGION } : {}), requestHandler: { connectionTimeout: 3_000, requestTimeout: 10_000, throwOnRequestTimeout: true } });

try {
  const { created } = await ensureTable(client, tableName);
  const endpoint = process.env.AWS_ENDPOINT_URL_DYNAMODB ?? process.env.AWS_ENDPOINT_URL ?? 'AWS';
  process.stdout.write(`Table ${tableName} ${created ? 'created' : 'already exists'} and is ACTIVE (${endpoint}).\n`);
} catch (e) {
  process.stderr.write(`Could not create table ${tableName}: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
} finally {
  client.destroy();
}
