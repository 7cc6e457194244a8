/**
 * The document client each DynamoDB adapter talks through. Every adapter
 * builds its own from the plain `DynamoDBClient` it is given, so how items are
 * marshalled does not depend on how the caller configured anything:
 *
 * - `removeUndefinedValues`: an optional field left `undefined` means
 *   "absent", at any depth (lib-dynamodb drops an undefined top-level
 *   attribute by itself, but refuses one inside a map or a list without this
 *   option). Writes are full Puts, so an attribute left out disappears from
 *   the item (and a sparse index follows by itself).
 * - Its own copy of the client's configuration. `DynamoDBDocumentClient.from`
 *   keeps its marshalling options on the configuration object of the client
 *   it wraps, so the last document client made from one `DynamoDBClient`
 *   would otherwise decide for all of them: a `from(client)` anywhere else
 *   (another adapter, a test reading the table) would switch
 *   `removeUndefinedValues` off here (aws/aws-sdk-js-v3#6545, still so in
 *   3.1169). The copy shares everything else with the client: credentials,
 *   HTTP handler, retry strategy, middleware, and `destroy()` stays the
 *   caller's.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, type TranslateConfig } from '@aws-sdk/lib-dynamodb';

const TRANSLATE: TranslateConfig = { marshallOptions: { removeUndefinedValues: true } };

export function documentClient(client: DynamoDBClient): DynamoDBDocumentClient {
  // The client itself (its middleware, its methods) through the prototype, with a configuration of its own.
  const withOwnConfig = Object.create(client, { config: { value: { ...client.config } } }) as DynamoDBClient;
  return DynamoDBDocumentClient.from(withOwnConfig, TRANSLATE);
}
