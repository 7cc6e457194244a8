/**
 * dynalite ships no type declarations; this is the little of its API the
 * sandbox uses (https://github.com/architect/dynalite#usage).
 */
declare module 'dynalite' {
  import type { Server } from 'node:http';

  interface DynaliteOptions {
    /** A LevelDB folder; in memory when absent. */
    path?: string;
    /** How long a new table stays CREATING (default 500 ms). */
    createTableMs?: number;
    deleteTableMs?: number;
    updateTableMs?: number;
    maxItemSizeKb?: number;
    verbose?: boolean;
    debug?: boolean;
    ssl?: boolean;
  }

  /** An http.Server whose close() also closes the database (releasing its LevelDB lock). */
  function dynalite(options?: DynaliteOptions): Server;
  export = dynalite;
}
