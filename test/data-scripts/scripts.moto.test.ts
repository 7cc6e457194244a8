/**
 * save.sh and restore.sh, run for real with bash. The test plays the bot and
 * the server: it starts a multipart upload, hands the script presigned URLs
 * (nothing else: no credentials), completes the upload, restores into a
 * fresh folder, and compares the trees byte for byte and mode for mode.
 *
 * Stores: moto's S3 (the run's moto_server) for most cases; an embedded
 * s3rver (on disk, checks signatures) for a refused upload and for the 1 GB
 * file (moto keeps every part and the completed object in memory); a small
 * scripted HTTP store for what neither produces (a transient failure, a
 * wrong ETag, a connection cut in the middle of a download).
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import {
  chmod,
  link,
  lstat,
  mkdir,
  mkdtemp,
  readFile,
  readdir,
  readlink,
  rm,
  symlink,
  utimes,
  writeFile,
} from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  ListPartsCommand,
  type CompletedPart,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parseRestoreReport, parseSaveReport, type SaveReport } from '../../src/data-scripts/index.js';
import { TEST_REGION, uniqueName } from '../support/aws.js';

const SAVE = fileURLToPath(new URL('../../src/data-scripts/save.sh', import.meta.url));
const RESTORE = fileURLToPath(new URL('../../src/data-scripts/restore.sh', import.meta.url));
const KiB = 1024;
const MiB = 1024 * KiB;
/** moto refuses to complete an upload with a part (but the last) under 5 MiB, as S3 does. */
const PART_BYTES = 5 * MiB;

// ---- running a script ---------------------------------------------------------------

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a script with bash and nothing in its environment but PATH, HOME, LANG and its inputs. */
function runScript(script: string, inputs: Record<string, string>, path = process.env.PATH ?? '/usr/bin:/bin'): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [script], {
      env: { PATH: path, HOME: process.env.HOME ?? '/tmp', LANG: 'C.UTF-8', ...inputs },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

function sh(command: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', command], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

// ---- the store, as the bot drives it ------------------------------------------------------

interface S3rverInstance {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
}
type S3rverConstructor = new (options: Record<string, unknown>) => S3rverInstance;
const S3rver = createRequire(import.meta.url)('@20minutes/s3rver') as S3rverConstructor;

/** s3rver signs CreateBucket's path without the SDK's trailing slash (SignatureDoesNotMatch): the bucket is made at start. */
async function startS3rver(directory: string, bucket: string): Promise<{ url: string; close: () => Promise<void> }> {
  const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory, vhostBuckets: false, configureBuckets: [{ name: bucket }] });
  const address = await server.run();
  return { url: `http://127.0.0.1:${address.port}`, close: () => server.close() };
}

class Store {
  private constructor(
    readonly s3: S3Client,
    readonly bucket: string,
    /** s3rver keeps parts on disk and has no ListParts: their MD5s are read from there. */
    private readonly s3rverDir?: string,
  ) {}

  static async moto(): Promise<Store> {
    const s3 = Store.client(inject('motoUrl'), { accessKeyId: 'testing', secretAccessKey: 'testing' });
    const bucket = uniqueName('data').toLowerCase();
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    return new Store(s3, bucket);
  }

