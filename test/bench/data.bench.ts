/**
 * Save and restore throughput: src/data-scripts/save.sh and restore.sh on
 * 1 GB of mixed files, against an embedded s3rver, compared with the plain
 * pipelines on the same folder:
 *
 *   save baseline     tar -cf - . | zstd -T0 > /dev/null
 *   restore baseline  zstd -dc archive | tar -xf -
 *
 * The scripts do more than the baselines (SHA-256 of the stream, MD5 of each
 * part, HTTP through curl, a store that writes every byte to disk and hashes
 * it too); the target is a ratio (baseline time / script time) of at least
 * 0.8. Run on a quiet machine:
 *
 *   npm run bench:data               # 3 runs
 *   npm run bench:data -- 5          # more runs
 *   npm run bench:data -- 3 sink     # also against a minimal store (discards parts, serves the archive from a file):
 *                                    # what the scripts cost without s3rver's own work
 *   npm run bench:data -- 3 floor    # also the leanest pipelines that reach a store over HTTP at all:
 *                                    # tar | zstd | curl -T - to a server that drops the bytes, with no
 *                                    # hash, with the MD5 a store's ETag is checked against, and with
 *                                    # the MD5 and the SHA-256 a manifest needs (and curl | zstd -d | tar -x
 *                                    # back). No script can beat these: they show what the machine allows.
 *
 * Environment: BENCH_PART_BYTES (default 64 MiB), BENCH_PARTS_IN_FLIGHT
 * (default: the script's), BENCH_RANGE_BYTES (default: the script's), BENCH_MB (default 1024),
 * BENCH_DATA (a folder: the data is built there once and kept, for runs one after another).
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, statSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { parseRestoreReport, parseSaveReport, type SaveReport } from '../../src/data-scripts/index.js';

// The SDK's notice that its 2027 releases need Node 22 (the lockfile keeps today's) is not a figure of this bench.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const runs = Number(process.argv[2] ?? 3);
const withSink = process.argv.includes('sink');
const withFloor = process.argv.includes('floor');
const MiB = 1024 * 1024;
const TOTAL_MB = Number(process.env.BENCH_MB ?? 1024);
const PART_BYTES = Number(process.env.BENCH_PART_BYTES ?? 64 * MiB);
const SAVE = fileURLToPath(new URL('../../src/data-scripts/save.sh', import.meta.url));
const RESTORE = fileURLToPath(new URL('../../src/data-scripts/restore.sh', import.meta.url));
const out = (line: string) => process.stdout.write(`${line}\n`);

// ---- processes ---------------------------------------------------------------------------

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  seconds: number;
  /** CPU seconds (user + system) of the command and everything it started. */
  cpu: number;
  /** CPU seconds this process (the store) spent meanwhile. */
  storeCpu: number;
}

/** Runs `bash <args>` and reports wall time, the CPU of the whole process tree (bash's `times`), and ours. */
function run(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    const wrapped = ['-c', 'bash "$@"; rc=$?; times >&2; exit $rc', 'bench', ...args];
    const child = spawn('bash', wrapped, {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', LANG: 'C.UTF-8', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-20_000)));
    child.once('error', reject);
    child.once('close', (code) => {
      const seconds = (performance.now() - t0) / 1000;
      const used = process.cpuUsage(cpu0);
      // `times`: the shell's own user and system time, then its children's: "0m1.234s 0m0.567s".
      const last = stderr.trim().split('\n').pop() ?? '';
      const cpu = [...last.matchAll(/(\d+)m([\d.]+)s/g)].reduce((sum, m) => sum + Number(m[1]) * 60 + Number(m[2]), 0);
      resolve({ code, stdout, stderr, seconds, cpu, storeCpu: (used.user + used.system) / 1e6 });
    });
  });
}

async function must(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const r = await run(args, env);
  if (r.code !== 0) throw new Error(`${args.join(' ')} exited ${r.code}:\n${r.stderr}`);
  return r;
}

// ---- the data: 1 GB of mixed files ----------------------------------------------------------

const WORDS = 'the of and to in is was for on that with as by at from it an be this which or are have not had has were but all their can more one two three error warning info debug request response user session token value id time ms ok failed retry'.split(' ');

