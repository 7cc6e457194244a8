/**
 * The sandbox's S3: s3rver (`@20minutes/s3rver`) in this process, on a
 * loopback port, holding its objects as files under `dataDir` (so they
 * outlive a restart), used through the same S3DataStore as production.
 * Credentials are s3rver's built-in pair (S3RVER / S3RVER), and it checks
 * SigV4 signatures, presigned URLs included.
 *
 * s3rver lacks what a data store needs of multipart uploads, and is laxer
 * than S3 about who may call. So a middleware of ours runs before its router:
 *   - ListParts, ListMultipartUploads and AbortMultipartUpload, which s3rver
 *     answers with 405 / 501, are served from its own upload folders;
 *   - UploadPart and CompleteMultipartUpload of an upload that does not exist
 *     fail with NoSuchUpload (s3rver would store a stray part, or fail with a
 *     500), and a completion is checked as S3 checks it: parts in order, each
 *     with its ETag, every part but the last at least 5 MiB; the object's
 *     ETag is then S3's multipart form (`"<md5 of the parts' md5s>-<count>"`);
 *   - bucket requests signed as `/bucket/` (as the SDK sends them) pass: s3rver
 *     checks them as `/bucket` and refuses ListObjectsV2 and DeleteObjects;
 *   - a request with no signature at all is refused (403 AccessDenied): s3rver
 *     serves anonymous requests, S3 does not for a private bucket, and a
 *     stripped presigned URL must not work in the sandbox when it would not in
 *     production.
 * Every request is signature-checked here with s3rver's own code first (see
 * the middleware for why).
 *
 * s3rver is loaded on the first start only: the rest of the app never pays for it.
 */
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { IncomingMessage, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';

export interface EmbeddedS3Options {
  /** Folder for the objects and the unfinished uploads (created if needed). */
  dataDir: string;
  /** The bucket to make (kept if it is there already). */
  bucket: string;
  /** Port to listen on (default: a free one). */
  port?: number;
  /** Interface to listen on (loopback by default). */
  host?: string;
  /**
   * Most parts or uploads one ListParts or ListMultipartUploads page holds
   * (default 1000, as S3). Tests make it small to page through a few.
   */
  pageSize?: number;
}

export interface EmbeddedS3 {
  /** `http://127.0.0.1:<port>`: give it to the S3 client as `endpoint`, with `forcePathStyle: true`. */
  endpoint: string;
  bucket: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  /** Stops listening (cutting open connections). Safe to call twice. */
  close(): Promise<void>;
}

/** s3rver's built-in account. */
const CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;
const MIN_PART_BYTES = 5 * 1024 * 1024;
const MAX_PART_NUMBER = 10_000;
const S3_PAGE = 1000;
/** s3rver names its upload ids with 16 random bytes in hex; anything else is not one (nor a path to follow). */
const UPLOAD_ID = /^[0-9a-f]{32}$/;
/** Bigger than any CompleteMultipartUpload body of 10,000 parts. */
const MAX_COMPLETE_BODY = 2 * 1024 * 1024;

// --- the little of s3rver's API used here (it ships no types) ----------------

interface KoaContext {
  method: string;
  path: string;
  href: string;
  query: Record<string, string | string[] | undefined>;
  headers: Record<string, string | string[] | undefined>;
  params?: Record<string, string | undefined>;
  state: Record<string, unknown>;
  req: IncomingMessage;
  status: number;
  body: unknown;
  etag: string;
}
type Middleware = (ctx: KoaContext, next: () => Promise<void>) => Promise<void>;

interface FilesystemStore {
  getResourcePath(bucket: string, key: string | undefined, resource: string): string;
  putObjectMultipart(bucket: string, uploadId: string, parts: { number: number; etag: string }[]): Promise<{ md5: string; size: number }>;
}

interface S3rverApp {
  store: FilesystemStore;
  /** Koa's middleware list; composed when the server starts listening. */
  middleware: Middleware[];
  run(): Promise<AddressInfo>;
  httpServer?: Server;
}

interface S3rverModules {
  S3rver: new (options: Record<string, unknown>) => S3rverApp;
  authentication: () => Middleware;
  S3Error: new (code: string, message?: string, detail?: Record<string, unknown>) => Error;
}

let modules: S3rverModules | undefined;

function loadS3rver(): S3rverModules {
  if (!modules) {
    const require = createRequire(import.meta.url);
    modules = {
      S3rver: require('@20minutes/s3rver') as S3rverModules['S3rver'],
      authentication: require('@20minutes/s3rver/lib/middleware/authentication.js') as S3rverModules['authentication'],
      S3Error: require('@20minutes/s3rver/lib/models/error.js') as S3rverModules['S3Error'],
    };
  }
  return modules;
}

export async function startEmbeddedS3(options: EmbeddedS3Options): Promise<EmbeddedS3> {
  const host = options.host ?? '127.0.0.1';
  const directory = resolve(options.dataDir);
  await mkdir(directory, { recursive: true });
  const { S3rver } = loadS3rver();
  const app = new S3rver({
    address: host,
    port: options.port ?? 0,
    silent: true,
    directory,
    // Path-style only: a host name must never be read as a bucket.
    vhostBuckets: false,
    configureBuckets: [{ name: options.bucket, configs: [] }],
  });
  // Before the router (the last middleware), after the XML encoding of bodies (the second).
  app.middleware.splice(app.middleware.length - 1, 0, multipartExtras(app.store, options.pageSize ?? S3_PAGE));

  let address: AddressInfo;
  try {
    address = await app.run();
  } catch (e) {
    throw new Error(`The embedded S3 could not listen on ${host}:${options.port ?? 0}: ${(e as Error).message}`, { cause: e });
  }
  const urlHost = host.includes(':') ? `[${host}]` : host;
  let closing: Promise<void> | undefined;
  return {
    endpoint: `http://${urlHost}:${address.port}`,
    bucket: options.bucket,
    credentials: { ...CREDENTIALS },
    close: () =>
      (closing ??= new Promise<void>((resolveClose, reject) => {
        const server = app.httpServer;
        if (!server) return resolveClose();
        server.close((err) => (err ? reject(err) : resolveClose()));
        // The SDK keeps connections alive; without this close() would wait for them.
        server.closeAllConnections();
      })),
  };
}

// --- what s3rver lacks --------------------------------------------------------

function multipartExtras(store: FilesystemStore, pageSize: number): Middleware {
  const { authentication, S3Error } = loadS3rver();
  const authenticate = authentication();
  const noSuchUpload = (uploadId: string) =>
    new S3Error('NoSuchUpload', 'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.', {
      UploadId: uploadId,
    });

  const uploadsDir = (bucket: string) => store.getResourcePath(bucket, undefined, 'uploads');

  /** The folder of an upload of this key, or a NoSuchUpload. */
  const uploadDir = async (bucket: string, key: string, uploadId: string): Promise<string> => {
    if (!UPLOAD_ID.test(uploadId)) throw noSuchUpload(uploadId);
    const dir = join(uploadsDir(bucket), uploadId);
    const storedKey = await readFile(join(dir, 'key'), 'utf8').catch(() => undefined);
    if (storedKey !== key) throw noSuchUpload(uploadId);
    return dir;
  };

  /** The part numbers an upload holds, in order. */
  const partNumbers = async (dir: string): Promise<number[]> =>
    (await readdir(dir))
      .filter((n) => /^\d+$/.test(n))
      .map(Number)
      .sort((a, b) => a - b);

  const partInfo = async (dir: string, n: number) => {
    const [info, md5] = await Promise.all([stat(join(dir, String(n))), readFile(join(dir, `${n}.md5`), 'utf8')]);
    return { number: n, size: info.size, md5: md5.trim(), modified: info.mtime };
  };

  const listParts = async (ctx: KoaContext, bucket: string, key: string, uploadId: string) => {
    const dir = await uploadDir(bucket, key, uploadId);
    const marker = count(one(ctx.query['part-number-marker']), 0);
    const max = Math.min(pageSize, count(one(ctx.query['max-parts']), pageSize));
    const after = (await partNumbers(dir)).filter((n) => n > marker);
    const page = await Promise.all(after.slice(0, max).map((n) => partInfo(dir, n)));
    const truncated = after.length > page.length;
    ctx.body = {
      ListPartsResult: {
        Bucket: bucket,
        Key: key,
        UploadId: uploadId,
        PartNumberMarker: marker,
        ...(truncated ? { NextPartNumberMarker: page[page.length - 1]?.number ?? marker } : {}),
        MaxParts: max,
        IsTruncated: truncated,
        StorageClass: 'STANDARD',
        Part: page.map((p) => ({ PartNumber: p.number, LastModified: p.modified.toISOString(), ETag: `"${p.md5}"`, Size: p.size })),
      },
    };
  };

  const listUploads = async (ctx: KoaContext, bucket: string) => {
    const prefix = one(ctx.query.prefix) ?? '';
    const keyMarker = one(ctx.query['key-marker']) ?? '';
    const idMarker = one(ctx.query['upload-id-marker']) ?? '';
    const max = Math.min(pageSize, count(one(ctx.query['max-uploads']), pageSize));
    const ids = await readdir(uploadsDir(bucket)).catch(() => [] as string[]);
    const uploads = (
      await Promise.all(
        ids.map(async (id) => {
          const key = await readFile(join(uploadsDir(bucket), id, 'key'), 'utf8').catch(() => undefined);
          if (key === undefined || !UPLOAD_ID.test(id)) return undefined;
          const info = await stat(join(uploadsDir(bucket), id));
          return { key, id, initiated: info.birthtime };
        }),
      )
    )
      .filter((u): u is { key: string; id: string; initiated: Date } => u !== undefined && u.key.startsWith(prefix))
      .filter((u) => u.key > keyMarker || (idMarker !== '' && u.key === keyMarker && u.id > idMarker))
      .sort((a, b) => (a.key === b.key ? cmp(a.id, b.id) : cmp(a.key, b.key)));
    const page = uploads.slice(0, max);
    const truncated = uploads.length > page.length;
    const last = page[page.length - 1];
    ctx.body = {
      ListMultipartUploadsResult: {
        Bucket: bucket,
        KeyMarker: keyMarker,
        UploadIdMarker: idMarker,
        ...(truncated && last ? { NextKeyMarker: last.key, NextUploadIdMarker: last.id } : {}),
        Prefix: prefix,
        MaxUploads: max,
        IsTruncated: truncated,
        Upload: page.map((u) => ({ Key: u.key, UploadId: u.id, Initiated: u.initiated.toISOString(), StorageClass: 'STANDARD' })),
      },
    };
  };

  const complete = async (ctx: KoaContext, bucket: string, key: string, uploadId: string) => {
    const dir = await uploadDir(bucket, key, uploadId);
    const requested = parseCompleteBody(await readBody(ctx.req, MAX_COMPLETE_BODY, () => new S3Error('MaxMessageLengthExceeded', 'Your request was too big.')));
    if (requested.length === 0) throw new S3Error('MalformedXML', 'The XML you provided was not well-formed or did not validate against our published schema.');
    const present = new Set(await partNumbers(dir));
    const md5s: Buffer[] = [];
    for (const [i, part] of requested.entries()) {
      if (i > 0 && part.number <= (requested[i - 1]?.number ?? 0)) {
        throw new S3Error('InvalidPartOrder', 'The list of parts was not in ascending order. Parts must be ordered by part number.', { UploadId: uploadId });
      }
      const have = present.has(part.number) ? await partInfo(dir, part.number) : undefined;
      if (!have || have.md5 !== part.etag) {
        throw new S3Error('InvalidPart', 'One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part\'s entity tag.', {
          UploadId: uploadId,
          PartNumber: part.number,
        });
      }
      if (i < requested.length - 1 && have.size < MIN_PART_BYTES) {
        throw new S3Error('EntityTooSmall', 'Your proposed upload is smaller than the minimum allowed object size.', {
          PartNumber: part.number,
          ProposedSize: have.size,
          MinSizeAllowed: MIN_PART_BYTES,
        });
      }
      md5s.push(Buffer.from(have.md5, 'hex'));
    }
    await store.putObjectMultipart(bucket, uploadId, requested);
    // S3's multipart ETag, where s3rver would keep the MD5 of the whole object.
    const etag = `${createHash('md5').update(Buffer.concat(md5s)).digest('hex')}-${requested.length}`;
    await writeFileAtomic(store.getResourcePath(bucket, key, 'object.md5'), etag);
    ctx.body = { CompleteMultipartUploadResult: { Location: ctx.href.split('?')[0], Bucket: bucket, Key: key, ETag: `"${etag}"` } };
  };

  return async function multipartExtrasMiddleware(ctx, next) {
    if (ctx.method === 'OPTIONS') return next();
    const signed = 'authorization' in ctx.headers || 'X-Amz-Algorithm' in ctx.query || 'Signature' in ctx.query;
    if (!signed) throw new S3Error('AccessDenied', 'Access Denied');

    const [bucket, key] = splitPath(ctx.path);
    // The SDK sends (and signs) bucket requests as `/bucket/`; s3rver checks
    // them as `/bucket`, so it refuses ListObjectsV2 and DeleteObjects. The
    // check here signs what was sent; the account it finds lets s3rver's own
    // check pass.
    ctx.params = { bucket: bucket !== undefined && key === undefined && ctx.path.endsWith('/') ? `${bucket}/` : bucket, key };
    await authenticate(ctx, async () => {});
    ctx.params = undefined;

    if (!bucket) return next();
    const uploadId = one(ctx.query.uploadId);
    if (key === undefined && 'uploads' in ctx.query && ctx.method === 'GET') return listUploads(ctx, bucket);
    if (key === undefined || uploadId === undefined) return next();
    switch (ctx.method) {
      case 'GET':
        return listParts(ctx, bucket, key, uploadId);
      case 'DELETE':
        await rm(await uploadDir(bucket, key, uploadId), { recursive: true, force: true });
        ctx.status = 204;
        ctx.body = '';
        return;
      case 'POST':
        return complete(ctx, bucket, key, uploadId);
      case 'PUT': {
        const partNumber = Number(one(ctx.query.partNumber));
        if (!Number.isInteger(partNumber) || partNumber < 1 || partNumber > MAX_PART_NUMBER) {
          throw new S3Error('InvalidArgument', `Part number must be an integer between 1 and ${MAX_PART_NUMBER}, inclusive`, {
            ArgumentName: 'partNumber',
            ArgumentValue: one(ctx.query.partNumber) ?? '',
          });
        }
        await uploadDir(bucket, key, uploadId);
        return next();
      }
      default:
        return next();
    }
  };
}

function one(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** A count from the query (a page size, a part number marker), or the fallback when absent or not one. */
function count(value: string | undefined, fallback: number): number {
  const n = Number(value);
  return value !== undefined && Number.isInteger(n) && n >= 0 ? n : fallback;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** `/bucket/some/key` → [bucket, 'some/key'] (decoded); [bucket, undefined] for the bucket itself. */
function splitPath(path: string): [string | undefined, string | undefined] {
  const match = /^\/([^/]+)(?:\/(.*))?$/.exec(path);
  if (!match?.[1]) return [undefined, undefined];
  return [decodeURIComponent(match[1]), match[2] ? decodeURIComponent(match[2]) : undefined];
}

/** The parts a CompleteMultipartUpload body lists, in its order (ETags without their quotes). */
function parseCompleteBody(xml: string): { number: number; etag: string }[] {
  const parts: { number: number; etag: string }[] = [];
  for (const [, inner = ''] of xml.matchAll(/<Part>([\s\S]*?)<\/Part>/g)) {
    const number = Number(/<PartNumber>\s*(\d+)\s*<\/PartNumber>/.exec(inner)?.[1]);
    const etag = (/<ETag>([\s\S]*?)<\/ETag>/.exec(inner)?.[1] ?? '').replace(/&quot;|&#34;|"/g, '').trim();
    parts.push({ number, etag });
  }
  return parts;
}

async function readBody(req: IncomingMessage, limit: number, tooLarge: () => Error): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > limit) throw tooLarge();
    chunks.push(buf);
  }
  return Buffer.concat(chunks).toString('utf8');
}

async function writeFileAtomic(path: string, content: string): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, content);
  await rename(tmp, path);
}
