/** The dependency rule of DESIGN.md: core/ imports nothing from adapters, config, SDKs or frameworks. */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

const importsOf = (file: string) => [...readFileSync(file, 'utf8').matchAll(/^\s*(?:import|export)[^'"]*from\s+['"]([^'"]+)['"]/gm)].map((m) => m[1] as string);

describe('architecture', () => {
  const core = files(join(root, 'src/core'));

  it('finds the core', () => {
    expect(core.length).toBeGreaterThan(10);
  });

  it.each(core.map((f) => [relative(root, f), f]))('%s imports only the core and node built-ins', (_name, file) => {
    for (const spec of importsOf(file as string)) {
      const ok = spec.startsWith('node:') || (spec.startsWith('.') && !/\/(adapters|config|scheduler)\//.test(join(file as string, '..', spec).replace(root, '')));
      expect(ok, `${relative(root, file as string)} imports ${spec}`).toBe(true);
    }
  });
});
