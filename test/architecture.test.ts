/** The dependency rule of DESIGN.md: core/ imports nothing from adapters, config, SDKs or frameworks. */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { Node } from 'typescript';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');
/** Libraries of pure values and arithmetic, no I/O: the core may use them (time zones are not done by hand). */
const PURE_LIBRARIES = new Set(['luxon']);

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
      const ok =
        spec.startsWith('node:') ||
        PURE_LIBRARIES.has(spec) ||
        (spec.startsWith('.') && !/\/(adapters|config|scheduler)\//.test(join(file as string, '..', spec).replace(root, '')));
      expect(ok, `${relative(root, file as string)} imports ${spec}`).toBe(true);
    }
  });

  it('the unit project starts no emulator, server or process: its tests import none of the tools that do', async () => {
    const { default: config } = await import('../vitest.config.js');
    const unit = (config.test?.projects as Array<{ test: { name: string; include: string[] } }>).find((p) => p.test.name === 'unit')!;
    const patterns = unit.test.include.map((glob) => new RegExp(`^${glob.replace(/\./g, '\\.').replace(/\*\*\//g, '(.*/)?').replace(/\*/g, '[^/]*')}$`));
    const unitFiles = files(join(root, 'test')).map((f) => relative(root, f)).filter((f) => patterns.some((re) => re.test(f)));
    expect(unitFiles.length).toBeGreaterThan(10);
    const heavy = /support\/(aws|dynalite|bot|bot-process|replicas|moto\.global-setup|fault-proxy|world)\.js$|slack-double\.js$|embedded-store\.js$|^playwright/;
    for (const f of unitFiles) {
      for (const spec of importsOf(join(root, f))) expect(heavy.test(spec), `${f} imports ${spec}`).toBe(false);
    }
  });

  it('the core holds no Slack syntax: its strings are plain words (the Slack layer writes the sentences)', async () => {
    const ts = (await import('typescript')).default;
    const slack = [
      [/<@/, 'a mention'],
      [/`/, 'a code mark'],
      [/&(lt|gt|amp);/, 'an HTML escape'],
      [/\/server\b/, 'a slash command'],
      [/:[a-z_]+:(?!\/\/)/, 'an emoji shortcode'],
      [/<https?:|<#[CG]/, 'a Slack link'],
    ] as const;
    const found: string[] = [];
    for (const file of core) {
      const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
      const visit = (node: Node): void => {
        const text = ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node) || ts.isTemplateHead(node) || ts.isTemplateMiddle(node) || ts.isTemplateTail(node) ? node.text : undefined;
        // Regular expressions and import paths are code, not words.
        if (text !== undefined && !ts.isImportDeclaration(node.parent) && !ts.isExportDeclaration(node.parent)) {
          for (const [pattern, what] of slack) {
            if (pattern.test(text)) found.push(`${relative(root, file)}:${source.getLineAndCharacterOfPosition(node.getStart()).line + 1} ${what}: ${JSON.stringify(text.slice(0, 60))}`);
          }
        }
        ts.forEachChild(node, visit);
      };
      visit(source);
    }
    expect(found).toEqual([]);
  });

  it('Block Kit is typed at the Slack boundary: no cast switches the type checks off there', () => {
    const slack = files(join(root, 'src/adapters/slack'));
    expect(slack.length).toBeGreaterThan(20);
    const casts = slack.flatMap((f) =>
      readFileSync(f, 'utf8')
        .split('\n')
        .flatMap((line, i) => (/\bas (never|any)\b|as unknown as/.test(line) ? [`${relative(root, f)}:${i + 1}: ${line.trim().slice(0, 80)}`] : [])),
    );
    expect(casts).toEqual([]);
  });
});
