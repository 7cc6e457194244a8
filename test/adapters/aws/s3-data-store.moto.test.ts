/**
 * S3DataStore against moto's S3. Parts are uploaded the way a server's save
 * script does it: fetch the list of presigned URLs, PUT each part to its line
 * with plain HTTP (no SDK, no credentials). moto checks neither signatures nor
 * checksums, so the URLs' shape is asserted here, and their signatures in the
 * embedded S3 test.
 */
import { createHash, randomBytes } from 'node:crypto';
import {
  CreateBucketCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3DataStore } from '../../../src/adapters/aws/s3-data-store.js';
import { DomainError, ErrorCodes } from '../../../src/core/environment/errors.js';
import { systemClock } from '../../../src/core/ports/clock.port.js';
import type { GenerationManifest, PartManifest, PartRef, PartUpload } from '../../../src/core/ports/data-store.port.js';
import { motoClientConfig, uniqueName } from '../../support/aws.js';

const MiB = 1024 * 1024;
const PREFIX = 'dormouse/';

let s3: S3Client;
let bucket: string;
let store: S3DataStore;

beforeAll(async () => {
  s3 = new S3Client({ ...motoClientConfig(), forcePathStyle: true });
  bucket = uniqueName('dormouse-data');
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  store = new S3DataStore({ s3, bucket, prefix: PREFIX, partBytes: 5 * MiB, maxParts: 8, clock: systemClock });
});

afterAll(() => s3.destroy());

const ref = (generation: number, environmentId = uniqueName('env')): PartRef => ({ environmentId, generation, part: 'server-0' });

/** What a server does: read the URL list, PUT the parts it has (by part number) with plain HTTP. */
async function uploadParts(upload: PartUpload, parts: Record<number, Buffer>): Promise<void> {
  const res = await fetch(upload.partUrlsUrl);
  expect(res.status).toBe(200);
  const lines = (await res.text()).trimEnd().split('\n');
  for (const [n, body] of Object.entries(parts)) {
    const put = await fetch(lines[Number(n) - 1] as string, { method: 'PUT', body });
    expect(put.status, `PUT part ${n}`).toBe(200);
  }
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

function manifestOf(r: PartRef, parts: PartManifest[]): GenerationManifest {
  return {
    format: 1,
    environmentId: r.environmentId,
    environment: 'demo',
    generation: r.generation,
    createdAt: '2030-01-01T09:00:00.000Z',
    reason: 'sleep',
    template: 'small-linux',
    serverCount: 1,
    shared: false,
    paths: ['data'],
    parts,
    bytes: parts.reduce((s, p) => s + p.bytes, 0),
  };
}

async function keysUnder(prefix: string): Promise<string[]> {
  const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
  return (page.Contents ?? []).map((o) => o.Key ?? '').sort();
}

async function openUploads(prefix: string): Promise<string[]> {
  const page = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: prefix }));
  return (page.Uploads ?? []).map((u) => u.UploadId ?? '');
}

async function caught(promise: Promise<unknown>): Promise<DomainError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DomainError);
  return error as DomainError;
}