  static s3rver(url: string, bucket: string, directory: string): Store {
    return new Store(Store.client(url, { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' }), bucket, directory);
  }

  private static client(endpoint: string, credentials: { accessKeyId: string; secretAccessKey: string }): S3Client {
    // WHEN_REQUIRED: no CRC32 of an empty body baked into the presigned UploadPart URLs.
    return new S3Client({ region: TEST_REGION, endpoint, credentials, forcePathStyle: true, requestChecksumCalculation: 'WHEN_REQUIRED' });
  }

  /** CreateMultipartUpload, presigned UploadPart URLs 1..maxParts in an object, and a presigned GET of it. */
  async beginUpload(key: string, maxParts: number, tamper?: (n: number, url: string) => string) {
    const { UploadId } = await this.s3.send(new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: key }));
    const uploadId = UploadId!;
    const urls: string[] = [];
    for (let n = 1; n <= maxParts; n += 1) {
      const url = await getSignedUrl(this.s3, new UploadPartCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId, PartNumber: n }), { expiresIn: 3600 });
      urls.push(tamper ? tamper(n, url) : url);
    }
    const listKey = `${key}.upload-urls`;
    await this.s3.send(new PutObjectCommand({ Bucket: this.bucket, Key: listKey, Body: `${urls.join('\n')}\n` }));
    return { uploadId, partUrlsUrl: await this.getUrl(listKey) };
  }

  async complete(key: string, uploadId: string, parts: number): Promise<void> {
    const completed: CompletedPart[] = [];
    if (this.s3rverDir) {
      const dir = await findDir(this.s3rverDir, uploadId);
      for (let n = 1; n <= parts; n += 1) {
        completed.push({ PartNumber: n, ETag: JSON.stringify((await readFile(join(dir, `${n}.md5`), 'utf8')).trim()) });
      }
    } else {
      // IsTruncated decides, not the paginator: moto answers a NextPartNumberMarker on the last page too.
      let marker: string | undefined;
      for (;;) {
        const page = await this.s3.send(new ListPartsCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId, PartNumberMarker: marker }));
        for (const p of page.Parts ?? []) completed.push({ PartNumber: p.PartNumber!, ETag: p.ETag! });
        if (!page.IsTruncated) break;
        marker = page.NextPartNumberMarker;
      }
      expect(completed.map((p) => p.PartNumber)).toEqual(Array.from({ length: parts }, (_, i) => i + 1));
    }
    await this.s3.send(new CompleteMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId, MultipartUpload: { Parts: completed } }));
  }

  getUrl(key: string): Promise<string> {
    return getSignedUrl(this.s3, new GetObjectCommand({ Bucket: this.bucket, Key: key }), { expiresIn: 3600 });
  }

  async size(key: string): Promise<number> {
    return (await this.s3.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }))).ContentLength!;
  }

  /** SHA-256 and first bytes of the stored object, read by the SDK (not by the scripts). */
  async digest(key: string): Promise<{ sha256: string; head: Buffer }> {
    const out = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
    const hash = createHash('sha256');
    let head: Buffer | undefined;
    for await (const chunk of out.Body as AsyncIterable<Buffer>) {
      head ??= Buffer.from(chunk.subarray(0, 4));
      hash.update(chunk);
    }
    return { sha256: hash.digest('hex'), head: head ?? Buffer.alloc(0) };
  }
}

async function findDir(root: string, name: string): Promise<string> {
  for (const entry of await readdir(root, { withFileTypes: true, recursive: true })) {
    if (entry.isDirectory() && entry.name === name) return join(entry.parentPath, entry.name);
  }
  throw new Error(`no folder ${name} under ${root}`);
}

interface SaveOptions {
  paths?: string[];
  partBytes?: number;
  maxParts?: number;
  compression?: string;
  path?: string;
  tamper?: (n: number, url: string) => string;
}

/** Begins an upload, runs save.sh, and completes the upload when it succeeded. */
async function save(store: Store, dataDir: string, scratch: string, options: SaveOptions = {}) {
  const key = `${uniqueName('server')}.archive`;
  const maxParts = options.maxParts ?? 50;
  const { uploadId, partUrlsUrl } = await store.beginUpload(key, maxParts, options.tamper);
  const run = await runScript(
    SAVE,
    {
      DORMOUSE_DATA_DIR: dataDir,
      DORMOUSE_DATA_PATHS: (options.paths ?? ['.']).join('\n'),
      DORMOUSE_PART_URLS_URL: partUrlsUrl,
      DORMOUSE_PART_BYTES: String(options.partBytes ?? PART_BYTES),
      DORMOUSE_MAX_PARTS: String(maxParts),
      DORMOUSE_COMPRESSION: options.compression ?? 'auto',
      DORMOUSE_SCRATCH_DIR: scratch,
    },
    options.path,
  );
  const report = parseSaveReport(run.stdout);
  if (run.code === 0 && report) await store.complete(key, uploadId, report.parts);
  return { run, report, key };
}

interface RestoreOptions {
  paths?: string[];
  sha256?: string;
  bytes?: number;
  compression?: string;
  rangeBytes?: number;
  path?: string;
  url?: string;
}

async function restore(store: Store, key: string, saved: SaveReport, dataDir: string, scratch: string, options: RestoreOptions = {}) {
  const run = await runScript(
    RESTORE,
    {
      DORMOUSE_DATA_DIR: dataDir,
      DORMOUSE_DATA_PATHS: (options.paths ?? ['.']).join('\n'),
      DORMOUSE_OBJECT_URL: options.url ?? (await store.getUrl(key)),
      DORMOUSE_OBJECT_BYTES: String(options.bytes ?? saved.bytes),
      DORMOUSE_OBJECT_SHA256: options.sha256 ?? saved.sha256,
      DORMOUSE_COMPRESSION: options.compression ?? saved.compression,
      DORMOUSE_RANGE_BYTES: String(options.rangeBytes ?? 1 * MiB),
      DORMOUSE_SCRATCH_DIR: scratch,
      DORMOUSE_TREE_DIGEST: '1',
    },
    options.path,
  );
  return { run, report: parseRestoreReport(run.stdout) };
}

