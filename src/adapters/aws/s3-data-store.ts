/**
 * DataStorePort on S3 (production) or anything that speaks its API (the
 * sandbox's embedded server). Layout and vocabulary: data-store.port.ts.
 *
 * One part of one generation, as a save goes:
 *   beginUpload ── CreateMultipartUpload (or ListParts: the upload given is still open, keep it)
 *       │         presign UploadPart 1..maxParts, PutObject `<part>.upload-urls` (line n = part n),
 *       │         presign a GET of that list: the server fetches it and PUTs its parts with curl
 *   uploadedBytes ── ListParts, every page: progress while the server saves
 *   completeUpload ── ListParts: exactly parts 1..n, summing to the bytes reported?
 *       │             CompleteMultipartUpload ── NoSuchUpload: completed before (a resumed save)?
 *       │             HeadObject: the stored size is the reported size?
 *       │             DeleteObject `<part>.upload-urls` (bearer URLs: they go as soon as unused)
 *   writeManifest ── PutObject `manifest.json`, last: from then on the generation exists
 *
 * inspectPart is a HeadObject on the part's key: its ContentLength, or on
 * NotFound (404) `{ exists: false }` once a HeadBucket has shown that the
 * bucket itself is there (HEAD errors have no body, so S3 cannot tell a
 * missing key from a missing bucket); any other error is a DATA_STORE_ERROR.
 *
 * After a destroy, `environments/<id>/kept.json` says until when the data
 * stays; listKept reads every mark in one listing, and purge removes
 * manifests first, then uploads and parts, then the mark, so a purge cut
 * short is found and finished by the next run.
 *
 * Presigning: getSignedUrl runs the client's whole middleware stack per URL
 * (0.4 to 0.9 ms each, so up to 1.7 s for 2000 parts), and with the SDK's
 * default checksum setting it bakes the CRC32 of an empty body into every
 * UploadPart URL (`x-amz-checksum-crc32=AAAAAA==`), which real S3 refuses for
 * any part that has bytes. So the stack runs once per request shape, to learn
 * the endpoint (path or virtual-host style, region), and is cut short before
 * signing; the checksum headers are dropped, and one S3RequestPresigner signs
 * a copy per part. The URLs sign only `host`: curl needs no headers.
 *
 * A presigned URL is a bearer secret: none reaches a log or an error here.
 * URLs signed with temporary credentials (an instance or task role) stop
 * working when those credentials expire, whatever `expiresSeconds` says.
 *
 * Object metadata: the SHA-256 and compression are known only once the server
 * has read all its data, after CreateMultipartUpload has fixed the metadata;
 * setting them afterwards costs a copy of the whole object. So they live in
 * the manifest only.
 *
 * S3 errors become DATA_STORE_ERROR, retryable when S3 throttled, failed on
 * its side or did not answer (after the SDK's own retries, see backoff.ts).
 */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListPartsCommand,
  PutObjectCommand,
  UploadPartCommand,
  paginateListObjectsV2,
  type Part,
  type S3Client,
} from '@aws-sdk/client-s3';
import { S3RequestPresigner } from '@aws-sdk/s3-request-presigner';
import { DomainError, ErrorCodes } from '../../core/environment/errors.js';
import type { Clock } from '../../core/ports/clock.port.js';
import type {
  DataStorePort,
  GenerationManifest,
  KeptMark,
  PartManifest,
  PartRef,
  PartUpload,
  UploadedPart,
} from '../../core/ports/data-store.port.js';
import { awsErrorCode, awsHttpStatus, isThrottling } from './backoff.js';

const MiB = 1024 * 1024;
/** S3's limits on multipart uploads: every part but the last is 5 MiB to 5 GiB, at most 10,000 parts. */
const MIN_PART_BYTES = 5 * MiB;
const MAX_PART_BYTES = 5 * 1024 * MiB;
const MAX_PARTS = 10_000;
/** SigV4 presigned URLs live at most a week. */
const MAX_EXPIRES_SECONDS = 7 * 24 * 3600;
/** DeleteObjects takes at most 1000 keys a call. */
const DELETE_BATCH = 1000;
/** Manifests read at once by listGenerations. */
const READ_CONCURRENCY = 8;
/** Part numbers named in an error's message (the details carry up to 100). */
const NAMED_PARTS = 20;
const GENERATION_DIGITS = 6;
const MANIFEST = 'manifest.json';
const KEPT = 'kept.json';

