/**
 * The Dockerfile follows the rules that make an image safe to deploy, checked without a
 * container engine (none runs here, and hadolint cannot be installed): dockerfilelint from npm
 * for the generic mistakes, and the rules that matter to Dormouse read from the parsed file
 * (a pinned base, stages, a non-root user that cannot rewrite its code, a health check on
 * /healthz, no secret baked in, installs from the lockfile, production dependencies only).
 * test/deploy/production-build.test.ts runs the same steps and starts what they build.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, posix, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { flagsAndWords, instructions, stages, variableNames, type Stage } from './dockerfile.js';

const REPO = join(import.meta.dirname, '..', '..');
const DOCKERFILE = join(REPO, 'Dockerfile');
const TEXT = readFileSync(DOCKERFILE, 'utf8');
const PACKAGE = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { engines: { node: string }; scripts: Record<string, string> };


const STAGES = stages(TEXT);
const FINAL = STAGES.at(-1)!;
const all = (stage: Stage, keyword: string) => stage.instructions.filter((i) => i.keyword === keyword);
const runs = STAGES.flatMap((s) => all(s, 'RUN').map((i) => ({ stage: s, ins: i })));

/**
 * Docker's .dockerignore matching (moby/patternmatcher): patterns in order, the last one that
 * matches a path or one of its parent folders decides, `!` lets a path back in; `*` and `?`
 * stay within one path segment, `**` crosses them.
 */
function dockerignored(patterns: string[], path: string): boolean {
  const rules = patterns.map((p) => {
    const exception = p.startsWith('!');
    const glob = posix.normalize((exception ? p.slice(1) : p).trim()).replace(/^\/+/, '');
    let re = '';
    for (let i = 0; i < glob.length; i += 1) {
      const c = glob[i]!;
      if (c === '*' && glob[i + 1] === '*') {
        const slash = glob[i + 2] === '/';
        re += slash ? '(?:.*/)?' : '.*';
        i += slash ? 2 : 1;
      } else if (c === '*') re += '[^/]*';
      else if (c === '?') re += '[^/]';
      else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
    }
    return { exception, re: new RegExp(`^${re}$`) };
  });
  const segments = path.split('/');
  const candidates = segments.map((_, i) => segments.slice(0, i + 1).join('/'));
  let excluded = false;
  for (const rule of rules) if (candidates.some((c) => rule.re.test(c))) excluded = !rule.exception;
  return excluded;
}

function filesUnder(path: string): string[] {
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path).flatMap((name) => filesUnder(join(path, name)));
}

