/**
 * The cloud side of a composition: the store, and the servers. Two of them:
 * the sandbox's (an embedded store, unless a shared one is given, and the
 * local cloud, where each server is a folder) and AWS's (DynamoDB, EC2, SSM).
 */
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ensureTable } from '../adapters/aws/dynamodb-environment.repository.js';
import type { Config } from '../config/config.js';
import { systemClock, type Clock } from '../core/ports/clock.port.js';
import type { ComputePort } from '../core/ports/compute.port.js';
import type { DataStorePort } from '../core/ports/data-store.port.js';
import type { RemoteCommandPort } from '../core/ports/remote-command.port.js';
import { lazyPort } from '../lazy-port.js';
import type { Closers } from './closers.js';

/**
 * Every AWS call has a deadline: a store or cloud that hangs must not hang
 * the bot. The store answers in milliseconds; EC2 and SSM in seconds. Without
 * throwOnRequestTimeout the SDK's HTTP handler only logs a request over its
 * timeout and goes on waiting.
 */
const STORE_HTTP = { connectionTimeout: 1_000, requestTimeout: 3_000, throwOnRequestTimeout: true };
const CLOUD_HTTP = { connectionTimeout: 3_000, requestTimeout: 20_000, throwOnRequestTimeout: true };

export interface CloudSide {
  /** The store's client, its table ready. */
  dynamo: DynamoDBClient;
  compute: ComputePort;
  commands: RemoteCommandPort;
  /** Where bootstrap scripts find the environment's data on a server (the sandbox sets its own per server). */
  serverDataDir?: string;
  /** Where sleeping environments keep their data; absent when none is configured (AWS without a bucket). */
  data?: DataStorePort;
}

/** The sandbox's bucket, in its embedded S3 server (or in the one AWS_ENDPOINT_URL_S3 names). */
export const SANDBOX_BUCKET = 'dormouse-sandbox';

/** S3 calls move data descriptions, not data (servers move the data): seconds, like EC2's. */
const DATA_HTTP = { connectionTimeout: 3_000, requestTimeout: 30_000, throwOnRequestTimeout: true };

async function dataStore(
  config: Config,
  clock: Clock,
  closers: Closers,
  where: { bucket: string; endpoint?: string; credentials?: { accessKeyId: string; secretAccessKey: string }; createBucket?: boolean },
): Promise<DataStorePort> {
  const [{ S3Client, CreateBucketCommand }, { S3DataStore }] = await Promise.all([import('@aws-sdk/client-s3'), import('../adapters/aws/s3-data-store.js')]);
  const s3 = new S3Client({
    region: config.aws.region,
    ...(where.endpoint ? { endpoint: where.endpoint, forcePathStyle: true } : {}),
    ...(where.credentials ? { credentials: where.credentials } : {}),
    maxAttempts: 5,
    requestHandler: DATA_HTTP,
  });
  closers.add(async () => s3.destroy());
  if (where.createBucket) {
    await s3.send(new CreateBucketCommand({ Bucket: where.bucket })).catch((e: unknown) => {
      const name = (e as { name?: string }).name;
      if (name !== 'BucketAlreadyOwnedByYou' && name !== 'BucketAlreadyExists') throw e;
    });
  }
  return new S3DataStore({ s3, bucket: where.bucket, prefix: config.data.prefix, clock });
}

/** Counts an AWS SDK client's calls (`/metrics`); given by the composition. */
export type Instrument = (client: { middlewareStack: unknown }, service: string) => void;

export type StartCloud = (config: Config, clock: Clock, closers: Closers, instrument?: Instrument) => Promise<CloudSide>;

function storeClient(config: Config, endpoint: string | undefined, sandbox: boolean, closers: Closers): { dynamo: DynamoDBClient; ready: Promise<unknown> } {
  const dynamo = new DynamoDBClient({
    region: config.aws.region,
    ...(config.aws.endpoint ? { endpoint: config.aws.endpoint } : {}),
    ...(endpoint ? { endpoint, ...(sandbox ? { credentials: { accessKeyId: 'sandbox', secretAccessKey: 'sandbox' } } : {}) } : {}),
    maxAttempts: 3,
    requestHandler: STORE_HTTP,
  });
  closers.add(async () => dynamo.destroy());
  const ready = config.table.create ? ensureTable(dynamo, config.table.name) : Promise.resolve();
  ready.catch(() => undefined); // awaited by the caller; not an unhandled rejection meanwhile
  return { dynamo, ready };
}

