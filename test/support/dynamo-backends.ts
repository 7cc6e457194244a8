/**
 * The two DynamoDB emulators the adapters' suites run against, each a behavioural
 * twin of the other: dynalite (the embedded default; a fresh one per suite) and moto
 * (the run's moto_server, started by the integration project's global setup).
 */
import type { DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import { motoClientConfig, TEST_REGION } from './aws.js';
import { startDynalite } from './dynalite.js';

export interface Backend {
  name: string;
  start(): Promise<{ config: DynamoDBClientConfig; close(): Promise<void> }>;
}

export const backends: Backend[] = [
  {
    name: 'dynalite',
    async start() {
      const server = await startDynalite();
      return {
        config: {
          region: TEST_REGION,
          endpoint: server.endpoint,
          credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
          maxAttempts: 2,
        },
        close: () => server.close(),
      };
    },
  },
  {
    name: 'moto',
    async start() {
      return { config: motoClientConfig(), close: async () => {} };
    },
  },
];
