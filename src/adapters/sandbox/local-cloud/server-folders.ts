/**
 * The local cloud's registry: one folder per server under `<rootDir>/servers/`.
 *
 *   servers/i-0123456789abcdef0/
 *     instance.json   the record below
 *     data/           the server's data directory (what sleep/wake save and restore)
 *     bootstrap.log   launch, every step (script and result), stop, start, terminate
 *     commands/       one set of files per command sent (see command-files.ts)
 *
 * The folders are the registry, so a restarted process finds its servers.
 * A server's state is computed from the timestamps in its record and the
 * clock, never from timers, so it moves on while the process is down too.
 * `state` in the file is a snapshot for people reading the folder, refreshed
 * whenever the cloud looks at the server.
 *
 * Stop and start (`sleep: stop`) keep the folder, its data and its private IP.
 * Only the latest stop and start are recorded: a stop sets `stopRequestedAt`
 * and `stoppedAt` and forgets any earlier start; a start sets
 * `startRequestedAt` and moves `runningAt` and `agentOnlineAt` to this boot
 * (each cycle is in bootstrap.log).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { appendFile, link, mkdir, readdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { InstanceState } from '../../../core/ports/compute.port.js';

export interface ServerRecord {
  instanceId: string;
  /** The environment's unique id: what finds the server again (an older record without one matches no id). */
  environmentId: string;
  /** Its name, for people. */
  environment: string;
  owner: string;
  template: string;
  /** Its place in the launch that made it (EC2's AmiLaunchIndex), or for a replacement the server it replaces. */
  index: number;
  attempt: number;
  /** On a replacement only: `<index>.<serial>` (its `dormouse:replacement` tag), what makes its launch idempotent. */
  replacement?: string;
  idempotencyKey: string;
  instanceType: string;
  image: string;
  privateIp: string;
  tags: Record<string, string>;
  /** Snapshot of the computed state (see stateAt). */
  state: InstanceState;
  launchedAt: string;
  /** When it leaves pending: launchedAt + bootMs at launch, then the latest start's boot. */
  runningAt: string;
  /** When its agent accepts commands (runningAt + agentMs), for the latest launch or start. */
  agentOnlineAt: string;
  /** The latest stop: stopping from then, stopped at `stoppedAt` (unless started since). */
  stopRequestedAt?: string;
  /** When it leaves stopping (stopRequestedAt + the stop's delay). */
  stoppedAt?: string;
  /** A start since the latest stop: running again at `runningAt` (a start while stopping boots once it has stopped). */
  startRequestedAt?: string;
  terminateRequestedAt?: string;
  /** When it leaves shutting-down (terminateRequestedAt + terminateMs). */
  terminatedAt?: string;
}

const INSTANCE_ID = /^i-[0-9a-f]{17}$/;

export const isInstanceId = (id: string): boolean => INSTANCE_ID.test(id);

export function newInstanceId(): string {
  return `i-${randomBytes(9).toString('hex').slice(0, 17)}`;
}

/** The state at `now`, from the record's timestamps alone. */
export function stateAt(record: ServerRecord, now: Date): InstanceState {
  const t = now.getTime();
  if (record.terminatedAt !== undefined && t >= Date.parse(record.terminatedAt)) return 'terminated';
  if (record.terminateRequestedAt !== undefined) return 'shutting-down';
  if (record.stoppedAt !== undefined) {
    if (t < Date.parse(record.stoppedAt)) return 'stopping';
    if (record.startRequestedAt === undefined) return 'stopped';
  }
  if (t < Date.parse(record.runningAt)) return 'pending';
  return 'running';
}

/** Whether the server is stopping or stopped with no start since: it will not run (nor its agent answer) until started. */
export const isStopped = (record: ServerRecord): boolean =>
  record.stoppedAt !== undefined && record.startRequestedAt === undefined && record.terminateRequestedAt === undefined;

/**
 * When the server's agent accepts commands (epoch ms, maybe in the past), or
 * undefined when no time can be told: the server is gone, or stopping or
 * stopped with no start since (its agent is offline until someone starts it).
 */
export function agentOnlineAt(record: ServerRecord, now: Date): number | undefined {
  if (isGone(stateAt(record, now)) || isStopped(record)) return undefined;
  return Date.parse(record.agentOnlineAt);
}

