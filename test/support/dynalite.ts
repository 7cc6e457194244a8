/**
 * An in-memory dynalite on a free loopback port, for tests (and a fresh one
 * per suite: nothing is shared or kept).
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';

interface DynaliteOptions {
  /** How long a new table stays CREATING (default 500 ms). */
  createTableMs?: number;
  deleteTableMs?: number;
  updateTableMs?: number;
  /** A LevelDB folder; in memory when absent. */
  path?: string;
}

// dynalite ships no type declarations: load it through `require` with the
// little of its API we use typed here, rather than declaring the module
// globally for the whole project.
const dynalite = createRequire(import.meta.url)('dynalite') as (options?: DynaliteOptions) => Server;

export interface RunningDynalite {
  endpoint: string;
  close(): Promise<void>;
}

export async function startDynalite(options: DynaliteOptions = {}): Promise<RunningDynalite> {
  const server = dynalite({ createTableMs: 20, deleteTableMs: 20, updateTableMs: 20, ...options });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        // The SDK keeps connections alive; without this close() waits for them.
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}