export interface S3DataStoreDeps {
  s3: S3Client;
  bucket: string;
  /** Put before every key (`dormouse/` or ''); ends with `/` when not empty. */
  prefix?: string;
  /** Size of each multipart part the servers upload (default 64 MiB: 2000 parts hold 125 GiB). */
  partBytes?: number;
  /** UploadPart URLs handed out per part (default 2000). */
  maxParts?: number;
  clock: Clock;
}

/** A request as the SDK serialized it, before signing: what the presigner signs, one copy per URL. */
type UnsignedRequest = Parameters<S3RequestPresigner['presign']>[0];

interface RequestShape {
  request: UnsignedRequest;
  signingRegion: string | undefined;
  signingService: string | undefined;
}

export class S3DataStore implements DataStorePort {
  private readonly s3: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly partBytes: number;
  private readonly maxParts: number;
  private readonly clock: Clock;
  private presignerInstance: S3RequestPresigner | undefined;

  constructor(deps: S3DataStoreDeps) {
    const { prefix = '', partBytes = 64 * MiB, maxParts = 2000 } = deps;
    if (prefix !== '' && !prefix.endsWith('/')) throw new RangeError(`The data prefix must end with "/" (got "${prefix}").`);
    if (!Number.isInteger(partBytes) || partBytes < MIN_PART_BYTES || partBytes > MAX_PART_BYTES) {
      throw new RangeError(`partBytes must be between 5 MiB and 5 GiB (got ${partBytes}).`);
    }
    if (!Number.isInteger(maxParts) || maxParts < 1 || maxParts > MAX_PARTS) {
      throw new RangeError(`maxParts must be between 1 and ${MAX_PARTS} (got ${maxParts}).`);
    }
    this.s3 = deps.s3;
    this.bucket = deps.bucket;
    this.prefix = prefix;
    this.partBytes = partBytes;
    this.maxParts = maxParts;
    this.clock = deps.clock;
  }