export function isAgentOnline(record: ServerRecord, now: Date): boolean {
  const at = agentOnlineAt(record, now);
  return at !== undefined && now.getTime() >= at;
}

export const isGone = (state: InstanceState): boolean => state === 'shutting-down' || state === 'terminated';

export class ServerFolders {
  readonly serversDir: string;

  constructor(readonly rootDir: string) {
    this.serversDir = join(rootDir, 'servers');
  }

  folder(instanceId: string): string {
    // Ids reach file paths: only well-formed ones, never `../…`.
    if (!isInstanceId(instanceId)) throw new Error(`not a sandbox instance id: ${JSON.stringify(instanceId)}`);
    return join(this.serversDir, instanceId);
  }

  dataDir(instanceId: string): string {
    return join(this.folder(instanceId), 'data');
  }

  logPath(instanceId: string): string {
    return join(this.folder(instanceId), 'bootstrap.log');
  }

  commandsDir(instanceId: string): string {
    return join(this.folder(instanceId), 'commands');
  }

  private recordPath(instanceId: string): string {
    return join(this.folder(instanceId), 'instance.json');
  }

  /**
   * Makes the folder (failing if the id is taken), its data directory and log,
   * but not its record: a folder without instance.json is not (yet) a server,
   * so a launch prepares every folder first and then writes the records.
   */
  async prepare(instanceId: string, logLine: string): Promise<void> {
    await mkdir(this.serversDir, { recursive: true });
    await mkdir(this.folder(instanceId)); // not recursive: EEXIST on an id collision
    await mkdir(this.dataDir(instanceId));
    await appendFile(this.logPath(instanceId), logLine);
  }

  /** The record, or undefined for an unknown (or malformed) id or an unreadable record. */
  async read(instanceId: string): Promise<ServerRecord | undefined> {
    if (!isInstanceId(instanceId)) return undefined;
    try {
      return parseRecord(await readFile(this.recordPath(instanceId), 'utf8'));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  async list(): Promise<ServerRecord[]> {
    let names: string[];
    try {
      names = await readdir(this.serversDir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
    const records = await Promise.all(names.filter(isInstanceId).map((id) => this.read(id)));
    return records.filter((r): r is ServerRecord => r !== undefined);
  }

  /** Replaces the record atomically: a reader, in this process or another, never sees half a file. */
  async write(record: ServerRecord): Promise<void> {
    await writeJsonAtomic(this.recordPath(record.instanceId), record);
  }

  async appendLog(instanceId: string, text: string): Promise<void> {
    await appendFile(this.logPath(instanceId), text);
  }
}

/** Writes aside, then renames into place: a reader never sees half a file. */
export async function writeFileAtomic(path: string, text: string): Promise<void> {
  const tmp = `${path}.${randomUUID()}.tmp`;
  await writeFile(tmp, text);
  await rename(tmp, path);
}

export async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  await writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`);
}

/**
 * Creates the file whole, or not at all if it exists: written aside, then
 * hard-linked into place (link fails with EEXIST where rename would replace).
 * Returns false when another writer, in this process or another, was first.
 */
export async function createJsonExclusive(path: string, value: unknown): Promise<boolean> {
  const tmp = `${path}.${randomUUID()}.tmp`;
  await writeFile(tmp, `${JSON.stringify(value, null, 2)}\n`);
  try {
    await link(tmp, path);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
}

/** The parsed JSON file, or undefined when it does not exist. */
export async function readJson(path: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as unknown;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

function parseRecord(text: string): ServerRecord | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!value || typeof value !== 'object') return undefined;
  const r = value as Partial<ServerRecord>;
  const ok =
    typeof r.instanceId === 'string' &&
    typeof r.environment === 'string' &&
    typeof r.index === 'number' &&
    typeof r.attempt === 'number' &&
    typeof r.privateIp === 'string' &&
    typeof r.launchedAt === 'string' &&
    typeof r.runningAt === 'string' &&
    typeof r.agentOnlineAt === 'string';
  // Folders from before environment ids were recorded: they match no id.
  return ok ? ({ ...r, environmentId: typeof r.environmentId === 'string' ? r.environmentId : '' } as ServerRecord) : undefined;
}