/** The sandbox: an embedded DynamoDB (or a shared one, for replicas) and the local cloud, under the sandbox folder. */
export const sandboxCloud: StartCloud = async (config, clock, closers, instrument) => {
  // The SDK's notice that its 2027 releases need Node 22 concerns operators of a real
  // deployment (the lockfile keeps today's releases), not someone trying the sandbox.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  let endpoint = config.store.endpoint;
  if (!endpoint) {
    const { startEmbeddedStore } = await import('../adapters/sandbox/embedded-store.js');
    const store = await startEmbeddedStore({ dataDir: config.sandbox.dataDir });
    closers.add(() => store.close());
    endpoint = store.endpoint;
  }
  const { dynamo, ready } = storeClient(config, endpoint, true, closers);
  instrument?.(dynamo, 'dynamodb');
  const { LocalCloud } = await import('../adapters/sandbox/local-cloud/local-cloud.js');
  const cloud = new LocalCloud({ rootDir: join(config.sandbox.dataDir, 'cloud'), clock, delays: config.sandbox.delays, faults: config.sandbox.faults });
  // The data store: an S3-compatible server inside this process, persisted beside the servers' folders
  // (or the S3 at AWS_ENDPOINT_URL_S3, moto in tests). Saving and restoring run the very scripts servers run.
  let s3: { endpoint: string; bucket: string; credentials?: { accessKeyId: string; secretAccessKey: string } };
  if (config.data.endpoint) {
    s3 = { endpoint: config.data.endpoint, bucket: config.data.bucket ?? SANDBOX_BUCKET, credentials: { accessKeyId: 'sandbox', secretAccessKey: 'sandbox' } };
  } else {
    const { startEmbeddedS3 } = await import('../adapters/sandbox/embedded-s3.js');
    const embedded = await startEmbeddedS3({ dataDir: join(config.sandbox.dataDir, 's3'), bucket: config.data.bucket ?? SANDBOX_BUCKET });
    closers.add(() => embedded.close());
    s3 = embedded;
  }
  // Real time, not the sandbox clock: the data store signs its presigned URLs with its clock, and the S3
  // server (s3rver, or moto) checks them against real time, so a clock moved forward would make every
  // URL "not yet valid" or expired. Nothing else in the data store reads the clock.
  const data = await dataStore(config, systemClock, closers, { ...s3, createBucket: true });
  await ready;
  return { dynamo, compute: cloud.compute, commands: cloud.commands, data };
};

/** AWS: DynamoDB, and EC2 and SSM loaded in the background (the EC2 client alone takes ~0.4 s to import: /healthz need not wait). */
export const awsCloud: StartCloud = async (config, clock, closers, instrument) => {
  const { dynamo, ready } = storeClient(config, config.store.endpoint, false, closers);
  instrument?.(dynamo, 'dynamodb');
  const aws = { region: config.aws.region, ...(config.aws.endpoint ? { endpoint: config.aws.endpoint } : {}) };
  const adapters = Promise.all([
    import('@aws-sdk/client-ec2'),
    import('@aws-sdk/client-ssm'),
    import('../adapters/aws/ec2-compute.adapter.js'),
    import('../adapters/aws/ssm-remote-command.adapter.js'),
  ]).then(([{ EC2Client }, { SSMClient }, { Ec2Compute }, { SsmRemoteCommand }]) => {
    // Throttling and transient errors are the SDK's to retry (the adapters only poll). EC2 limits calls per account,
    // so its client also slows itself down once throttled (adaptive); SSM's stays standard.
    const ec2 = new EC2Client({ ...aws, maxAttempts: 5, retryMode: 'adaptive', requestHandler: CLOUD_HTTP });
    const ssm = new SSMClient({ ...aws, maxAttempts: 5, requestHandler: CLOUD_HTTP });
    instrument?.(ec2, 'ec2');
    instrument?.(ssm, 'ssm');
    return { compute: new Ec2Compute({ ec2, ssm, clock }), commands: new SsmRemoteCommand({ ssm, clock }), close: () => (ec2.destroy(), ssm.destroy()) };
  });
  // Registered now, so it runs after the flows have stopped (closers run last-in, first-out).
  closers.add(async () => (await adapters.catch(() => undefined))?.close());
  const bucket = config.data.bucket;
  // AWS_ENDPOINT_URL_S3, else AWS_ENDPOINT_URL (moto, LocalStack: one endpoint for every service).
  const s3Endpoint = config.data.endpoint ?? config.aws.endpoint;
  const data = bucket ? lazyPort(dataStore(config, clock, closers, { bucket, ...(s3Endpoint ? { endpoint: s3Endpoint } : {}), createBucket: config.table.create })) : undefined;
  await ready;
  return {
    dynamo,
    compute: lazyPort(adapters.then((a) => a.compute)),
    commands: lazyPort(adapters.then((a) => a.commands)),
    serverDataDir: '/var/lib/dormouse/data',
    ...(data ? { data } : {}),
  };
};