// ---- trees -------------------------------------------------------------------------------

interface Entry {
  type: 'dir' | 'file' | 'link' | 'other';
  mode: number;
  size?: number;
  sha256?: string;
  target?: string;
  nlink?: number;
  mtime?: number;
}

async function fileSha256(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 4 * MiB })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Every entry under root (root itself as `.`), by path relative to it. */
async function walk(root: string): Promise<Map<string, Entry>> {
  const out = new Map<string, Entry>();
  const visit = async (rel: string): Promise<void> => {
    const abs = rel === '.' ? root : join(root, rel);
    const st = await lstat(abs);
    const mode = st.mode & 0o7777;
    if (st.isSymbolicLink()) {
      out.set(rel, { type: 'link', mode: 0, target: await readlink(abs) });
    } else if (st.isFile()) {
      out.set(rel, { type: 'file', mode, size: st.size, sha256: await fileSha256(abs), nlink: st.nlink, mtime: Math.floor(st.mtimeMs / 1000) });
    } else if (st.isDirectory()) {
      out.set(rel, { type: 'dir', mode });
      for (const name of (await readdir(abs)).sort()) await visit(rel === '.' ? name : `${rel}/${name}`);
    } else {
      out.set(rel, { type: 'other', mode });
    }
  };
  await visit('.');
  return out;
}

/** The tree digest restore.sh documents, computed here from a walk of the tree. */
function treeDigest(tree: Map<string, Entry>): string {
  const mode = (m: number) => (m === 0 ? '0' : `0${m.toString(8)}`);
  const records: Buffer[] = [];
  const files: Array<{ path: Buffer; line: string }> = [];
  for (const [rel, e] of tree) {
    const p = rel === '.' ? '.' : `./${rel}`;
    if (e.type === 'file') {
      records.push(Buffer.from(`f ${mode(e.mode)} ${e.size} ${p}\0`));
      files.push({ path: Buffer.from(p), line: `${e.sha256}  ${p}\n` });
    } else if (e.type === 'link') {
      records.push(Buffer.from(`l ${p} -> ${e.target}\0`));
    } else {
      records.push(Buffer.from(`${e.type === 'dir' ? 'd' : '?'} ${mode(e.mode)} ${p}\0`));
    }
  }
  records.sort(Buffer.compare);
  files.sort((a, b) => Buffer.compare(a.path, b.path));
  return createHash('sha256')
    .update(Buffer.concat([...records, ...files.map((f) => Buffer.from(f.line))]))
    .digest('hex');
}

/** Trees compared as data: paths, types, modes, sizes, contents, link targets, hard links, file times. */
function expectSameTree(actual: Map<string, Entry>, expected: Map<string, Entry>): void {
  expect([...actual.keys()].sort()).toEqual([...expected.keys()].sort());
  for (const [path, entry] of expected) expect({ path, ...actual.get(path) }).toEqual({ path, ...entry });
}

/**
 * Nested and empty folders, relative, absolute and dangling links, modes,
 * names with spaces and non-ASCII characters, a hard link, an empty file,
 * a file starting with `-`, a dotfile, and enough random bytes for several parts.
 */
async function buildTree(root: string): Promise<void> {
  const file = async (rel: string, content: string | Buffer, mode = 0o644) => {
    await mkdir(join(root, rel, '..'), { recursive: true });
    await writeFile(join(root, rel), content);
    await chmod(join(root, rel), mode);
  };
  await file('a/b/c/deep.txt', 'deep\n');
  await file('top.txt', 'top\n'.repeat(1000));
  await mkdir(join(root, 'empty'));
  await mkdir(join(root, 'a/b/empty inner'), { recursive: true });
  await file('bin/run.sh', '#!/bin/sh\necho hi\n', 0o755);
  await file('secret.key', 'hunter2\n', 0o600);
  await file('private/notes.txt', 'private\n', 0o640);
  await chmod(join(root, 'private'), 0o700);
  await file('read-only/frozen.txt', 'frozen\n', 0o444);
  await chmod(join(root, 'read-only'), 0o555);
  await file('with space.txt', 'spaces\n');
  await file('dir with space/fichier été.txt', 'accents\n');
  await file('日本語/ファイル.txt', 'unicode\n');
  await file('emoji-🐭.txt', 'dormouse\n');
  await file('-dash.txt', 'dash\n');
  await file('.hidden', 'dot\n');
  await file('zero.bin', '');
  await file('random.bin', randomBytes(6 * MiB));
  await symlink('a/b/c/deep.txt', join(root, 'link-relative'));
  await symlink('../../top.txt', join(root, 'a/b/up'));
  await symlink('does/not/exist', join(root, 'dangling'));
  await symlink('/etc/hostname', join(root, 'absolute'));
  await symlink('a', join(root, 'dir-link'));
  await link(join(root, 'secret.key'), join(root, 'hard-link.key'));
  await utimes(join(root, 'top.txt'), new Date('2001-02-03T04:05:06Z'), new Date('2001-02-03T04:05:06Z'));
  await chmod(root, 0o751);
}