  async beginUpload(ref: PartRef, options: { expiresSeconds: number; existingUploadId?: string }): Promise<PartUpload> {
    const { expiresSeconds } = options;
    if (!Number.isInteger(expiresSeconds) || expiresSeconds < 1 || expiresSeconds > MAX_EXPIRES_SECONDS) {
      throw new RangeError(`Presigned URLs last 1 s to 7 days (asked for ${expiresSeconds} s).`);
    }
    const key = this.archiveKey(ref);
    const facts = { bucket: this.bucket, key };

    let uploadId: string | undefined;
    if (options.existingUploadId !== undefined) {
      // Still open: continue it. Gone, but its archive is stored: it was completed by a run that then
      // lost its lease before recording it; the resumed run attaches to the command and completes it
      // again (completeUpload recognises that). Only an upload gone without its archive starts anew.
      if ((await this.uploadExists(key, options.existingUploadId)) || (await this.objectSize(key)) !== undefined) uploadId = options.existingUploadId;
    }
    if (uploadId === undefined) {
      const created = await this.call('CreateMultipartUpload', facts, () =>
        this.s3.send(
          new CreateMultipartUploadCommand({
            Bucket: this.bucket,
            Key: key,
            ContentType: 'application/octet-stream',
            ServerSideEncryption: 'AES256',
          }),
        ),
      );
      if (!created.UploadId) throw storeError('CreateMultipartUpload', facts, 'S3 answered without an upload id.');
      uploadId = created.UploadId;
    }

    // One signing time for every URL, so they all stop working together, when expiresAt says.
    const signingDate = this.clock.now();
    const expiresAt = new Date(signingDate.getTime() + expiresSeconds * 1000).toISOString();
    const urls = await this.presignParts(key, uploadId, { signingDate, expiresIn: expiresSeconds });
    const urlsKey = this.urlsKey(ref);
    await this.call('PutObject', { bucket: this.bucket, key: urlsKey }, () =>
      this.s3.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: urlsKey,
          Body: `${urls.join('\n')}\n`,
          ContentType: 'text/plain; charset=utf-8',
          ServerSideEncryption: 'AES256',
        }),
      ),
    );
    const partUrlsUrl = await this.presignGet(urlsKey, { signingDate, expiresIn: expiresSeconds });
    return { uploadId, key, partUrlsUrl, partBytes: this.partBytes, maxParts: this.maxParts, expiresAt };
  }

  async uploadedBytes(ref: PartRef, uploadId: string): Promise<number> {
    const key = this.archiveKey(ref);
    const parts = await this.listParts(key, uploadId);
    if (parts !== undefined) return parts.reduce((sum, p) => sum + (p.Size ?? 0), 0);
    // The upload is over: completed (its object holds everything), or aborted (nothing).
    return (await this.objectSize(key)) ?? 0;
  }

  async completeUpload(ref: PartRef, uploadId: string, reported: UploadedPart): Promise<PartManifest> {
    const key = this.archiveKey(ref);
    const facts = { bucket: this.bucket, key, uploadId, reportedBytes: reported.bytes, reportedParts: reported.parts };
    const parts = await this.listParts(key, uploadId);
    if (parts === undefined) return this.completedBefore(ref, key, reported, facts);

    checkParts(parts, reported, facts);
    try {
      await this.s3.send(
        new CompleteMultipartUploadCommand({
          Bucket: this.bucket,
          Key: key,
          UploadId: uploadId,
          MultipartUpload: { Parts: parts.map((p) => ({ PartNumber: p.PartNumber, ETag: p.ETag })) },
        }),
      );
    } catch (error) {
      // Completed by another replica between our ListParts and this call.
      if (awsErrorCode(error) === 'NoSuchUpload') return this.completedBefore(ref, key, reported, facts);
      throw translateError(error, 'CompleteMultipartUpload', facts);
    }
    return this.checkStored(ref, key, reported, facts);
  }

  async abortUpload(ref: PartRef, uploadId: string): Promise<void> {
    const key = this.archiveKey(ref);
    try {
      await this.s3.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId }));
    } catch (error) {
      if (awsErrorCode(error) !== 'NoSuchUpload') throw translateError(error, 'AbortMultipartUpload', { bucket: this.bucket, key, uploadId });
    }
    await this.deleteObject(this.urlsKey(ref));
  }

  async writeManifest(manifest: GenerationManifest): Promise<void> {
    const key = this.manifestKey(manifest.environmentId, manifest.generation);
    await this.call('PutObject', { bucket: this.bucket, key }, () =>
      this.s3.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Body: `${JSON.stringify(manifest, null, 2)}\n`,
          ContentType: 'application/json',
          ServerSideEncryption: 'AES256',
        }),
      ),
    );
  }

  async listGenerations(environmentId: string): Promise<GenerationManifest[]> {
    const { withManifest } = await this.inventory(environmentId);
    const numbers = [...withManifest].sort((a, b) => b - a);
    const manifests = await mapLimit(numbers, READ_CONCURRENCY, (n) => this.getGeneration(environmentId, n));
    return manifests.filter((m): m is GenerationManifest => m !== undefined);
  }

  async getGeneration(environmentId: string, generation: number): Promise<GenerationManifest | undefined> {
    return parseManifest(await this.readText(this.manifestKey(environmentId, generation)), environmentId, generation);
  }

  async downloadUrl(part: PartManifest, expiresSeconds: number): Promise<string> {
    if (!Number.isInteger(expiresSeconds) || expiresSeconds < 1 || expiresSeconds > MAX_EXPIRES_SECONDS) {
      throw new RangeError(`Presigned URLs last 1 s to 7 days (asked for ${expiresSeconds} s).`);
    }
    return this.presignGet(part.key, { signingDate: this.clock.now(), expiresIn: expiresSeconds });
  }

  async inspectPart(part: PartManifest): Promise<{ exists: false } | { exists: true; bytes: number }> {
    const bytes = await this.objectSize(part.key);
    if (bytes !== undefined) return { exists: true, bytes };
    // HeadObject answers a bare 404 for a missing bucket too (a HEAD has no body to say NoSuchBucket):
    // the bucket is asked once, so a wrong or deleted bucket is an error, not every part gone.
    await this.call('HeadBucket', { bucket: this.bucket, key: part.key }, () => this.s3.send(new HeadBucketCommand({ Bucket: this.bucket })));
    return { exists: false };
  }

  async removeLeftovers(environmentId: string, keep?: number): Promise<number> {
    const { keysByGeneration, withManifest } = await this.inventory(environmentId);
    const doomed: string[] = [];
    for (const [generation, keys] of keysByGeneration) {
      if (generation !== keep && !withManifest.has(generation)) doomed.push(...keys);
    }
    // Open uploads hold storage (and cost) without being objects; any outside `keep` is a save that will never finish.
    const uploads = (await this.listUploads(this.environmentPrefix(environmentId))).filter(
      (u) => generationOf(u.key.slice(this.environmentPrefix(environmentId).length)) !== keep,
    );
    await this.deleteKeys(doomed);
    await this.abortAll(uploads);
    return doomed.length + uploads.length;
  }

  async deleteGeneration(environmentId: string, generation: number): Promise<void> {
    // The manifest first: from this call on the generation does not exist, even if the rest fails half-way.
    await this.deleteObject(this.manifestKey(environmentId, generation));
    const prefix = this.generationPrefix(environmentId, generation);
    await this.abortAll(await this.listUploads(prefix));
    await this.deleteKeys(await this.listKeys(prefix));
  }

  async markKept(mark: KeptMark): Promise<void> {
    const key = `${this.environmentRoot(mark.environmentId)}${KEPT}`;
    await this.call('PutObject', { bucket: this.bucket, key }, () =>
      this.s3.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Body: `${JSON.stringify(mark, null, 2)}\n`,
          ContentType: 'application/json',
          ServerSideEncryption: 'AES256',
        }),
      ),
    );
  }

  async listKept(): Promise<KeptMark[]> {
    // One listing of every environment's objects, rather than a GET per environment that ever had data:
    // a page holds 1000 keys, and an environment has a handful (a few generations of a few parts).
    const root = `${this.prefix}environments/`;
    const marks = (await this.listKeys(root))
      .map((key) => ({ key, environmentId: key.slice(root.length).split('/')[0] ?? '' }))
      .filter(({ key, environmentId }) => key === `${root}${environmentId}/${KEPT}`);
    const read = await mapLimit(marks, READ_CONCURRENCY, async ({ key, environmentId }) => parseKept(await this.readText(key), environmentId));
    return read.filter((m): m is KeptMark => m !== undefined);
  }

  async purge(environmentId: string): Promise<number> {
    const root = this.environmentRoot(environmentId);
    const keys = await this.listKeys(root);
    const manifests = keys.filter((k) => k.endsWith(`/${MANIFEST}`));
    const mark = keys.filter((k) => k === `${root}${KEPT}`);
    const rest = keys.filter((k) => !manifests.includes(k) && !mark.includes(k));
    const uploads = await this.listUploads(root);
    // Manifests first: every generation stops existing at once. The mark last: until it goes, the
    // retention job finds the environment again and finishes a purge that stopped half-way.
    await this.deleteKeys(manifests);
    await this.abortAll(uploads);
    await this.deleteKeys(rest);
    await this.deleteKeys(mark);
    return keys.length + uploads.length;
  }

  // --- keys -----------------------------------------------------------------

  private environmentRoot(environmentId: string): string {
    // An id with a slash would reach into another environment's folder.
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(environmentId)) throw new RangeError(`Not an environment id: "${environmentId}".`);
    return `${this.prefix}environments/${environmentId}/`;
  }

  private environmentPrefix(environmentId: string): string {
    return `${this.environmentRoot(environmentId)}generations/`;
  }

  private generationPrefix(environmentId: string, generation: number): string {
    if (!Number.isInteger(generation) || generation < 0 || generation >= 10 ** GENERATION_DIGITS) {
      throw new RangeError(`Not a generation number: ${generation}.`);
    }
    return `${this.environmentPrefix(environmentId)}${String(generation).padStart(GENERATION_DIGITS, '0')}/`;
  }

  private partPrefix(ref: PartRef): string {
    if (!/^(server-(0|[1-9][0-9]*)|shared)$/.test(ref.part)) throw new RangeError(`Not a part name: "${ref.part}".`);
    return `${this.generationPrefix(ref.environmentId, ref.generation)}${ref.part}`;
  }

  private archiveKey(ref: PartRef): string {
    return `${this.partPrefix(ref)}.archive`;
  }

  private urlsKey(ref: PartRef): string {
    return `${this.partPrefix(ref)}.upload-urls`;
  }

  private manifestKey(environmentId: string, generation: number): string {
    return `${this.generationPrefix(environmentId, generation)}${MANIFEST}`;
  }

  // --- uploads --------------------------------------------------------------

  private async uploadExists(key: string, uploadId: string): Promise<boolean> {
    try {
      await this.s3.send(new ListPartsCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId, MaxParts: 1 }));
      return true;
    } catch (error) {
      if (awsErrorCode(error) === 'NoSuchUpload') return false;
      throw translateError(error, 'ListParts', { bucket: this.bucket, key, uploadId });
    }
  }

  /** Every part of an open upload, by part number; undefined when the upload is gone (completed or aborted). */
  private async listParts(key: string, uploadId: string): Promise<Part[] | undefined> {
    const parts: Part[] = [];
    let marker: string | undefined;
    // By hand, not paginateListParts: the SDK's paginator follows NextPartNumberMarker alone, which S3
    // and moto return on the last page too; moto then answers the empty page after it with marker 0,
    // back to the start, and the paginator never ends. IsTruncated is what says there is more.
    for (;;) {
      let page;
      try {
        page = await this.s3.send(new ListPartsCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId, PartNumberMarker: marker }));
      } catch (error) {
        if (awsErrorCode(error) === 'NoSuchUpload') return undefined;
        throw translateError(error, 'ListParts', { bucket: this.bucket, key, uploadId });
      }
      parts.push(...(page.Parts ?? []));
      const next = page.NextPartNumberMarker;
      if (!page.IsTruncated || !next || next === marker) break;
      marker = next;
    }
    return parts.sort((a, b) => (a.PartNumber ?? 0) - (b.PartNumber ?? 0));
  }

  /** The upload is gone: a resumed save whose upload was completed before. Its object must be there, with the size reported. */
  private async completedBefore(ref: PartRef, key: string, reported: UploadedPart, facts: Record<string, unknown>): Promise<PartManifest> {
    const size = await this.objectSize(key);
    if (size === undefined) {
      throw new DomainError(
        ErrorCodes.DATA_PART_MISSING,
        `The upload of ${ref.part} is gone and its archive is not stored: it was aborted or never started. Save again.`,
        { ...facts, reason: 'upload-gone' },
      );
    }
    return this.checkStored(ref, key, reported, facts, size);
  }

  private async checkStored(ref: PartRef, key: string, reported: UploadedPart, facts: Record<string, unknown>, knownSize?: number): Promise<PartManifest> {
    const size = knownSize ?? (await this.objectSize(key));
    if (size !== reported.bytes) {
      throw new DomainError(
        ErrorCodes.DATA_SIZE_MISMATCH,
        `The stored archive of ${ref.part} holds ${size ?? 0} bytes, not the ${reported.bytes} its server sent.`,
        { ...facts, storedBytes: size ?? 0 },
      );
    }
    await this.deleteObject(this.urlsKey(ref));
    return {
      part: ref.part,
      key,
      bytes: size,
      sha256: reported.sha256.toLowerCase(),
      compression: reported.compression,
      ...(reported.entries !== undefined ? { entries: reported.entries } : {}),
    };
  }

  private async objectSize(key: string): Promise<number | undefined> {
    try {
      const head = await this.s3.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return head.ContentLength ?? 0;
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw translateError(error, 'HeadObject', { bucket: this.bucket, key });
    }
  }

  private async listUploads(prefix: string): Promise<{ key: string; uploadId: string }[]> {
    const uploads: { key: string; uploadId: string }[] = [];
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    // No paginator in the SDK for this one: two markers, by hand.
    for (;;) {
      const page = await this.call('ListMultipartUploads', { bucket: this.bucket, prefix }, () =>
        this.s3.send(
          new ListMultipartUploadsCommand({ Bucket: this.bucket, Prefix: prefix, KeyMarker: keyMarker, UploadIdMarker: uploadIdMarker }),
        ),
      );
      for (const u of page.Uploads ?? []) {
        if (u.Key && u.UploadId && u.Key.startsWith(prefix)) uploads.push({ key: u.Key, uploadId: u.UploadId });
      }
      if (!page.IsTruncated || (!page.NextKeyMarker && !page.NextUploadIdMarker)) return uploads;
      keyMarker = page.NextKeyMarker;
      uploadIdMarker = page.NextUploadIdMarker;
    }
  }

  private async abortAll(uploads: readonly { key: string; uploadId: string }[]): Promise<void> {
    await mapLimit(uploads, READ_CONCURRENCY, async ({ key, uploadId }) => {
      try {
        await this.s3.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId }));
      } catch (error) {
        if (awsErrorCode(error) !== 'NoSuchUpload') throw translateError(error, 'AbortMultipartUpload', { bucket: this.bucket, key, uploadId });
      }
    });
  }

  // --- objects --------------------------------------------------------------

  /** An object's text, or undefined when there is no such object. */
  private async readText(key: string): Promise<string | undefined> {
    try {
      const object = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      return (await object.Body?.transformToString('utf-8')) ?? '';
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw translateError(error, 'GetObject', { bucket: this.bucket, key });
    }
  }

  private async listKeys(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    try {
      for await (const page of paginateListObjectsV2({ client: this.s3 }, { Bucket: this.bucket, Prefix: prefix })) {
        for (const o of page.Contents ?? []) if (o.Key) keys.push(o.Key);
      }
    } catch (error) {
      throw translateError(error, 'ListObjectsV2', { bucket: this.bucket, prefix });
    }
    return keys;
  }

  /** The environment's objects by generation number, and which generations have a manifest. */
  private async inventory(environmentId: string): Promise<{ keysByGeneration: Map<number, string[]>; withManifest: Set<number> }> {
    const prefix = this.environmentPrefix(environmentId);
    const keysByGeneration = new Map<number, string[]>();
    const withManifest = new Set<number>();
    for (const key of await this.listKeys(prefix)) {
      const rest = key.slice(prefix.length);
      const generation = generationOf(rest);
      if (generation === undefined) continue; // not in our layout: not ours to judge, nor to delete
      const keys = keysByGeneration.get(generation) ?? [];
      keys.push(key);
      keysByGeneration.set(generation, keys);
      if (rest.slice(GENERATION_DIGITS + 1) === MANIFEST) withManifest.add(generation);
    }
    return { keysByGeneration, withManifest };
  }

  private async deleteObject(key: string): Promise<void> {
    await this.call('DeleteObject', { bucket: this.bucket, key }, () => this.s3.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key })));
  }

  private async deleteKeys(keys: readonly string[]): Promise<void> {
    for (let i = 0; i < keys.length; i += DELETE_BATCH) {
      const batch = keys.slice(i, i + DELETE_BATCH);
      const facts = { bucket: this.bucket, keys: batch.length, firstKey: batch[0] };
      const result = await this.call('DeleteObjects', facts, () =>
        this.s3.send(
          new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } }),
        ),
      );
      // DeleteObjects succeeds as a call even when some keys fail: each failure is in Errors.
      const failed = result.Errors ?? [];
      if (failed.length > 0) {
        const first = failed[0];
        throw new DomainError(
          ErrorCodes.DATA_STORE_ERROR,
          `S3 did not delete ${failed.length} of ${batch.length} objects (${first?.Code ?? 'Unknown'}). Retry in a few minutes; if it persists, ask ops.`,
          { ...facts, failed: failed.length, awsCode: first?.Code, failedKey: first?.Key },
          first?.Code === 'SlowDown' || first?.Code === 'InternalError',
        );
      }
    }
  }

  // --- presigning -----------------------------------------------------------

  private presigner(): S3RequestPresigner {
    this.presignerInstance ??= new S3RequestPresigner({ ...this.s3.config });
    return this.presignerInstance;
  }

  /** UploadPart URLs for parts 1..maxParts: one serialization, then a signature per part. */
  private async presignParts(key: string, uploadId: string, options: { signingDate: Date; expiresIn: number }): Promise<string[]> {
    const shape = await this.requestShape(new UploadPartCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId, PartNumber: 1 }));
    const urls: string[] = [];
    for (let n = 1; n <= this.maxParts; n += 1) {
      urls.push(await this.sign(shape, { partNumber: String(n) }, options));
    }
    return urls;
  }

  private async presignGet(key: string, options: { signingDate: Date; expiresIn: number }): Promise<string> {
    const shape = await this.requestShape(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
    return this.sign(shape, {}, options);
  }

  private async sign(shape: RequestShape, query: Record<string, string>, options: { signingDate: Date; expiresIn: number }): Promise<string> {
    const { request } = shape;
    // The presigner writes into headers and query: each URL gets its own copy.
    const copy: UnsignedRequest = { ...request, headers: { ...request.headers }, query: { ...request.query, ...query } };
    const signed = await this.presigner().presign(copy, {
      ...options,
      ...(shape.signingRegion ? { signingRegion: shape.signingRegion } : {}),
      ...(shape.signingService ? { signingService: shape.signingService } : {}),
    });
    return formatUrl(signed);
  }

  /**
   * Runs a command through the client's middleware stack up to signing and
   * keeps the request it built: the endpoint, the path and the region, as the
   * client's own settings (endpoint, path style, FIPS, dual-stack) make them.
   * Headers that would end up in the URL but must not: the SDK's per-call
   * ids, and checksums computed for an empty body.
   */
  private async requestShape(command: UploadPartCommand | GetObjectCommand): Promise<RequestShape> {
    let shape: RequestShape | undefined;
    const stack = this.s3.middlewareStack.clone();
    stack.addRelativeTo(
      (_next: unknown, context: Record<string, unknown>) => async (args: { request: unknown }) => {
        const request = args.request as UnsignedRequest;
        const headers: Record<string, string> = {};
        for (const [name, value] of Object.entries(request.headers)) {
          const lower = name.toLowerCase();
          if (lower.startsWith('x-amz-checksum-') || lower.startsWith('x-amz-sdk-checksum-')) continue;
          if (lower.startsWith('amz-sdk-') || lower === 'x-amz-user-agent' || lower === 'user-agent') continue;
          headers[name] = value;
        }
        const endpoint = context.endpointV2 as { properties?: { authSchemes?: { signingRegion?: string; signingName?: string }[] } } | undefined;
        const scheme = endpoint?.properties?.authSchemes?.[0];
        shape = {
          request: { ...request, headers },
          signingRegion: scheme?.signingRegion ?? (context.signing_region as string | undefined),
          signingService: scheme?.signingName ?? (context.signing_service as string | undefined),
        };
        return { output: { $metadata: {} }, response: {} };
      },
      { name: 'dormouseCaptureRequest', relation: 'before', toMiddleware: 'awsAuthMiddleware', override: true },
    );
    const handler = command.resolveMiddleware(stack as never, this.s3.config, {});
    try {
      await handler({ input: command.input } as never);
    } catch (error) {
      throw translateError(error, 'Presign', { bucket: this.bucket });
    }
    if (!shape) throw storeError('Presign', { bucket: this.bucket }, 'The S3 client built no request to sign.');
    return shape;
  }

  private async call<T>(operation: string, facts: Record<string, unknown>, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      throw translateError(error, operation, facts);
    }
  }
}