/** Log-like text: words and numbers, compressible about 3 to 4 times. */
function text(bytes: number): Buffer {
  const rnd = randomBytes(bytes / 4);
  const parts: string[] = [];
  let size = 0;
  let i = 0;
  while (size < bytes) {
    const line = `${1700000000 + rnd.readUInt16LE(i % (rnd.length - 2)) * 7} ${WORDS[rnd[i % rnd.length]! % WORDS.length]} ${WORDS[rnd[(i + 1) % rnd.length]! % WORDS.length]} id=${rnd.readUInt32LE(i % (rnd.length - 4)).toString(16)} ${WORDS[rnd[(i + 2) % rnd.length]! % WORDS.length]}\n`;
    parts.push(line);
    size += line.length;
    i += 5;
  }
  return Buffer.from(parts.join('')).subarray(0, bytes);
}

async function writeLarge(path: string, bytes: number, chunk: () => Buffer): Promise<void> {
  const stream = createWriteStream(path);
  for (let written = 0; written < bytes; ) {
    const c = chunk().subarray(0, Math.min(4 * MiB, bytes - written));
    if (!stream.write(c)) await new Promise<void>((r) => stream.once('drain', () => r()));
    written += c.length;
  }
  await new Promise<void>((resolve, reject) => stream.end((e?: Error | null) => (e ? reject(e) : resolve())));
}

/** A pool of text, and chunks of it from random places: compressible, not one repeated block. */
const pool = text(16 * MiB);
function textChunk(size: number): Buffer {
  const start = randomBytes(4).readUInt32LE(0) % (pool.length - size);
  return pool.subarray(start, start + size);
}

/** Small text files (10%), medium files (20%, half random), large random (30%) and large compressible (40%). */
async function buildData(root: string): Promise<{ files: number; bytes: number }> {
  const total = TOTAL_MB * MiB;
  let files = 0;
  let bytes = 0;
  const smallBudget = total * 0.1;
  for (let d = 0; bytes < smallBudget; d += 1) {
    const dir = join(root, 'small', `d${String(d).padStart(3, '0')}`);
    await mkdir(dir, { recursive: true });
    for (let f = 0; f < 200 && bytes < smallBudget; f += 1) {
      const size = 500 + ((d * 7919 + f * 104729) % 9500);
      await writeFile(join(dir, `file-${f}.txt`), textChunk(size));
      files += 1;
      bytes += size;
    }
  }
  await mkdir(join(root, 'medium'));
  const mediumBudget = total * 0.3;
  for (let m = 0; bytes < mediumBudget; m += 1) {
    const size = 2 * MiB;
    await writeFile(join(root, 'medium', `m${m}.bin`), m % 2 ? randomBytes(size) : textChunk(size));
    files += 1;
    bytes += size;
  }
  await mkdir(join(root, 'large'));
  const largeRandom = Math.floor((total * 0.3) / 3);
  for (let l = 0; l < 3; l += 1) {
    await writeLarge(join(root, 'large', `random-${l}.bin`), largeRandom, () => randomBytes(4 * MiB));
    files += 1;
    bytes += largeRandom;
  }
  const largeText = Math.floor((total - bytes) / 4);
  for (let l = 0; l < 4; l += 1) {
    await writeLarge(join(root, 'large', `log-${l}.log`), largeText, () => textChunk(4 * MiB));
    files += 1;
    bytes += largeText;
  }
  return { files, bytes };
}

// ---- stores -----------------------------------------------------------------------------------

interface Store {
  name: string;
  /** URLs for save.sh; `finish` completes the upload and gives a URL to restore from. */
  begin(maxParts: number): Promise<{ partUrlsUrl: string; finish: (report: SaveReport) => Promise<string> }>;
  close(): Promise<void>;
}

interface S3rverInstance {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
}
const S3rver = createRequire(import.meta.url)('@20minutes/s3rver') as new (options: Record<string, unknown>) => S3rverInstance;