// ---- the suite -------------------------------------------------------------------------------

let work: string;
let scratch: string;
const temp = async (name: string) => mkdtemp(join(work, `${name}-`));
const scratchIsEmpty = async () => expect(await readdir(scratch)).toEqual([]);

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'dormouse-data-scripts-'));
  scratch = join(work, 'scratch');
  await mkdir(scratch);
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('save.sh and restore.sh against moto', { timeout: 120_000 }, () => {
  let store: Store;
  let source: string;
  let sourceTree: Map<string, Entry>;

  beforeAll(async () => {
    store = await Store.moto();
    source = await temp('source');
    await buildTree(source);
    sourceTree = await walk(source);
  });

  it('saves a tree in parts and restores it byte for byte, mode for mode', async () => {
    const saved = await save(store, source, scratch);
    expect(saved.run.code, saved.run.stderr).toBe(0);
    const report = saved.report!;
    expect(saved.run.stdout.trim().split('\n')).toHaveLength(1);
    // The report says what was stored: checked against the store itself.
    expect(report.bytes).toBe(await store.size(saved.key));
    const stored = await store.digest(saved.key);
    expect(report.sha256).toBe(stored.sha256);
    expect(stored.head.readUInt32LE(0)).toBe(0xfd2fb528); // zstd frame magic
    expect(report.compression).toBe('zstd');
    expect(report.parts).toBe(Math.ceil(report.bytes / PART_BYTES));
    expect(report.parts).toBe(2);
    expect(report.parts).toBeGreaterThan(1);
    expect(report.entries).toBe(sourceTree.size);
    expect(saved.run.stderr).toMatch(/part 1 stored: \d+ bytes, \d+ bytes so far, [\d.]+ s/);
    await scratchIsEmpty();

    const target = await temp('target');
    const restored = await restore(store, saved.key, report, target, scratch);
    expect(restored.run.code, restored.run.stderr).toBe(0);
    expect(restored.report).toEqual({ bytes: report.bytes, sha256: report.sha256, entries: report.entries, tree: treeDigest(sourceTree) });
    expectSameTree(await walk(target), sourceTree);
    await scratchIsEmpty();
  });

  it('never puts a presigned URL on a command line (where ps shows it to every user)', async () => {
    const bin = await temp('bin-spying-curl');
    const log = join(bin, 'argv.log');
    const real = (await sh('type -P curl')).stdout.trim();
    await writeFile(join(bin, 'curl'), `#!/bin/sh\nprintf '%s\\n' "$*" >> '${log}'\nexec '${real}' "$@"\n`, { mode: 0o755 });
    const path = `${bin}:${process.env.PATH}`;
    const saved = await save(store, source, scratch, { path });
    expect(saved.run.code, saved.run.stderr).toBe(0);
    const restored = await restore(store, saved.key, saved.report!, await temp('target'), scratch, { path });
    expect(restored.run.code, restored.run.stderr).toBe(0);
    const argv = await readFile(log, 'utf8');
    expect(argv.split('\n').filter(Boolean).length).toBeGreaterThanOrEqual(1 + saved.report!.parts + 2);
    expect(argv).not.toMatch(/X-Amz-|https?:\/\//);
  });

  it('saves only the listed paths and restores them over stale data, leaving the rest alone', async () => {
    const saved = await save(store, source, scratch, { paths: ['a', 'with space.txt', 'dangling'] });
    expect(saved.run.code, saved.run.stderr).toBe(0);
    const target = await temp('target');
    await mkdir(join(target, 'a/stale'), { recursive: true });
    await writeFile(join(target, 'a/stale/old.txt'), 'old');
    await writeFile(join(target, 'with space.txt'), 'old');
    await writeFile(join(target, 'unrelated.txt'), 'keep me');
    const restored = await restore(store, saved.key, saved.report!, target, scratch, { paths: ['a', 'with space.txt', 'dangling'] });
    expect(restored.run.code, restored.run.stderr).toBe(0);
    const after = await walk(target);
    const picked = (tree: Map<string, Entry>) =>
      new Map([...tree].filter(([p]) => p === 'a' || p.startsWith('a/') || p === 'with space.txt' || p === 'dangling'));
    expectSameTree(picked(after), picked(sourceTree));
    expect(after.has('a/stale')).toBe(false);
    expect(await readFile(join(target, 'unrelated.txt'), 'utf8')).toBe('keep me');
    expect(restored.report!.entries).toBe(saved.report!.entries);
  });

  it('falls back to gzip when zstd is not on PATH, and restore then needs no zstd', async () => {
    const bin = await temp('bin-without-zstd');
    // The tools a server has (coreutils, tar, gzip, curl, …), found on this PATH, zstd not among them.
    const tools = 'bash sh env tar gzip curl openssl sha256sum md5sum dd head tail stat cut tr sed mkdir mktemp rm mkfifo cat tee wc date sleep find sort xargs chmod kill';
    const linked = await sh(`for t in ${tools}; do ln -s "$(type -P $t)" '${bin}'/$t || exit 1; done`);
    expect(linked.code, linked.stderr).toBe(0);
    const saved = await save(store, source, scratch, { path: bin });
    expect(saved.run.code, saved.run.stderr).toBe(0);
    expect(saved.report!.compression).toBe('gzip');
    expect((await store.digest(saved.key)).head.subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b]));

    const target = await temp('target');
    const restored = await restore(store, saved.key, saved.report!, target, scratch, { path: bin });
    expect(restored.run.code, restored.run.stderr).toBe(0);
    expectSameTree(await walk(target), sourceTree);

    // A zstd archive on a server without zstd: told to install it, nothing touched.
    const zsaved = await save(store, source, scratch, { compression: 'zstd' });
    expect(zsaved.run.code, zsaved.run.stderr).toBe(0);
    const untouched = await temp('untouched');
    await writeFile(join(untouched, 'keep.txt'), 'keep');
    const refused = await restore(store, zsaved.key, zsaved.report!, untouched, scratch, { path: bin });
    expect(refused.run.code).toBe(5);
    expect(refused.run.stderr).toMatch(/install zstd/);
    expect(await readdir(untouched)).toEqual(['keep.txt']);
    // And a save told to use zstd where there is none.
    expect((await save(store, source, scratch, { path: bin, compression: 'zstd' })).run.code).toBe(5);
    await scratchIsEmpty();
  });

  it('restore with a wrong expected SHA-256 exits 3 naming both, and leaves nothing in the data paths', async () => {
    const saved = await save(store, source, scratch);
    expect(saved.run.code, saved.run.stderr).toBe(0);
    const target = await temp('target');
    await writeFile(join(target, 'previous.txt'), 'cleared before extracting');
    const wrong = createHash('sha256').update('not it').digest('hex');
    const restored = await restore(store, saved.key, saved.report!, target, scratch, { sha256: wrong });
    expect(restored.run.code).toBe(3);
    expect(restored.run.stderr).toContain(saved.report!.sha256);
    expect(restored.run.stderr).toContain(wrong);
    expect(restored.run.stdout).toBe('');
    expect(await readdir(target)).toEqual([]);
    await scratchIsEmpty();
  });

  it('restore of an object of another size exits 3 before touching anything', async () => {
    const saved = await save(store, source, scratch);
    const target = await temp('target');
    await writeFile(join(target, 'previous.txt'), 'still here');
    const restored = await restore(store, saved.key, saved.report!, target, scratch, { bytes: saved.report!.bytes + 1 });
    expect(restored.run.code).toBe(3);
    expect(restored.run.stderr).toMatch(new RegExp(`stored object is ${saved.report!.bytes} bytes, ${saved.report!.bytes + 1} were expected`));
    expect(await readdir(target)).toEqual(['previous.txt']);
  });

  it('more data than the parts allowed exits 4, saying how big and what the limit is', async () => {
    const saved = await save(store, source, scratch, { maxParts: 1 });
    expect(saved.run.code).toBe(4);
    expect(saved.run.stderr).toMatch(/more than 1 parts of 5242880 bytes: \d+ compressed bytes so far, the limit is 5242880 bytes\.$/m);
    expect(saved.run.stdout).toBe('');
    await scratchIsEmpty();
  });

  it('a data path that does not exist exits 2 with the reason', async () => {
    const saved = await save(store, source, scratch, { paths: ['a', 'no such folder'] });
    expect(saved.run.code).toBe(2);
    expect(saved.run.stderr.trim()).toBe(`dormouse-save: data path 'no such folder' does not exist in ${source}.`);
    expect(saved.run.stdout).toBe('');
    await scratchIsEmpty();
  });

  it('a compressor that fails in the middle of the stream fails the save', async () => {
    const bin = await temp('bin-broken-zstd');
    await writeFile(join(bin, 'zstd'), '#!/bin/sh\nhead -c 1000 >/dev/null\necho "zstd: simulated failure" >&2\nexit 7\n', { mode: 0o755 });
    const saved = await save(store, source, scratch, { path: `${bin}:${process.env.PATH}`, compression: 'zstd' });
    expect(saved.run.code).toBe(1);
    expect(saved.run.stderr).toMatch(/zstd failed \(exit 7\)/);
    expect(saved.run.stdout).toBe('');
    await scratchIsEmpty();
  });

  it('a missing data folder is created, and an empty one round-trips', async () => {
    const empty = join(await temp('parent'), 'not-yet');
    const saved = await save(store, empty, scratch);
    expect(saved.run.code, saved.run.stderr).toBe(0);
    expect(saved.report!.entries).toBe(1);
    const target = await temp('target');
    const restored = await restore(store, saved.key, saved.report!, target, scratch);
    expect(restored.run.code, restored.run.stderr).toBe(0);
    expectSameTree(await walk(target), await walk(empty));
  });
});