/** Parts 1..reported.parts, each there once, and their sizes adding up to what the server sent. */
function checkParts(parts: readonly Part[], reported: UploadedPart, facts: Record<string, unknown>): void {
  const expected = Math.max(1, reported.parts);
  const present = new Set(parts.map((p) => p.PartNumber ?? 0));
  const missing: number[] = [];
  for (let n = 1; n <= expected; n += 1) if (!present.has(n)) missing.push(n);
  if (missing.length > 0) {
    const named = missing.slice(0, NAMED_PARTS).join(', ') + (missing.length > NAMED_PARTS ? ` and ${missing.length - NAMED_PARTS} more` : '');
    throw new DomainError(
      ErrorCodes.DATA_PART_MISSING,
      `The upload is missing part${missing.length > 1 ? 's' : ''} ${named} of ${expected}: the server did not send all its data. Save again.`,
      { ...facts, missingParts: missing.slice(0, 100), missingCount: missing.length, storedParts: parts.length },
    );
  }
  const extra = parts.filter((p) => (p.PartNumber ?? 0) > expected).map((p) => p.PartNumber ?? 0);
  const stored = parts.reduce((sum, p) => sum + (p.Size ?? 0), 0);
  if (extra.length > 0 || stored !== reported.bytes) {
    throw new DomainError(
      ErrorCodes.DATA_SIZE_MISMATCH,
      `The upload holds ${stored} bytes in ${parts.length} parts; its server reported ${reported.bytes} bytes in ${expected}.`,
      { ...facts, storedBytes: stored, storedParts: parts.length, extraParts: extra.slice(0, 100) },
    );
  }
}

