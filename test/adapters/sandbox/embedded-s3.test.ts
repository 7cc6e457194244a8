/**
 * The sandbox's S3 (s3rver plus what it lacks, see embedded-s3.ts) under the
 * same S3DataStore as production. Unlike moto, s3rver checks signatures, so
 * the presigned URLs are proven here; parts are real sizes (5 MiB but the
 * last), as S3 would require.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HeadObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { S3DataStore } from '../../../src/adapters/aws/s3-data-store.js';
import { startEmbeddedS3, type EmbeddedS3 } from '../../../src/adapters/sandbox/embedded-s3.js';
import { DomainError, ErrorCodes } from '../../../src/core/environment/errors.js';
import { systemClock, type Clock } from '../../../src/core/ports/clock.port.js';
import type { GenerationManifest, PartManifest, PartRef, PartUpload } from '../../../src/core/ports/data-store.port.js';

const MiB = 1024 * 1024;
const BUCKET = 'dormouse-data';

let dataDir: string;
const servers: EmbeddedS3[] = [];
const clients: S3Client[] = [];

beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'dormouse-s3-'));
});

afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy();
  for (const s of servers.splice(0)) await s.close();
  await rm(dataDir, { recursive: true, force: true });
});

/** `pageSize` small enough that a few parts or uploads take several ListParts or ListMultipartUploads pages. */
async function start(pageSize?: number): Promise<EmbeddedS3> {
  const s3 = await startEmbeddedS3({ dataDir, bucket: BUCKET, ...(pageSize ? { pageSize } : {}) });
  servers.push(s3);
  return s3;
}

function clientOf(server: EmbeddedS3): S3Client {
  const client = new S3Client({ region: 'us-east-1', endpoint: server.endpoint, forcePathStyle: true, credentials: server.credentials, maxAttempts: 1 });
  clients.push(client);
  return client;
}

function storeOf(server: EmbeddedS3, clock: Clock = systemClock): S3DataStore {
  return new S3DataStore({ s3: clientOf(server), bucket: server.bucket, partBytes: 5 * MiB, maxParts: 16, clock });
}

const ref: PartRef = { environmentId: '01JABCDEFGHJKMNPQRSTVWXYZ0', generation: 1, part: 'server-0' };
const sha256 = (b: Buffer | ArrayBuffer) => createHash('sha256').update(Buffer.from(b as ArrayBuffer)).digest('hex');

async function partUrls(upload: PartUpload): Promise<string[]> {
  const res = await fetch(upload.partUrlsUrl);
  expect(res.status).toBe(200);
  return (await res.text()).trimEnd().split('\n');
}

async function put(url: string, body: Buffer): Promise<Response> {
  return fetch(url, { method: 'PUT', body });
}

function manifestOf(part: PartManifest): GenerationManifest {
  return {
    format: 1,
    environmentId: ref.environmentId,
    environment: 'demo',
    generation: ref.generation,
    createdAt: '2030-01-01T09:00:00.000Z',
    reason: 'sleep',
    template: 'small-linux',
    serverCount: 1,
    shared: false,
    paths: ['data'],
    parts: [part],
    bytes: part.bytes,
  };
}

/** Uploads `parts` as the save script does and completes the upload: the stored part and what was sent. */
async function save(store: S3DataStore, parts: Buffer[]): Promise<{ part: PartManifest; whole: Buffer }> {
  const upload = await store.beginUpload(ref, { expiresSeconds: 900 });
  const urls = await partUrls(upload);
  for (const [i, body] of parts.entries()) expect((await put(urls[i] as string, body)).status).toBe(200);
  const whole = Buffer.concat(parts);
  const part = await store.completeUpload(ref, upload.uploadId, { bytes: whole.length, sha256: sha256(whole), compression: 'zstd', parts: parts.length });
  return { part, whole };
}

