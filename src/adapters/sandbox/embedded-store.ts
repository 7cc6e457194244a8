/**
 * The sandbox's DynamoDB: dynalite in this process, on a loopback port, used
 * through the same DynamoDB repository as production (only the endpoint
 * differs). With `dataDir` the tables live in LevelDB at `<dataDir>/store`,
 * so a restart keeps the environments; without it they live in memory.
 *
 * LevelDB allows one opener per folder, and a second dynalite on a locked
 * folder does not fail cleanly: it crashes the process from inside a stream.
 * So the store takes its own lock file, `<dataDir>/store.lock` (holding the
 * owner's pid), before opening, and says plainly who holds it. close()
 * closes the database and the lock, so a new start on the folder works.
 */
import { mkdir, open, readFile, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import dynalite from 'dynalite';
import { isAlive } from './process-alive.js';

export interface EmbeddedStoreOptions {
  /** Folder for the data (`<dataDir>/store`); in memory when absent. */
  dataDir?: string;
  /** Interface to listen on (loopback by default). */
  host?: string;
}

export interface EmbeddedStore {
  /** `http://127.0.0.1:<port>`: give it to the DynamoDB client as `endpoint`. */
  endpoint: string;
  /** Stops listening, closes the database and releases the folder. Safe to call twice. */
  close(): Promise<void>;
}

/** Folders opened by this process: a pid check cannot tell two opens in one process apart. */
const openHere = new Set<string>();

export async function startEmbeddedStore(options: EmbeddedStoreOptions = {}): Promise<EmbeddedStore> {
  const host = options.host ?? '127.0.0.1';
  let storeDir: string | undefined;
  let releaseLock: () => Promise<void> = async () => {};
  if (options.dataDir !== undefined) {
    storeDir = join(resolve(options.dataDir), 'store');
    await mkdir(storeDir, { recursive: true });
    releaseLock = await lockFolder(storeDir);
  }

  const server = dynalite({
    ...(storeDir ? { path: storeDir } : {}),
    createTableMs: 50,
    deleteTableMs: 50,
    updateTableMs: 50,
  });
  try {
    await new Promise<void>((resolveListen, reject) => {
      server.once('error', reject);
      server.listen(0, host, () => {
        server.off('error', reject);
        resolveListen();
      });
    });
  } catch (e) {
    await closeServer(server).catch(() => undefined);
    await releaseLock();
    throw new Error(`The embedded store could not listen on ${host}: ${(e as Error).message}`, { cause: e });
  }

  const { port } = server.address() as AddressInfo;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  let closing: Promise<void> | undefined;
  return {
    endpoint: `http://${urlHost}:${port}`,
    close: () =>
      (closing ??= (async () => {
        try {
          await closeServer(server);
        } finally {
          await releaseLock();
        }
      })()),
  };
}

function closeServer(server: ReturnType<typeof dynalite>): Promise<void> {
  return new Promise((resolveClose, reject) => {
    // dynalite's close() stops the listener, waits for pending database
    // operations, then closes LevelDB (which releases its LOCK).
    server.close((err) => (err ? reject(err) : resolveClose()));
    // The SDK keeps connections alive; without this close() would wait for them.
    server.closeAllConnections();
  });
}

/** Takes `<storeDir>.lock` for this process, replacing a lock left by a process that is gone. */
async function lockFolder(storeDir: string): Promise<() => Promise<void>> {
  const lockPath = `${storeDir}.lock`;
  if (openHere.has(storeDir)) {
    throw new Error(`The embedded store at ${storeDir} is already open in this process; close it before starting it again.`);
  }
  for (let tries = 0; tries < 2; tries++) {
    try {
      const handle = await open(lockPath, 'wx');
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      openHere.add(storeDir);
      return async () => {
        openHere.delete(storeDir);
        await rm(lockPath, { force: true });
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const pid = Number((await readFile(lockPath, 'utf8').catch(() => '')).trim());
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && isAlive(pid)) {
      throw new Error(
        `The embedded store at ${storeDir} is in use by process ${pid} (another Dormouse?). ` +
          `Stop it, or choose another data folder. If no such process is running, delete ${lockPath}.`,
      );
    }
    // Left by a process that is gone (a pid equal to ours is a previous process
    // that had our pid, as in a restarted container: openHere says it is not us).
    await rm(lockPath, { force: true });
  }
  throw new Error(`Could not take the lock ${lockPath} for the embedded store; another process keeps creating it.`);
}