/** The generation number a key below the environment's generations prefix starts with (`000042/…`). */
function generationOf(rest: string): number | undefined {
  const match = /^(\d{6})\//.exec(rest);
  return match ? Number(match[1]) : undefined;
}

/** A manifest of format 1 for this environment and generation, or undefined: anything else is not a generation. */
function parseManifest(text: string | undefined, environmentId: string, generation: number): GenerationManifest | undefined {
  const value = parseObject(text);
  if (value === undefined) return undefined;
  const m = value as Partial<Record<keyof GenerationManifest, unknown>>;
  const ok =
    m.format === 1 &&
    m.environmentId === environmentId &&
    m.generation === generation &&
    typeof m.environment === 'string' &&
    typeof m.createdAt === 'string' &&
    typeof m.bytes === 'number' &&
    Array.isArray(m.parts) &&
    m.parts.every(isPartManifest);
  return ok ? (value as GenerationManifest) : undefined;
}

/** A kept mark of this environment, or undefined. */
function parseKept(text: string | undefined, environmentId: string): KeptMark | undefined {
  const value = parseObject(text);
  if (value === undefined) return undefined;
  const k = value as Partial<Record<keyof KeptMark, unknown>>;
  const ok =
    k.environmentId === environmentId &&
    typeof k.environment === 'string' &&
    typeof k.destroyedAt === 'string' &&
    typeof k.keepUntil === 'string' &&
    Number.isInteger(k.generation);
  return ok ? (value as KeptMark) : undefined;
}