async function s3rverStore(directory: string): Promise<Store> {
  const bucket = 'bench';
  const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory, vhostBuckets: false, configureBuckets: [{ name: bucket }] });
  const { port } = await server.run();
  const s3 = new S3Client({
    region: 'us-east-1',
    endpoint: `http://127.0.0.1:${port}`,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    forcePathStyle: true,
    requestChecksumCalculation: 'WHEN_REQUIRED',
  });
  let n = 0;
  return {
    name: 's3rver',
    async begin(maxParts) {
      n += 1;
      const Key = `run-${n}.archive`;
      const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key }));
      const urls: string[] = [];
      for (let p = 1; p <= maxParts; p += 1) {
        urls.push(await getSignedUrl(s3, new UploadPartCommand({ Bucket: bucket, Key, UploadId, PartNumber: p }), { expiresIn: 3600 }));
      }
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `${Key}.upload-urls`, Body: urls.join('\n') }));
      const partUrlsUrl = await getSignedUrl(s3, new GetObjectCommand({ Bucket: bucket, Key: `${Key}.upload-urls` }), { expiresIn: 3600 });
      return {
        partUrlsUrl,
        finish: async (report) => {
          // s3rver has no ListParts: the parts' MD5s are in its folder.
          const dir = (await readdir(directory, { recursive: true, withFileTypes: true })).find((e) => e.isDirectory() && e.name === UploadId)!;
          const Parts = [];
          for (let p = 1; p <= report.parts; p += 1) {
            Parts.push({ PartNumber: p, ETag: JSON.stringify((await readFile(join(dir.parentPath, dir.name, `${p}.md5`), 'utf8')).trim()) });
          }
          await s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key, UploadId, MultipartUpload: { Parts } }));
          return getSignedUrl(s3, new GetObjectCommand({ Bucket: bucket, Key }), { expiresIn: 3600 });
        },
      };
    },
    close: () => server.close(),
  };
}

