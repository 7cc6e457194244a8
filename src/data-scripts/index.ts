/**
 * The scripts that save and restore a server's data (real shell files next to
 * this module, shellchecked and tested by running them), and the parsers of
 * the one line each prints last on success. Their environment, exit codes and
 * output are documented at the top of each script.
 */
import { readFileSync } from 'node:fs';
import type { Compression } from '../core/ports/data-store.port.js';

export interface DataScripts {
  save: string;
  restore: string;
}

/** The scripts' text, as sent to a server (after the exported variables). */
export function loadDataScripts(): DataScripts {
  return {
    save: readFileSync(new URL('./save.sh', import.meta.url), 'utf8'),
    restore: readFileSync(new URL('./restore.sh', import.meta.url), 'utf8'),
  };
}

/** Exit codes shared by both scripts. */
export const DATA_SCRIPT_EXIT = {
  ok: 0,
  toolFailed: 1,
  invalidInput: 2,
  checksumMismatch: 3,
  tooManyParts: 4,
  zstdMissing: 5,
  storeRefused: 6,
} as const;

export interface SaveReport {
  /** Stored (compressed) bytes. */
  bytes: number;
  /** SHA-256 (hex) of the stored stream. */
  sha256: string;
  /** Multipart parts uploaded (1..n). */
  parts: number;
  compression: Compression;
  /** Files, folders and links in the archive. */
  entries: number;
}

export interface RestoreReport {
  bytes: number;
  sha256: string;
  entries: number;
  /** Digest of the restored tree, when asked for (`DORMOUSE_TREE_DIGEST=1`). */
  tree?: string;
}

const HEX64 = /^[0-9a-f]{64}$/;
const COUNT = /^(0|[1-9][0-9]{0,15})$/;

/** The fields of the last line starting with `prefix `, when every one is `key=value` with the keys expected, in order. */
function lastReport(stdout: string, prefix: string, keys: readonly string[]): Record<string, string> | undefined {
  const line = stdout
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l.startsWith(`${prefix} `))
    .pop();
  if (line === undefined) return undefined;
  const fields = line.slice(prefix.length + 1).split(/ +/);
  if (fields.length !== keys.length) return undefined;
  const out: Record<string, string> = {};
  for (const [i, field] of fields.entries()) {
    const eq = field.indexOf('=');
    if (eq < 0 || field.slice(0, eq) !== keys[i]) return undefined;
    out[keys[i]!] = field.slice(eq + 1);
  }
  return out;
}

function count(value: string | undefined): number | undefined {
  if (value === undefined || !COUNT.test(value)) return undefined;
  const n = Number(value);
  return Number.isSafeInteger(n) ? n : undefined;
}

/** The save script's report (`dormouse-save v1 bytes=… sha256=… parts=… compression=… entries=…`), or undefined when absent or malformed. */
export function parseSaveReport(stdout: string): SaveReport | undefined {
  const f = lastReport(stdout, 'dormouse-save v1', ['bytes', 'sha256', 'parts', 'compression', 'entries']);
  if (!f) return undefined;
  const bytes = count(f.bytes);
  const parts = count(f.parts);
  const entries = count(f.entries);
  const { sha256, compression } = f;
  if (bytes === undefined || bytes === 0 || parts === undefined || parts === 0 || entries === undefined) return undefined;
  if (sha256 === undefined || !HEX64.test(sha256)) return undefined;
  if (compression !== 'zstd' && compression !== 'gzip') return undefined;
  return { bytes, sha256, parts, compression, entries };
}

/** The restore script's report (`dormouse-restore v1 bytes=… sha256=… entries=… tree=<hex or ->`), or undefined when absent or malformed. */
export function parseRestoreReport(stdout: string): RestoreReport | undefined {
  const f = lastReport(stdout, 'dormouse-restore v1', ['bytes', 'sha256', 'entries', 'tree']);
  if (!f) return undefined;
  const bytes = count(f.bytes);
  const entries = count(f.entries);
  const { sha256, tree } = f;
  if (bytes === undefined || bytes === 0 || entries === undefined) return undefined;
  if (sha256 === undefined || !HEX64.test(sha256)) return undefined;
  if (tree !== '-' && (tree === undefined || !HEX64.test(tree))) return undefined;
  return { bytes, sha256, entries, ...(tree !== '-' ? { tree } : {}) };
}
