/** What a folder holds, as plain data a test can compare: what sleep and wake must keep. */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Every file under `root` (folders walked), by relative path, with its content in base64. */
export function files(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string) => {
    for (const e of readdirSync(join(root, rel), { withFileTypes: true })) {
      const path = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(path);
      else out[path] = readFileSync(join(root, path)).toString('base64');
    }
  };
  walk('');
  return out;
}