describe('the Dockerfile', () => {
  it('passes dockerfilelint, which does flag a bad Dockerfile (so a silent linter cannot pass it)', () => {
    const bin = join(dirname(createRequire(import.meta.url).resolve('dockerfilelint/package.json')), 'bin', 'dockerfilelint');
    const lint = (input: string) => {
      const r = spawnSync(process.execPath, [bin, '-j'], { input, encoding: 'utf8', cwd: REPO });
      const report = JSON.parse(r.stdout) as { totalIssues: number; files: Array<{ issues: Array<{ line: string; title: string; description: string }> }> };
      return report.files.flatMap((f) => f.issues.map((i) => `line ${i.line}: ${i.title}: ${i.description}`));
    };
    expect(lint(TEXT)).toEqual([]);
    expect(lint('FROM node:latest\nRUN apt-get install curl\n').join('\n')).toMatch(/Base Image Latest Tag/);
  });

  it('pins every base image to one Node patch version on slim Debian, the major CI tests with and package.json allows', () => {
    const bases = STAGES.map((s) => s.image).filter((image) => !STAGES.some((s) => s.name === image));
    expect(bases.length).toBeGreaterThan(0);
    for (const image of bases) expect(image, 'a floating tag (latest, 20, 20-slim) rebuilds into another Node').toMatch(/^node:\d+\.\d+\.\d+-[a-z]+-slim(@sha256:[0-9a-f]{64})?$/);
    expect(new Set(bases).size, 'every stage on the same Node').toBe(1);
    const [major, minor] = /^node:(\d+)\.(\d+)\./.exec(bases[0]!)!.slice(1).map(Number) as [number, number];
    expect(major).toBe(Number(process.versions.node.split('.')[0]));
    const [needMajor, needMinor] = /^>=(\d+)\.(\d+)/.exec(PACKAGE.engines.node)!.slice(1).map(Number) as [number, number];
    expect(major > needMajor || (major === needMajor && minor >= needMinor), `${bases[0]} against engines ${PACKAGE.engines.node}`).toBe(true);
  });

  it('builds in stages: the runtime stage copies from earlier ones and installs no build or test tools', () => {
    expect(STAGES.length).toBeGreaterThanOrEqual(2);
    const from = all(FINAL, 'COPY').map((i) => flagsAndWords(i.args).flags.from).filter(Boolean);
    expect(from.length).toBeGreaterThan(0);
    for (const f of from) expect(STAGES.slice(0, -1).map((s) => s.name)).toContain(f);
    for (const ins of all(FINAL, 'RUN')) {
      expect(ins.args, `line ${ins.line}`).not.toMatch(/\bnpm run (typecheck|build)\b|\btsc\b|apt-get install/);
      if (/\bnpm ci\b/.test(ins.args)) expect(ins.args, `line ${ins.line}`).toMatch(/--omit=dev/);
    }
  });

  it('installs exactly what the lockfile says (npm ci, never npm install)', () => {
    expect(runs.some((r) => /\bnpm ci\b/.test(r.ins.args))).toBe(true);
    for (const { ins } of runs) expect(ins.args, `line ${ins.line}`).not.toMatch(/\bnpm (install|i|add)\b|\byarn\b|\bpnpm\b/);
  });

  it("gives the runtime only production dependencies: its node_modules come from an `npm ci --omit=dev`", () => {
    const installedHere = all(FINAL, 'RUN').some((i) => /\bnpm ci\b.*--omit=dev/.test(i.args));
    const copied = all(FINAL, 'COPY')
      .map((i) => flagsAndWords(i.args))
      .filter((c) => c.flags.from && c.words.slice(0, -1).some((w) => /(^|\/)node_modules\/?$/.test(w)))
      .map((c) => STAGES.find((s) => s.name === c.flags.from)!);
    expect(installedHere || copied.length > 0, 'the runtime stage has node_modules').toBe(true);
    for (const stage of copied) {
      const installs = all(stage, 'RUN').filter((i) => /\bnpm ci\b/.test(i.args));
      expect(installs.length, `stage ${stage.name} installs`).toBeGreaterThan(0);
      for (const i of installs) expect(i.args, `stage ${stage.name}, line ${i.line}`).toMatch(/--omit=dev/);
    }
  });

  it('runs as a non-root user that cannot rewrite its own code', () => {
    const user = all(FINAL, 'USER').at(-1);
    expect(user, 'the runtime stage sets USER').toBeDefined();
    expect(user!.args.split(':')[0]).not.toMatch(/^(root|0)$/);
    // COPY without --chown leaves files to root, readable by all: the process can read its code, not change it.
    for (const ins of all(FINAL, 'COPY')) expect(flagsAndWords(ins.args).flags.chown ?? 'root', `line ${ins.line}`).toMatch(/^(root|0)(:(root|0))?$/);
    // Nor may a RUN hand files over, or make them writable by group or others (g+w, o+w, 664, 777…).
    for (const ins of all(FINAL, 'RUN')) expect(ins.args, `line ${ins.line}`).not.toMatch(/\bchown\b|\bchmod\b.*(?:[ago]*\+\w*w|\b[0-7]?[0-7][2367][0-7]\b|\b[0-7]?[0-7][0-7][2367]\b)/);
  });

  it('checks its health on /healthz with node itself (slim images have no curl), on the port it exposes and the bot uses by default', () => {
    const health = all(FINAL, 'HEALTHCHECK');
    expect(health).toHaveLength(1);
    const [, options, cmd] = /^(.*?)\s*CMD\s+(\[.*\])$/.exec(health[0]!.args) ?? [];
    expect(cmd, 'HEALTHCHECK [options] CMD ["…"] (exec form: no shell needed)').toBeDefined();
    expect(options).toMatch(/--interval=\d+s/);
    expect(options).toMatch(/--timeout=\d+s/);
    const argv = JSON.parse(cmd!) as string[];
    expect(argv[0]).toBe('node');
    // What it asks is checked for real in production-build.test.ts; here, that it asks the right place.
    for (const part of ['http://127.0.0.1:', 'process.env.PORT || 3000', '/healthz']) expect(argv.join(' ')).toContain(part);
    // No Slack settings: the sandbox, whose defaults are what an unconfigured image gets too.
    const port = loadConfig({}, REPO).http.port;
    expect(all(FINAL, 'EXPOSE').map((i) => i.args)).toEqual([String(port)]);
    expect(port).toBe(3000);
  });

  it('bakes no secret in: no ENV or ARG named like one, no token-shaped value', () => {
    const variables = STAGES.flatMap((s) => [...all(s, 'ENV'), ...all(s, 'ARG')].flatMap((i) => variableNames(i).map((name) => ({ name, line: i.line }))));
    expect(variables.map((v) => v.name)).toContain('NODE_ENV'); // the parser does see them
    for (const v of variables) expect(v.name, `line ${v.line}`).not.toMatch(/TOKEN|SECRET|PASSWORD|PASSWD|KEY|CREDENTIAL|PRIVATE/i);
    const code = instructions(TEXT).map((i) => `${i.keyword} ${i.args}`).join('\n');
    expect(code).not.toMatch(/xox[abposre]-|xapp-|AKIA[0-9A-Z]{16}|aws_secret_access_key/i);
  });

  it('runs in production mode and starts as `npm start` does, in exec form (node gets SIGTERM itself)', () => {
    expect(all(FINAL, 'ENV').flatMap((i) => [...i.args.matchAll(/(?:^|\s)NODE_ENV=(\S+)/g)].map((m) => m[1]))).toEqual(['production']);
    const cmd = all(FINAL, 'CMD');
    expect(cmd).toHaveLength(1);
    expect(JSON.parse(cmd[0]!.args) as string[]).toEqual(PACKAGE.scripts.start!.split(' '));
  });

  it('copies into the runtime what the code reads when it runs: the source with its scripts and assets, package.json, tsconfig.json, the default templates', () => {
    const workdir = all(FINAL, 'WORKDIR').at(-1)?.args ?? '/';
    const destinations = all(FINAL, 'COPY').flatMap((i) => {
      const { words } = flagsAndWords(i.args);
      const dest = posix.resolve(workdir, words.at(-1)!);
      const sources = words.slice(0, -1);
      return dest.endsWith('/') || words.at(-1)!.endsWith('/') || sources.length > 1 ? sources.map((s) => posix.join(dest, posix.basename(s))) : [dest];
    });
    const templates = relative(REPO, loadConfig({}, REPO).templatesPath).split('\\').join('/');
    for (const needed of ['src', 'node_modules', 'package.json', 'tsconfig.json', templates]) expect(destinations).toContain(posix.join(workdir, needed));
  });
});

