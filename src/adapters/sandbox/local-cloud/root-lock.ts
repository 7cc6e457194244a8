/**
 * A lock file that lets several bot processes share one local cloud: launch
 * and terminate read the registry, decide, and write, and two processes doing
 * that at once could launch twice or lose a terminate.
 *
 * The lock is `<rootDir>/cloud.lock`, created with `wx` (so one process wins)
 * and holding its holder's pid, the time it was taken and a nonce. A lock
 * whose holder is dead, or that is older than STALE_MS, was left by a crash
 * (or by a process paused for that long) and is broken. Critical sections
 * last milliseconds; waiting for the lock uses real timers, not the injected
 * clock, since what it waits for is another real process.
 */
import { randomUUID } from 'node:crypto';
import { link, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';
import { DomainError, ErrorCodes } from '../../../core/environment/errors.js';
import { isAlive } from '../process-alive.js';

/** A lock older than this was left behind: no critical section lasts this long. */
export const STALE_MS = 30_000;
/** Longer than a stale lock can last: then something is wrong that waiting will not fix. */
const GIVE_UP_MS = 2 * STALE_MS;
const FIRST_RETRY_MS = 2;
const MAX_RETRY_MS = 50;

interface LockContent {
  pid: number;
  at: number;
  nonce: string;
}

/** Runs `fn` while holding the lock file at `path`, waiting (with backoff) for another holder. */
export async function withFileLock<T>(path: string, fn: () => Promise<T>): Promise<T> {
  const nonce = await acquire(path);
  try {
    return await fn();
  } finally {
    await release(path, nonce);
  }
}

async function acquire(path: string): Promise<string> {
  const started = Date.now();
  for (let wait = FIRST_RETRY_MS; ; wait = Math.min(wait * 2, MAX_RETRY_MS)) {
    const content: LockContent = { pid: process.pid, at: Date.now(), nonce: randomUUID() };
    if (await tryCreate(path, content)) return content.nonce;

    const holder = await readLock(path);
    if (holder === 'gone') continue;
    if (holder === 'unreadable' ? await isOld(path) : isStale(holder)) {
      await breakLock(path, holder === 'unreadable' ? undefined : holder.nonce);
      continue;
    }
    if (Date.now() - started > GIVE_UP_MS) {
      const who = holder === 'unreadable' ? 'another process' : `process ${holder.pid}`;
      throw new DomainError(
        ErrorCodes.CLOUD_ERROR,
        `The sandbox's cloud folder is locked by ${who} and has been for over a minute (${path}). ` +
          'If no Dormouse process is running on it, delete that file and retry.',
        { path, holder },
        true,
      );
    }
    await delay(wait);
  }
}

/** Creates the lock file with `wx`: false if another process holds it. */
async function tryCreate(path: string, content: LockContent): Promise<boolean> {
  let handle;
  try {
    handle = await open(path, 'wx');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  }
  try {
    await handle.writeFile(JSON.stringify(content));
  } finally {
    await handle.close();
  }
  return true;
}

/** The holder, 'gone' if the lock was released meanwhile, 'unreadable' while its holder is still writing it. */
async function readLock(path: string): Promise<LockContent | 'gone' | 'unreadable'> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 'gone';
    throw e;
  }
  try {
    const value = JSON.parse(text) as Partial<LockContent>;
    if (typeof value.pid === 'number' && typeof value.at === 'number' && typeof value.nonce === 'string') {
      return value as LockContent;
    }
  } catch {
    // Created but not written yet (or cut short by a crash: then it becomes stale by age below).
  }
  return 'unreadable';
}

function isStale(holder: LockContent): boolean {
  return Date.now() - holder.at > STALE_MS || !isAlive(holder.pid);
}

/** A lock file its holder never finished writing (it crashed right after creating it) is judged by its age. */
async function isOld(path: string): Promise<boolean> {
  try {
    return Date.now() - (await stat(path)).mtimeMs > STALE_MS;
  } catch {
    return false;
  }
}

/**
 * Removes a stale lock, unless someone replaced it meanwhile: the file is
 * moved aside first (atomic), and if what was moved is not the stale lock we
 * judged (another process broke it and took a new one), it is put back.
 */
async function breakLock(path: string, staleNonce: string | undefined): Promise<void> {
  const aside = `${path}.${randomUUID()}.stale`;
  try {
    await rename(path, aside);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw e;
  }
  const moved = await readLock(aside);
  if (moved !== 'gone' && moved !== 'unreadable' && moved.nonce !== staleNonce) {
    await link(aside, path).catch(() => undefined);
  }
  await unlink(aside).catch(() => undefined);
}

/** Removes the lock if it is still ours (a lock held past STALE_MS may have been broken and taken by another). */
async function release(path: string, nonce: string): Promise<void> {
  const holder = await readLock(path);
  if (holder !== 'gone' && holder !== 'unreadable' && holder.nonce === nonce) {
    await unlink(path).catch(() => undefined);
  }
}
