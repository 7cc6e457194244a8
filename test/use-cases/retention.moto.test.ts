/**
 * The retention job against moto's S3: the data a destroyed environment kept
 * stays until its `keepUntil`, then goes, whole (manifests, parts, the mark);
 * another environment's data is untouched.
 */
import { CreateBucketCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3DataStore } from '../../src/adapters/aws/s3-data-store.js';
import { PurgeExpiredData } from '../../src/core/use-cases/restore.use-case.js';
import type { GenerationManifest } from '../../src/core/ports/data-store.port.js';
import { motoClientConfig, uniqueName } from '../support/aws.js';

let s3: S3Client;
let bucket: string;
let now = new Date('2026-12-01T10:00:00Z');
const clock = { now: () => now, sleep: async () => undefined };
let store: S3DataStore;

beforeAll(async () => {
  s3 = new S3Client({ ...motoClientConfig(), forcePathStyle: true });
  bucket = uniqueName('dormouse-retention');
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  store = new S3DataStore({ s3, bucket, clock });
});
afterAll(() => s3.destroy());

async function generation(environmentId: string, number: number): Promise<void> {
  const key = `environments/${environmentId}/generations/${String(number).padStart(6, '0')}/server-0.archive`;
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'archive bytes' }));
  const manifest: GenerationManifest = {
    format: 1,
    environmentId,
    environment: 'kept',
    generation: number,
    createdAt: now.toISOString(),
    reason: 'destroy',
    template: 'demo',
    serverCount: 1,
    shared: false,
    paths: ['.'],
    parts: [{ part: 'server-0', key, bytes: 13, sha256: 'a'.repeat(64), compression: 'zstd' }],
    bytes: 13,
  };
  await store.writeManifest(manifest);
}

const keysOf = async (environmentId: string) =>
  ((await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `environments/${environmentId}/` }))).Contents ?? []).map((o) => o.Key);

describe('the retention job', () => {
  it('keeps a destroyed environment’s data until keepUntil, then removes all of it, and nothing else', async () => {
    const gone = '01KEPT0000000000000000000A';
    const living = '01LIVE0000000000000000000B';
    await generation(gone, 3);
    await generation(living, 1);
    await store.markKept({ environmentId: gone, environment: 'kept', destroyedAt: now.toISOString(), keepUntil: '2026-12-08T10:00:00.000Z', generation: 3 });
    const job = new PurgeExpiredData({ data: store, clock, logger: pino({ level: 'silent' }) });

    now = new Date('2026-12-08T09:59:00Z');
    expect(await job.execute()).toBe(0);
    expect((await store.listGenerations(gone)).map((g) => g.generation)).toEqual([3]);

    now = new Date('2026-12-08T10:00:01Z');
    expect(await job.execute()).toBe(1);
    expect(await keysOf(gone)).toEqual([]);
    expect(await store.listKept()).toEqual([]);
    expect((await store.listGenerations(living)).map((g) => g.generation)).toEqual([1]);
    // Run again: nothing left to do.
    expect(await job.execute()).toBe(0);
  });
});