describe('S3DataStore against moto', () => {
  it('stores a part uploaded in parts to presigned URLs, completes it, and serves it back by a presigned GET', async () => {
    const r = ref(1);
    const upload = await store.beginUpload(r, { expiresSeconds: 3600 });
    expect(upload.key).toBe(`${PREFIX}environments/${r.environmentId}/generations/000001/server-0.archive`);
    expect(upload).toMatchObject({ partBytes: 5 * MiB, maxParts: 8 });
    expect(Date.parse(upload.expiresAt) - Date.now()).toBeGreaterThan(3590_000);

    const list = (await (await fetch(upload.partUrlsUrl)).text()).trimEnd().split('\n');
    expect(list).toHaveLength(8);
    list.forEach((url, i) => {
      const q = new URL(url).searchParams;
      expect(q.get('partNumber')).toBe(String(i + 1));
      expect(q.get('uploadId')).toBe(upload.uploadId);
      // Only `host` signed: curl needs no headers. And no checksum of an empty body, which S3 would hold against every real part.
      expect(q.get('X-Amz-SignedHeaders')).toBe('host');
      expect([...q.keys()].filter((k) => /checksum/i.test(k))).toEqual([]);
    });

    const one = randomBytes(5 * MiB);
    const two = randomBytes(1234);
    await uploadParts(upload, { 1: one, 2: two });
    expect(await store.uploadedBytes(r, upload.uploadId)).toBe(one.length + two.length);

    const whole = Buffer.concat([one, two]);
    const reported = { bytes: whole.length, sha256: sha256(whole), compression: 'zstd' as const, parts: 2, entries: 17 };
    const part = await store.completeUpload(r, upload.uploadId, reported);
    expect(part).toEqual({ part: 'server-0', key: upload.key, bytes: whole.length, sha256: sha256(whole), compression: 'zstd', entries: 17 });

    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: upload.key }));
    expect(head).toMatchObject({ ContentLength: whole.length, ContentType: 'application/octet-stream', ServerSideEncryption: 'AES256' });
    // The URL list is a bearer secret: gone as soon as the part is stored.
    expect(await keysUnder(`${PREFIX}environments/${r.environmentId}/`)).toEqual([upload.key]);

    // A resumed save completes again: same answer, nothing completed twice.
    expect(await store.completeUpload(r, upload.uploadId, reported)).toEqual(part);
    expect(await store.uploadedBytes(r, upload.uploadId)).toBe(whole.length);

    const got = await fetch(await store.downloadUrl(part, 60));
    expect(got.status).toBe(200);
    expect(sha256(Buffer.from(await got.arrayBuffer()))).toBe(sha256(whole));
  });

  it('names the missing part when parts 1 and 3 of 3 arrived, and leaves the upload open', async () => {
    const r = ref(1);
    const upload = await store.beginUpload(r, { expiresSeconds: 600 });
    await uploadParts(upload, { 1: randomBytes(5 * MiB), 3: randomBytes(100) });

    const error = await caught(store.completeUpload(r, upload.uploadId, { bytes: 10 * MiB + 100, sha256: 'a'.repeat(64), compression: 'gzip', parts: 3 }));
    expect(error.code).toBe(ErrorCodes.DATA_PART_MISSING);
    expect(error.message).toContain('part 2 of 3');
    expect(error.details).toMatchObject({ missingParts: [2], missingCount: 1 });
    expect(error.retryable).toBe(false);
    expect(await store.uploadedBytes(r, upload.uploadId)).toBe(5 * MiB + 100);
  });

  it('refuses to complete when the parts do not add up to the bytes the server reported', async () => {
    const r = ref(1);
    const upload = await store.beginUpload(r, { expiresSeconds: 600 });
    await uploadParts(upload, { 1: randomBytes(10) });

    const error = await caught(store.completeUpload(r, upload.uploadId, { bytes: 11, sha256: 'a'.repeat(64), compression: 'zstd', parts: 1 }));
    expect(error.code).toBe(ErrorCodes.DATA_SIZE_MISMATCH);
    expect(error.details).toMatchObject({ storedBytes: 10, reportedBytes: 11 });
    // Not completed: the part can still be sent again.
    expect(await openUploads(upload.key)).toEqual([upload.uploadId]);

    const extra = await caught(store.completeUpload(r, upload.uploadId, { bytes: 0, sha256: 'a'.repeat(64), compression: 'zstd', parts: 0 }));
    expect(extra.code).toBe(ErrorCodes.DATA_SIZE_MISMATCH);
  });

  it('continues an upload that is still open, and starts a new one when the one given is gone', async () => {
    const r = ref(1);
    const first = await store.beginUpload(r, { expiresSeconds: 600 });
    await uploadParts(first, { 1: randomBytes(42) });
    const again = await store.beginUpload(r, { expiresSeconds: 600, existingUploadId: first.uploadId });
    expect(again.uploadId).toBe(first.uploadId);
    expect(await store.uploadedBytes(r, again.uploadId)).toBe(42);

    await store.abortUpload(r, first.uploadId);
    expect(await openUploads(first.key)).toEqual([]);
    expect(await keysUnder(`${PREFIX}environments/${r.environmentId}/`)).toEqual([]);
    await store.abortUpload(r, first.uploadId); // gone already: not an error

    const fresh = await store.beginUpload(r, { expiresSeconds: 600, existingUploadId: first.uploadId });
    expect(fresh.uploadId).not.toBe(first.uploadId);
    const gone = await caught(store.completeUpload(r, first.uploadId, { bytes: 42, sha256: 'a'.repeat(64), compression: 'zstd', parts: 1 }));
    expect(gone.code).toBe(ErrorCodes.DATA_PART_MISSING);
  });

  it('lists only generations with a manifest, newest first', async () => {
    const envId = uniqueName('env');
    for (const g of [1, 3, 12]) {
      const r = ref(g, envId);
      await store.writeManifest(manifestOf(r, [{ part: 'server-0', key: 'k', bytes: g, sha256: 'a'.repeat(64), compression: 'zstd' }]));
    }
    await store.beginUpload(ref(13, envId), { expiresSeconds: 600 }); // a save under way: no manifest yet
    const base = `${PREFIX}environments/${envId}/generations/`;
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `${base}000014/manifest.json`, Body: '{"format":2}' }));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `${base}000015/manifest.json`, Body: 'not json' }));

    const listed = await store.listGenerations(envId);
    expect(listed.map((m) => m.generation)).toEqual([12, 3, 1]);
    expect(listed[0]).toEqual(manifestOf(ref(12, envId), listed[0]?.parts as PartManifest[]));
    expect(await store.getGeneration(envId, 3)).toMatchObject({ generation: 3, bytes: 3 });
    expect(await store.getGeneration(envId, 13)).toBeUndefined();
    expect(await store.getGeneration(envId, 14)).toBeUndefined();
    expect(await store.listGenerations(uniqueName('env'))).toEqual([]);
  });

  it('removes generations without a manifest and their open uploads, but keeps the one asked for', async () => {
    const envId = uniqueName('env');
    const base = `${PREFIX}environments/${envId}/generations/`;
    // Generation 1: complete. Generation 2: a save that died half-way. Generation 3: the save under way.
    const done = await store.beginUpload(ref(1, envId), { expiresSeconds: 600 });
    await uploadParts(done, { 1: randomBytes(7) });
    const part = await store.completeUpload(ref(1, envId), done.uploadId, { bytes: 7, sha256: 'a'.repeat(64), compression: 'zstd', parts: 1 });
    await store.writeManifest(manifestOf(ref(1, envId), [part]));
    const dead = await store.beginUpload(ref(2, envId), { expiresSeconds: 600 });
    await uploadParts(dead, { 1: randomBytes(9) });
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `${base}000002/server-1.archive`, Body: 'a part completed before the save died' }));
    const current = await store.beginUpload(ref(3, envId), { expiresSeconds: 600 });

    // Gen 2: two objects (its URL list and a stored part) and one open upload.
    expect(await store.removeLeftovers(envId, 3)).toBe(3);
    expect(await keysUnder(base)).toEqual([`${base}000001/manifest.json`, `${base}000001/server-0.archive`, `${base}000003/server-0.upload-urls`]);
    expect(await openUploads(base)).toEqual([current.uploadId]);
    expect(await store.uploadedBytes(ref(3, envId), current.uploadId)).toBe(0);

    // Without `keep`, the save under way is a leftover too.
    expect(await store.removeLeftovers(envId)).toBe(2);
    expect(await openUploads(base)).toEqual([]);
    expect(await store.removeLeftovers(envId)).toBe(0);
    expect((await store.listGenerations(envId)).map((m) => m.generation)).toEqual([1]);
  });

  it('deletes a generation: it stops being listed, and its objects go', async () => {
    const envId = uniqueName('env');
    const base = `${PREFIX}environments/${envId}/generations/`;
    for (const g of [1, 2]) {
      const upload = await store.beginUpload(ref(g, envId), { expiresSeconds: 600 });
      await uploadParts(upload, { 1: randomBytes(5) });
      const part = await store.completeUpload(ref(g, envId), upload.uploadId, { bytes: 5, sha256: 'a'.repeat(64), compression: 'gzip', parts: 1 });
      await store.writeManifest(manifestOf(ref(g, envId), [part]));
    }
    await store.deleteGeneration(envId, 1);
    expect((await store.listGenerations(envId)).map((m) => m.generation)).toEqual([2]);
    expect(await keysUnder(base)).toEqual([`${base}000002/manifest.json`, `${base}000002/server-0.archive`]);
    await store.deleteGeneration(envId, 1); // again: nothing left, no error
  });

  it('keeps marks of destroyed environments, and purges an environment down to nothing, the mark last', async () => {
    const envId = uniqueName('env');
    const root = `${PREFIX}environments/${envId}/`;
    const upload = await store.beginUpload(ref(1, envId), { expiresSeconds: 600 });
    await uploadParts(upload, { 1: randomBytes(5) });
    const part = await store.completeUpload(ref(1, envId), upload.uploadId, { bytes: 5, sha256: 'a'.repeat(64), compression: 'gzip', parts: 1 });
    await store.writeManifest(manifestOf(ref(1, envId), [part]));
    await store.beginUpload(ref(2, envId), { expiresSeconds: 600 }); // a save that never finished
    const mark = { environmentId: envId, environment: 'demo', destroyedAt: '2030-01-01T09:00:00.000Z', keepUntil: '2030-01-31T09:00:00.000Z', generation: 1 };
    await store.markKept(mark);
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `${PREFIX}environments/${uniqueName('env')}/kept.json`, Body: '{"environmentId":"someone-else"}' }));

    const kept = await store.listKept();
    expect(kept.filter((k) => k.environmentId === envId)).toEqual([mark]);
    expect(kept.every((k) => k.environmentId !== 'someone-else')).toBe(true);

    // The archive, the manifest, the URL list of generation 2, its open upload, the mark.
    expect(await store.purge(envId)).toBe(5);
    expect(await keysUnder(root)).toEqual([]);
    expect(await openUploads(root)).toEqual([]);
    expect((await store.listKept()).some((k) => k.environmentId === envId)).toBe(false);
    expect(await store.purge(envId)).toBe(0);
  });

  it('inspects a part by HEAD: its stored size when present, absent when its key holds nothing', async () => {
    const r = ref(1);
    const upload = await store.beginUpload(r, { expiresSeconds: 600 });
    const body = randomBytes(5 * MiB + 321);
    await uploadParts(upload, { 1: body.subarray(0, 5 * MiB), 2: body.subarray(5 * MiB) });
    const part = await store.completeUpload(r, upload.uploadId, { bytes: body.length, sha256: sha256(body), compression: 'zstd', parts: 2 });

    expect(await store.inspectPart(part)).toEqual({ exists: true, bytes: body.length });
    // A plain object too (one not uploaded in parts), and an empty one.
    const small = `${PREFIX}environments/${r.environmentId}/generations/000002/shared.archive`;
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: small, Body: 'seventeen bytes!!' }));
    expect(await store.inspectPart({ ...part, part: 'shared', key: small })).toEqual({ exists: true, bytes: 17 });
    const empty = `${PREFIX}environments/${r.environmentId}/generations/000003/server-0.archive`;
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: empty, Body: Buffer.alloc(0) }));
    expect(await store.inspectPart({ ...part, key: empty })).toEqual({ exists: true, bytes: 0 });

    const absent = { ...part, key: `${PREFIX}environments/${uniqueName('env')}/generations/000001/server-0.archive` };
    expect(await store.inspectPart(absent)).toEqual({ exists: false });
    await store.deleteGeneration(r.environmentId, 1);
    expect(await store.inspectPart(part)).toEqual({ exists: false });
  });

  it('does not take a missing bucket for a missing part: HeadObject answers it with the same bare 404', async () => {
    const lost = new S3DataStore({ s3, bucket: uniqueName('no-such-bucket'), clock: systemClock });
    const part: PartManifest = { part: 'server-0', key: 'environments/x/generations/000001/server-0.archive', bytes: 1, sha256: 'a'.repeat(64), compression: 'zstd' };
    const error = await caught(lost.inspectPart(part));
    expect(error.code).toBe(ErrorCodes.DATA_STORE_ERROR);
    expect(error.details).toMatchObject({ operation: 'HeadBucket', httpStatus: 404 });
  });

  it('reads a manifest back exactly as written', async () => {
    const r = ref(7);
    const written = manifestOf(r, [{ part: 'shared', key: 'x', bytes: 1, sha256: 'b'.repeat(64), compression: 'gzip', entries: 3 }]);
    await store.writeManifest(written);
    expect(await store.getGeneration(r.environmentId, 7)).toEqual(written);
    const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: `${PREFIX}environments/${r.environmentId}/generations/000007/manifest.json` }));
    expect(object.ContentType).toBe('application/json');
  });

  it('turns S3 refusals into DATA.STORE_ERROR, not retryable when the request itself is wrong', async () => {
    const lost = new S3DataStore({ s3, bucket: uniqueName('no-such-bucket'), clock: systemClock });
    const error = await caught(lost.listGenerations(uniqueName('env')));
    expect(error.code).toBe(ErrorCodes.DATA_STORE_ERROR);
    expect(error.details).toMatchObject({ operation: 'ListObjectsV2', awsCode: 'NoSuchBucket' });
    expect(error.retryable).toBe(false);
  });
});