// ---- a scripted store: faults neither emulator produces ------------------------------------------

interface Scripted {
  url: string;
  /** PUTs received, by part number. */
  puts: Map<number, number>;
  object: () => Buffer;
  close: () => Promise<void>;
}

/**
 * `/urls` lists `/part/<n>`; parts are kept and concatenated as `/object`,
 * served in ranges. `fault` may answer instead of the normal handler.
 */
async function scriptedStore(fault: (req: IncomingMessage, res: ServerResponse, body: Buffer, attempt: number) => boolean): Promise<Scripted> {
  const parts = new Map<number, Buffer>();
  const puts = new Map<number, number>();
  const gets = new Map<string, number>();
  const object = () => Buffer.concat([...parts.entries()].sort((a, b) => a[0] - b[0]).map(([, b]) => b));
  let base = '';
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const path = req.url ?? '';
      let attempt = 1;
      if (req.method === 'PUT') {
        const n = Number(/^\/part\/(\d+)$/.exec(path)?.[1]);
        attempt = (puts.get(n) ?? 0) + 1;
        puts.set(n, attempt);
      } else {
        const key = `${path} ${req.headers.range ?? ''}`;
        attempt = (gets.get(key) ?? 0) + 1;
        gets.set(key, attempt);
      }
      if (fault(req, res, body, attempt)) return;
      if (req.method === 'GET' && path === '/urls') {
        res.end(Array.from({ length: 100 }, (_, i) => `${base}/part/${i + 1}`).join('\n'));
      } else if (req.method === 'PUT') {
        parts.set(Number(path.split('/').pop()), body);
        res.writeHead(200, { ETag: `"${createHash('md5').update(body).digest('hex')}"` }).end();
      } else if (req.method === 'GET' && path === '/object') {
        const all = object();
        const [, from, to] = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '') ?? [];
        const start = Number(from);
        const end = Math.min(Number(to), all.length - 1);
        res.writeHead(206, { 'Content-Range': `bytes ${start}-${end}/${all.length}`, 'Content-Length': end - start + 1 });
        res.end(all.subarray(start, end + 1));
      } else {
        res.writeHead(404).end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: base,
    puts,
    object,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

async function saveTo(store: Scripted, dataDir: string) {
  return runScript(SAVE, {
    DORMOUSE_DATA_DIR: dataDir,
    DORMOUSE_DATA_PATHS: '.',
    DORMOUSE_PART_URLS_URL: `${store.url}/urls`,
    DORMOUSE_PART_BYTES: String(128 * KiB),
    DORMOUSE_MAX_PARTS: '100',
    DORMOUSE_COMPRESSION: 'zstd',
    DORMOUSE_SCRATCH_DIR: scratch,
  });
}

describe('save.sh and restore.sh against a store that misbehaves', { timeout: 60_000 }, () => {
  let source: string;
  beforeAll(async () => {
    source = await temp('scripted-source');
    await writeFile(join(source, 'random.bin'), randomBytes(600 * KiB));
  });

  it('retries a part the store failed to take (503), and a range cut off in the middle', async () => {
    const store = await scriptedStore((req, res, _body, attempt) => {
      if (req.method === 'PUT' && req.url === '/part/2' && attempt === 1) {
        res.writeHead(503).end('<Error><Code>SlowDown</Code></Error>');
        return true;
      }
      if (req.method === 'GET' && req.url === '/object' && req.headers.range?.startsWith('bytes=204800-') && attempt === 1) {
        res.writeHead(206, { 'Content-Range': `bytes 204800-409599/${store.object().length}`, 'Content-Length': 204800 });
        res.write(Buffer.alloc(1000));
        setTimeout(() => res.destroy(), 20);
        return true;
      }
      return false;
    });
    try {
      const saved = await saveTo(store, source);
      expect(saved.code, saved.stderr).toBe(0);
      expect(saved.stderr).toMatch(/part 2: upload failed \(HTTP 503/);
      expect(store.puts.get(2)).toBe(2);
      const report = parseSaveReport(saved.stdout)!;
      expect(report.sha256).toBe(createHash('sha256').update(store.object()).digest('hex'));
      expect(report.bytes).toBe(store.object().length);
      expect(report.parts).toBe(store.puts.size);

      const target = await temp('target');
      const restored = await runScript(RESTORE, {
        DORMOUSE_DATA_DIR: target,
        DORMOUSE_DATA_PATHS: '.',
        DORMOUSE_OBJECT_URL: `${store.url}/object`,
        DORMOUSE_OBJECT_BYTES: String(report.bytes),
        DORMOUSE_OBJECT_SHA256: report.sha256,
        DORMOUSE_COMPRESSION: 'zstd',
        DORMOUSE_RANGE_BYTES: String(200 * KiB),
        DORMOUSE_SCRATCH_DIR: scratch,
      });
      expect(restored.code, restored.stderr).toBe(0);
      expect(restored.stderr).toMatch(/range 2 of \d+: download failed/);
      expect(parseRestoreReport(restored.stdout)).toEqual({ bytes: report.bytes, sha256: report.sha256, entries: 2 });
      expectSameTree(await walk(target), await walk(source));
      await scratchIsEmpty();
    } finally {
      await store.close();
    }
  });

  it('a damaged object (a byte flipped in the store) exits 3 after checking it whole, and nothing is left', async () => {
    let damaged: Buffer | undefined;
    const store = await scriptedStore((req, res) => {
      if (req.method !== 'GET' || req.url !== '/object' || !damaged) return false;
      const [, from, to] = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '') ?? [];
      const start = Number(from);
      const end = Math.min(Number(to), damaged.length - 1);
      res.writeHead(206, { 'Content-Range': `bytes ${start}-${end}/${damaged.length}`, 'Content-Length': end - start + 1 });
      res.end(damaged.subarray(start, end + 1));
      return true;
    });
    try {
      const saved = await saveTo(store, source);
      expect(saved.code, saved.stderr).toBe(0);
      const report = parseSaveReport(saved.stdout)!;
      damaged = Buffer.from(store.object());
      damaged[1000] = damaged[1000]! ^ 0xff;
      const actual = createHash('sha256').update(damaged).digest('hex');
      const target = await temp('target');
      await writeFile(join(target, 'previous.txt'), 'cleared');
      const restored = await runScript(RESTORE, {
        DORMOUSE_DATA_DIR: target,
        DORMOUSE_DATA_PATHS: '.',
        DORMOUSE_OBJECT_URL: `${store.url}/object`,
        DORMOUSE_OBJECT_BYTES: String(report.bytes),
        DORMOUSE_OBJECT_SHA256: report.sha256,
        DORMOUSE_COMPRESSION: 'zstd',
        DORMOUSE_RANGE_BYTES: String(200 * KiB),
        DORMOUSE_SCRATCH_DIR: scratch,
      });
      expect(restored.code).toBe(3);
      // The decompressor gave up at the flipped byte; the checksum still covered the whole object.
      expect(restored.stderr).toContain(`SHA-256 is ${actual} but ${report.sha256} was expected`);
      expect(await readdir(target)).toEqual([]);
      await scratchIsEmpty();
    } finally {
      await store.close();
    }
  });

  it('a part the store refuses stops the save: nothing after the parts in flight is read or sent', async () => {
    const store = await scriptedStore((req, res) => {
      if (req.method !== 'PUT' || req.url !== '/part/2') return false;
      res.writeHead(403).end('<Error><Code>AccessDenied</Code></Error>');
      return true;
    });
    try {
      const big = await temp('scripted-big');
      await writeFile(join(big, 'random.bin'), randomBytes(1024 * KiB)); // 9 parts of 128 KiB
      const saved = await saveTo(store, big);
      expect(saved.code).toBe(6);
      expect(saved.stderr).toContain('the store refused part 2: HTTP 403 (AccessDenied).');
      expect(store.puts.get(2)).toBe(1); // a refusal is not retried
      expect(Math.max(...store.puts.keys())).toBeLessThanOrEqual(5); // 2 in flight: at most 3 and 4 after it
      expect(saved.stdout).toBe('');
      await scratchIsEmpty();
    } finally {
      await store.close();
    }
  });

  it('a save stopped (SIGTERM) while a part hangs ends at once and leaves no scratch file', async () => {
    const store = await scriptedStore((req) => req.method === 'PUT' && req.url === '/part/2'); // never answered
    try {
      const child = spawn('bash', [SAVE], {
        env: {
          PATH: process.env.PATH ?? '',
          HOME: process.env.HOME ?? '/tmp',
          LANG: 'C.UTF-8',
          DORMOUSE_DATA_DIR: source,
          DORMOUSE_DATA_PATHS: '.',
          DORMOUSE_PART_URLS_URL: `${store.url}/urls`,
          DORMOUSE_PART_BYTES: String(128 * KiB),
          DORMOUSE_MAX_PARTS: '100',
          DORMOUSE_COMPRESSION: 'zstd',
          DORMOUSE_SCRATCH_DIR: scratch,
        },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      await new Promise<void>((resolve) =>
        child.stderr.on('data', (d: Buffer) => {
          stderr += d.toString();
          if (stderr.includes('part 1 stored')) resolve();
        }),
      );
      await new Promise((r) => setTimeout(r, 300)); // part 2 is hanging, part 3 maybe too
      const stoppedAt = Date.now();
      child.kill('SIGTERM');
      expect(await exited).toBe(143);
      expect(Date.now() - stoppedAt).toBeLessThan(5_000);
      await scratchIsEmpty();
    } finally {
      await store.close();
    }
  });

  it('an ETag that is not the MD5 of the part sent exits 3 with the part and both values', async () => {
    let sent = '';
    const store = await scriptedStore((req, res, body) => {
      if (req.method !== 'PUT' || req.url !== '/part/2') return false;
      sent = createHash('md5').update(body).digest('hex');
      res.writeHead(200, { ETag: '"0123456789abcdef0123456789abcdef"' }).end();
      return true;
    });
    try {
      const saved = await saveTo(store, source);
      expect(saved.code).toBe(3);
      expect(saved.stderr).toContain(`part 2: the store answered ETag '0123456789abcdef0123456789abcdef' but the part's MD5 is '${sent}'`);
      expect(saved.stdout).toBe('');
      await scratchIsEmpty();
    } finally {
      await store.close();
    }
  });
});

// ---- s3rver: signatures checked, data on disk ---------------------------------------------------

describe('save.sh and restore.sh against s3rver', { timeout: 60_000 }, () => {
  let store: Store;
  let close: () => Promise<void>;

  beforeAll(async () => {
    const dir = await temp('s3rver');
    const bucket = uniqueName('data').toLowerCase();
    const server = await startS3rver(dir, bucket);
    close = server.close;
    store = Store.s3rver(server.url, bucket, dir);
  });
  afterAll(async () => {
    await close?.();
  });

  it('a refused upload (a URL whose signature was tampered with: 403) fails the save with the reason', async () => {
    const source = await temp('source');
    await writeFile(join(source, 'random.bin'), randomBytes(800 * KiB));
    const tamper = (n: number, url: string) => (n === 2 ? url.replace(/(X-Amz-Signature=)([0-9a-f])/, (_, k: string, c: string) => `${k}${c === '0' ? '1' : '0'}`) : url);
    const saved = await save(store, source, scratch, { tamper, partBytes: 256 * KiB });
    expect(saved.run.code).toBe(6);
    expect(saved.run.stderr).toMatch(/the store refused part 2: HTTP 403 \(SignatureDoesNotMatch\)\./);
    expect(saved.run.stdout).toBe('');
    await scratchIsEmpty();
  });

  it('round-trips a 1 GB file (16 parts of 64 MiB, ranges of 64 MiB)', { timeout: 600_000 }, async () => {
    const source = await temp('big-source');
    const gen = await sh(`head -c ${1024 * MiB} /dev/urandom > '${join(source, 'one-gigabyte.bin')}' && printf 'small\\n' > '${join(source, 'small.txt')}'`);
    expect(gen.code, gen.stderr).toBe(0);
    const sourceTree = await walk(source);
    const saved = await save(store, source, scratch, { partBytes: 64 * MiB, maxParts: 40 });
    expect(saved.run.code, saved.run.stderr).toBe(0);
    expect(saved.report!.parts).toBe(Math.ceil(saved.report!.bytes / (64 * MiB)));
    expect(saved.report!.bytes).toBe(await store.size(saved.key));
    await rm(source, { recursive: true });
    const target = await temp('big-target');
    const restored = await restore(store, saved.key, saved.report!, target, scratch, { rangeBytes: 64 * MiB });
    expect(restored.run.code, restored.run.stderr).toBe(0);
    expect(restored.report!.tree).toBe(treeDigest(sourceTree));
    expectSameTree(await walk(target), sourceTree);
    await rm(target, { recursive: true });
    await scratchIsEmpty();
  });
});