describe('.dockerignore', () => {
  const patterns = readFileSync(join(REPO, '.dockerignore'), 'utf8')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));

  it('lets in every file the Dockerfile copies from the build context (else the build fails on it, or ships without it)', () => {
    const sources = STAGES.flatMap((s) => all(s, 'COPY').map((i) => flagsAndWords(i.args)).filter((c) => !c.flags.from).flatMap((c) => c.words.slice(0, -1)));
    expect(sources).toContain('src');
    for (const source of sources) {
      expect(existsSync(join(REPO, source)), source).toBe(true);
      const shut = filesUnder(join(REPO, source)).map((f) => relative(REPO, f).split('\\').join('/')).filter((f) => dockerignored(patterns, f));
      expect(shut, `${source}: files the Dockerfile copies but .dockerignore keeps out`).toEqual([]);
    }
  });

  it('keeps out secrets and local state: .env, .git, node_modules, the sandbox folder, test output, the tests', () => {
    for (const path of ['.env', '.env.local', 'src/.env', '.git/config', 'node_modules/tsx/package.json', 'src/node_modules/x.js', '.dormouse/store/x', 'test-output/vitest.json', 'test/infra.test.ts', 'docs/x.md']) {
      expect(dockerignored(patterns, path), path).toBe(true);
    }
    expect(dockerignored(patterns, 'src/main.ts')).toBe(false); // and the matcher does let things in
  });
});