function parseObject(text: string | undefined): object | undefined {
  if (text === undefined) return undefined;
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

function isPartManifest(value: unknown): value is PartManifest {
  if (typeof value !== 'object' || value === null) return false;
  const p = value as Partial<Record<keyof PartManifest, unknown>>;
  return (
    typeof p.part === 'string' &&
    typeof p.key === 'string' &&
    typeof p.bytes === 'number' &&
    typeof p.sha256 === 'string' &&
    (p.compression === 'zstd' || p.compression === 'gzip')
  );
}

function isNotFound(error: unknown): boolean {
  const code = awsErrorCode(error);
  return code === 'NoSuchKey' || code === 'NotFound' || (code === undefined && awsHttpStatus(error) === 404);
}

/** RFC 3986, as SigV4 encodes query values. */
function escapeUri(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function formatUrl(request: UnsignedRequest): string {
  const query = Object.entries(request.query ?? {})
    .flatMap(([name, value]) => {
      const values = Array.isArray(value) ? value : [value];
      return values.map((v) => (v === null || v === undefined ? escapeUri(name) : `${escapeUri(name)}=${escapeUri(v)}`));
    })
    .sort()
    .join('&');
  const port = request.port ? `:${request.port}` : '';
  const protocol = request.protocol.endsWith(':') ? request.protocol : `${request.protocol}:`;
  return `${protocol}//${request.hostname}${port}${request.path}${query ? `?${query}` : ''}`;
}

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next;
      next += 1;
      results[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

function storeError(operation: string, facts: Record<string, unknown>, what: string): DomainError {
  return new DomainError(ErrorCodes.DATA_STORE_ERROR, `An S3 call failed (${operation}): ${what} Retry in a few minutes; if it persists, ask ops.`, {
    operation,
    ...facts,
  });
}

const NETWORK_ERRORS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'ENOTFOUND', 'TimeoutError', 'RequestTimeout']);

function isNetworkError(error: unknown): boolean {
  const { code, name } = (error ?? {}) as { code?: unknown; name?: unknown };
  return NETWORK_ERRORS.has(String(code)) || NETWORK_ERRORS.has(String(name));
}

/** The one place where S3 errors of this adapter become domain errors. */
function translateError(error: unknown, operation: string, facts: Record<string, unknown>): DomainError {
  if (error instanceof DomainError) return error;
  const code = awsErrorCode(error) ?? 'Unknown';
  const status = awsHttpStatus(error);
  const details = { operation, awsCode: code, httpStatus: status, awsMessage: error instanceof Error ? error.message : String(error), ...facts };
  // Throttled, failed on S3's side, or no answer at all (a reset, a timeout): the same call may work later.
  const retryable =
    isThrottling(error) ||
    (status ?? 0) >= 500 ||
    (error as { $fault?: string } | null)?.$fault === 'server' ||
    (error as { $retryable?: unknown } | null)?.$retryable !== undefined ||
    (status === undefined && isNetworkError(error));
  return new DomainError(
    ErrorCodes.DATA_STORE_ERROR,
    `An S3 call failed (${operation}: ${code}). Retry in a few minutes; if it persists, ask ops.`,
    details,
    retryable,
    { cause: error },
  );
}