describe('startEmbeddedS3 with S3DataStore', () => {
  it('stores a multipart part uploaded to signed URLs and serves it back, whole or by range', async () => {
    const server = await start(1); // one part a ListParts page: completing needs every page
    expect(server.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const store = storeOf(server);
    const { part, whole } = await save(store, [randomBytes(5 * MiB), randomBytes(1000)]);
    expect(part).toMatchObject({ bytes: 5 * MiB + 1000, sha256: sha256(whole) });

    const url = await store.downloadUrl(part, 60);
    expect(url.startsWith(`${server.endpoint}/${BUCKET}/environments/`)).toBe(true);
    const got = await fetch(url);
    expect(got.status).toBe(200);
    expect(sha256(await got.arrayBuffer())).toBe(sha256(whole));
    // S3's multipart ETag: the MD5 of the parts' MD5s, and how many parts.
    expect(got.headers.get('etag')).toMatch(/^"[0-9a-f]{32}-2"$/);

    // Across the seam of the two parts, as a restore that resumes would ask.
    const range = await fetch(url, { headers: { Range: `bytes=${5 * MiB - 5}-${5 * MiB + 4}` } });
    expect(range.status).toBe(206);
    expect(Buffer.from(await range.arrayBuffer())).toEqual(whole.subarray(5 * MiB - 5, 5 * MiB + 5));

    const head = await clientOf(server).send(new HeadObjectCommand({ Bucket: BUCKET, Key: part.key }));
    expect(head.ContentType).toBe('application/octet-stream');
  });

  it('inspects a part by HEAD (its size, or absent), and a missing bucket is an error, not a missing part', async () => {
    const server = await start();
    const store = storeOf(server);
    const { part, whole } = await save(store, [randomBytes(5 * MiB), randomBytes(77)]);

    expect(await store.inspectPart(part)).toEqual({ exists: true, bytes: whole.length });
    expect(await store.inspectPart({ ...part, key: part.key.replace('server-0', 'server-9') })).toEqual({ exists: false });

    const elsewhere = new S3DataStore({ s3: clientOf(server), bucket: 'no-such-bucket', clock: systemClock });
    const error = await elsewhere.inspectPart(part).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(DomainError);
    expect(error).toMatchObject({ code: ErrorCodes.DATA_STORE_ERROR, details: { operation: 'HeadBucket' } });
  });

  it('keeps objects and unfinished uploads across a close and a new start on the same folder', async () => {
    const first = await start();
    const { part, whole } = await save(storeOf(first), [randomBytes(5 * MiB), randomBytes(10)]);
    await storeOf(first).writeManifest(manifestOf(part));
    const next: PartRef = { ...ref, generation: 2 };
    const open = await storeOf(first).beginUpload(next, { expiresSeconds: 900 });
    expect((await put((await partUrls(open))[0] as string, randomBytes(5 * MiB))).status).toBe(200);
    await first.close();

    const second = await start();
    const store = storeOf(second);
    expect(await store.listGenerations(ref.environmentId)).toEqual([manifestOf(part)]);
    expect(sha256(await (await fetch(await store.downloadUrl(part, 60))).arrayBuffer())).toBe(sha256(whole));
    // The save under way goes on where it was: its upload, its parts.
    const resumed = await store.beginUpload(next, { expiresSeconds: 900, existingUploadId: open.uploadId });
    expect(resumed.uploadId).toBe(open.uploadId);
    expect(await store.uploadedBytes(next, open.uploadId)).toBe(5 * MiB);
    expect((await put((await partUrls(resumed))[1] as string, randomBytes(3))).status).toBe(200);
    const done = await store.completeUpload(next, open.uploadId, { bytes: 5 * MiB + 3, sha256: 'a'.repeat(64), compression: 'gzip', parts: 2 });
    expect(done.bytes).toBe(5 * MiB + 3);
  });

  it('refuses a presigned URL whose signature was tampered with, an unsigned request, and an expired URL', async () => {
    const server = await start();
    const store = storeOf(server);
    const { part } = await save(store, [randomBytes(100)]);
    const url = await store.downloadUrl(part, 60);
    const tampered = url.replace(/X-Amz-Signature=([0-9a-f])/, (_m, c: string) => `X-Amz-Signature=${c === '0' ? '1' : '0'}`);
    expect(tampered).not.toBe(url);
    const refused = await fetch(tampered);
    expect(refused.status).toBe(403);
    expect(await refused.text()).toContain('SignatureDoesNotMatch');
    expect((await fetch(url.split('?')[0] as string)).status).toBe(403);

    const upload = await store.beginUpload({ ...ref, generation: 2 }, { expiresSeconds: 900 });
    const partUrl = (await partUrls(upload))[0] as string;
    const otherPart = partUrl.replace('partNumber=1', 'partNumber=2'); // signed for part 1 only
    expect((await put(otherPart, randomBytes(10))).status).toBe(403);

    const hourAgo: Clock = { ...systemClock, now: () => new Date(Date.now() - 3600_000) };
    const stale = await storeOf(server, hourAgo).downloadUrl(part, 60);
    const expired = await fetch(stale);
    expect(expired.status).toBe(403);
    expect(await expired.text()).toContain('Request has expired');
  });

  it('refuses to complete when a part but the last is under 5 MiB, as S3 does', async () => {
    const server = await start();
    const store = storeOf(server);
    const upload = await store.beginUpload(ref, { expiresSeconds: 900 });
    const urls = await partUrls(upload);
    await put(urls[0] as string, randomBytes(MiB));
    await put(urls[1] as string, randomBytes(10));
    const error = await store.completeUpload(ref, upload.uploadId, { bytes: MiB + 10, sha256: 'a'.repeat(64), compression: 'zstd', parts: 2 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DomainError);
    expect(error).toMatchObject({ code: ErrorCodes.DATA_STORE_ERROR, details: { awsCode: 'EntityTooSmall' } });
  });

  it('aborts an upload so that its URLs stop working and nothing is left', async () => {
    const server = await start();
    const store = storeOf(server);
    const upload = await store.beginUpload(ref, { expiresSeconds: 900 });
    const urls = await partUrls(upload);
    expect((await put(urls[0] as string, randomBytes(10))).status).toBe(200);

    await store.abortUpload(ref, upload.uploadId);
    const refused = await put(urls[1] as string, randomBytes(10));
    expect(refused.status).toBe(404);
    expect(await refused.text()).toContain('NoSuchUpload');
    expect((await fetch(upload.partUrlsUrl)).status).toBe(404);
    expect(await store.removeLeftovers(ref.environmentId)).toBe(0);
    const left = await clientOf(server).send(new ListObjectsV2Command({ Bucket: BUCKET }));
    expect(left.KeyCount ?? 0).toBe(0);
  });

  it('removes dead saves and their uploads, keeping the save under way', async () => {
    const server = await start(1); // one upload a ListMultipartUploads page
    const store = storeOf(server);
    const dead = await store.beginUpload({ ...ref, generation: 1 }, { expiresSeconds: 900 });
    await put((await partUrls(dead))[0] as string, randomBytes(10));
    await store.beginUpload({ ...ref, generation: 3 }, { expiresSeconds: 900 });
    const current = await store.beginUpload({ ...ref, generation: 2 }, { expiresSeconds: 900 });
    expect(await store.removeLeftovers(ref.environmentId, 2)).toBe(4); // the URL lists and the uploads of generations 1 and 3
    expect(await store.uploadedBytes({ ...ref, generation: 2 }, current.uploadId)).toBe(0);
    expect((await fetch(current.partUrlsUrl)).status).toBe(200);
    const gone = await store.completeUpload({ ...ref, generation: 1 }, dead.uploadId, { bytes: 10, sha256: 'a'.repeat(64), compression: 'zstd', parts: 1 }).catch((e: unknown) => e);
    expect(gone).toMatchObject({ code: ErrorCodes.DATA_PART_MISSING });
  });
});