/** The least a store can do: hash and drop each part; serve ranges of a file. */
async function sinkStore(archive: string): Promise<Store> {
  let base = '';
  const server: Server = createServer((req, res) => {
    if (req.method === 'PUT') {
      const md5 = createHash('md5');
      req.on('data', (c: Buffer) => md5.update(c));
      req.on('end', () => res.writeHead(200, { ETag: `"${md5.digest('hex')}"` }).end());
    } else if (req.url === '/urls') {
      res.end(Array.from({ length: 10_000 }, (_, i) => `${base}/part/${i + 1}`).join('\n'));
    } else {
      const size = statSync(archive).size;
      const [, a, b] = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '') ?? [];
      const start = Number(a);
      const end = Math.min(Number(b), size - 1);
      res.writeHead(206, { 'Content-Range': `bytes ${start}-${end}/${size}`, 'Content-Length': end - start + 1 });
      createReadStream(archive, { start, end, highWaterMark: MiB }).pipe(res);
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    name: 'sink',
    begin: async () => ({ partUrlsUrl: `${base}/urls`, finish: async () => `${base}/object` }),
    close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

// ---- one round ----------------------------------------------------------------------------------

interface Round {
  saveBase: Run;
  save: Run;
  restoreBase: Run;
  restore: Run;
  stored: number;
  parts: number;
}

async function round(store: Store, source: string, target: string, archive: string, scratch: string): Promise<Round> {
  // Each step starts with nothing dirty in the page cache: the last one's writeback is not billed to it.
  const settle = () => must(['-c', 'sync']);
  await settle();
  const saveBase = await must(['-c', `set -o pipefail; tar -C '${source}' -cf - . | zstd -q -T0 > /dev/null`]);

  await settle();
  const { partUrlsUrl, finish } = await store.begin(Math.ceil((TOTAL_MB * MiB) / PART_BYTES) + 10);
  const saved = await must([SAVE], {
    DORMOUSE_DATA_DIR: source,
    DORMOUSE_DATA_PATHS: '.',
    DORMOUSE_PART_URLS_URL: partUrlsUrl,
    DORMOUSE_PART_BYTES: String(PART_BYTES),
    DORMOUSE_MAX_PARTS: String(Math.ceil((TOTAL_MB * MiB) / PART_BYTES) + 10),
    DORMOUSE_COMPRESSION: 'zstd',
    DORMOUSE_SCRATCH_DIR: scratch,
    ...(process.env.BENCH_PARTS_IN_FLIGHT ? { DORMOUSE_PARTS_IN_FLIGHT: process.env.BENCH_PARTS_IN_FLIGHT } : {}),
  });
  const report = parseSaveReport(saved.stdout);
  if (!report) throw new Error(`save.sh printed no report:\n${saved.stdout}\n${saved.stderr}`);
  const url = await finish(report);

  await rm(target, { recursive: true, force: true });
  await mkdir(target);
  await settle();
  const restoreBase = await must(['-c', `set -o pipefail; zstd -q -dc '${archive}' | tar -C '${target}' -xf -`]);
  await rm(target, { recursive: true, force: true });

  const objectBytes = store.name === 'sink' ? statSync(archive).size : report.bytes;
  const objectSha = store.name === 'sink' ? (await must(['-c', `sha256sum '${archive}'`])).stdout.slice(0, 64) : report.sha256;
  await settle();
  const restored = await must([RESTORE], {
    DORMOUSE_DATA_DIR: target,
    DORMOUSE_DATA_PATHS: '.',
    DORMOUSE_OBJECT_URL: url,
    DORMOUSE_OBJECT_BYTES: String(objectBytes),
    DORMOUSE_OBJECT_SHA256: objectSha,
    DORMOUSE_COMPRESSION: 'zstd',
    DORMOUSE_SCRATCH_DIR: scratch,
    ...(process.env.BENCH_RANGE_BYTES ? { DORMOUSE_RANGE_BYTES: process.env.BENCH_RANGE_BYTES } : {}),
  });
  if (!parseRestoreReport(restored.stdout)) throw new Error(`restore.sh printed no report:\n${restored.stderr}`);
  await rm(target, { recursive: true, force: true });
  return { saveBase, save: saved, restoreBase, restore: restored, stored: report.bytes, parts: report.parts };
}

async function measure(root: string): Promise<{ files: number; bytes: number }> {
  const r = await must(['-c', `find '${root}' -type f -printf '%s\\n' | awk '{ n += 1; b += $1 } END { print n, b }'`]);
  const [files, bytes] = r.stdout.trim().split(' ').map(Number);
  return { files: files!, bytes: bytes! };
}

// ---- the floor: the leanest pipelines through HTTP -------------------------------------------

/** Drops what is PUT; serves the archive to a GET. Node's receive costs about what any store's would. */
async function floorServer(archive: string): Promise<{ url: string; close: () => Promise<void> }> {
  const server: Server = createServer((req, res) => {
    if (req.method === 'PUT') {
      req.on('data', () => {});
      req.on('end', () => res.end());
    } else {
      res.writeHead(200, { 'Content-Length': statSync(archive).size });
      createReadStream(archive, { highWaterMark: MiB }).pipe(res);
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/object`,
    close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

async function floor(source: string, target: string, archive: string, mb: number): Promise<void> {
  const server = await floorServer(archive);
  const put = `curl -sS -f -T - -o /dev/null '${server.url}'`;
  const save: Array<[string, string]> = [
    ['tar | zstd | curl', `tar -C '${source}' -cf - . | zstd -q -T0 | ${put}`],
    ['... + MD5', `tar -C '${source}' -cf - . | zstd -q -T0 | tee >(md5sum >/dev/null) | ${put}`],
    ['... + MD5 + SHA-256', `tar -C '${source}' -cf - . | zstd -q -T0 | tee >(md5sum >/dev/null) >(openssl dgst -sha256 >/dev/null) | ${put}`],
  ];
  const restore: Array<[string, string]> = [
    ['curl | zstd -d | tar -x', `curl -sS -f '${server.url}' | zstd -q -dc | tar -C '${target}' -xf -`],
    ['... + SHA-256', `curl -sS -f '${server.url}' | tee >(openssl dgst -sha256 >/dev/null) | zstd -q -dc | tar -C '${target}' -xf -`],
  ];
  try {
    for (let i = 0; i < runs; i += 1) {
      const cells: string[] = [];
      await must(['-c', 'sync']);
      const saveBase = await must(['-c', `set -o pipefail; tar -C '${source}' -cf - . | zstd -q -T0 > /dev/null`]);
      for (const [name, cmd] of save) {
        await must(['-c', 'sync']);
        const r = await must(['-c', `set -o pipefail; ${cmd}`]);
        cells.push(`${name} ${(saveBase.seconds / r.seconds).toFixed(2)}`);
      }
      await rm(target, { recursive: true, force: true });
      await mkdir(target);
      await must(['-c', 'sync']);
      const restoreBase = await must(['-c', `set -o pipefail; zstd -q -dc '${archive}' | tar -C '${target}' -xf -`]);
      for (const [name, cmd] of restore) {
        await rm(target, { recursive: true, force: true });
        await mkdir(target);
        await must(['-c', 'sync']);
        const r = await must(['-c', `set -o pipefail; ${cmd}`]);
        cells.push(`${name} ${(restoreBase.seconds / r.seconds).toFixed(2)}`);
      }
      await rm(target, { recursive: true, force: true });
      out(`[floor] run ${i + 1} (ratios to the baselines, ${(mb / saveBase.seconds).toFixed(0)} and ${(mb / restoreBase.seconds).toFixed(0)} MB/s): ${cells.join(' · ')}`);
    }
  } finally {
    await server.close();
  }
}

// ---- main -------------------------------------------------------------------------------------------

const spread = (xs: number[], f: (x: number) => string) => {
  const s = [...xs].sort((a, b) => a - b);
  return `median ${f(s[Math.floor(s.length / 2)]!)} (min ${f(s[0]!)}, max ${f(s[s.length - 1]!)})`;
};

async function main() {
  const work = await mkdtemp(join(tmpdir(), 'dormouse-data-bench-'));
  try {
    const kept = process.env.BENCH_DATA;
    const source = kept ?? join(work, 'source');
    const target = join(work, 'target');
    const scratch = join(work, 'scratch');
    await mkdir(scratch);
    let t0 = performance.now();
    const data = kept && (await readdir(kept).catch(() => [])).length > 0 ? await measure(kept) : await mkdir(source, { recursive: true }).then(() => buildData(source));
    const mb = data.bytes / 1e6;
    out(`data: ${data.files} files, ${mb.toFixed(0)} MB, built in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const archive = join(work, 'baseline.tar.zst');
    t0 = performance.now();
    await must(['-c', `set -o pipefail; tar -C '${source}' -cf - . | zstd -q -T0 > '${archive}'`]);
    out(`archive: ${(statSync(archive).size / 1e6).toFixed(0)} MB (zstd -T0, ratio ${(data.bytes / statSync(archive).size).toFixed(2)}); part size ${PART_BYTES / MiB} MiB; CPUs: ${(await must(['-c', 'nproc'])).stdout.trim()}`);

    const stores: Store[] = [await s3rverStore(join(work, 's3rver'))];
    if (withSink) stores.push(await sinkStore(archive));
    for (const store of stores) {
      const rounds: Round[] = [];
      for (let i = 0; i < runs; i += 1) {
        const r = await round(store, source, target, archive, scratch);
        rounds.push(r);
        const line = (name: string, script: Run, base: Run) =>
          `${name} ${(mb / script.seconds).toFixed(0)} MB/s vs ${(mb / base.seconds).toFixed(0)} (ratio ${(base.seconds / script.seconds).toFixed(2)}; ` +
          `CPU s ${script.cpu.toFixed(1)} + store ${script.storeCpu.toFixed(1)} vs ${base.cpu.toFixed(1)})`;
        out(`[${store.name}] run ${i + 1}: ${line('save', r.save, r.saveBase)} · ${line('restore', r.restore, r.restoreBase)} · ${r.parts} parts, ${(r.stored / 1e6).toFixed(0)} MB stored`);
      }
      const mbs = (x: number) => `${x.toFixed(0)} MB/s`;
      const ratio = (x: number) => x.toFixed(2);
      out(`[${store.name}] save     ${spread(rounds.map((r) => mb / r.save.seconds), mbs)}; baseline ${spread(rounds.map((r) => mb / r.saveBase.seconds), mbs)}`);
      out(`[${store.name}] save ratio    ${spread(rounds.map((r) => r.saveBase.seconds / r.save.seconds), ratio)} (target >= 0.8)`);
      out(`[${store.name}] restore  ${spread(rounds.map((r) => mb / r.restore.seconds), mbs)}; baseline ${spread(rounds.map((r) => mb / r.restoreBase.seconds), mbs)}`);
      out(`[${store.name}] restore ratio ${spread(rounds.map((r) => r.restoreBase.seconds / r.restore.seconds), ratio)} (target >= 0.8)`);
      await store.close();
    }
    if (withFloor) await floor(source, target, archive, mb);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

// s3rver's logger and the SDK's keep-alive sockets would keep the process alive: exit when done.
main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
    process.exit(1);
  },
);
