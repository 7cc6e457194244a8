/**
 * The image's build, run outside a container (no container engine runs here): the steps the
 * Dockerfile names, read from it, replayed in a fresh temp folder, one folder per stage, with
 * the npm cache and no network. Then the runtime stage's CMD is started as the image would
 * start it (as a user that is not root, when this test can switch user) and must answer
 * /healthz, pass the image's own HEALTHCHECK command, and exit 0 on SIGTERM.
 *
 * What it proves: the production install from the lockfile works and leaves out every
 * devDependency; nothing the bot needs at start is a devDependency or a file the runtime stage
 * forgot to copy; the CMD and the HEALTHCHECK work. What it does not: the base image itself
 * (the Node here stands in for it), and the build stage's type check, which CI runs on the
 * repository (`npm run typecheck`) and is not repeated here.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmod, chown, cp, mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, dirname, join, posix } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { envPairs, flagsAndWords, stages } from './dockerfile.js';

const REPO = join(import.meta.dirname, '..', '..');
const TEXT = readFileSync(join(REPO, 'Dockerfile'), 'utf8');

/**
 * Build steps that only check the source, and the full install that serves them. The image
 * is made only if they pass, but they produce nothing it runs; CI runs both on the repository.
 * If a later Dockerfile takes something they make into the runtime, the COPY that takes it
 * fails here, saying so.
 */
const CHECK_ONLY = [/^npm ci(?!.*--omit=dev)(\s+--no-(audit|fund))*$/, /^npm run typecheck$/];

/** The node user of the official Node images: the runtime runs as it when this test runs as root. */
const NODE_USER = { uid: 1000, gid: 1000 };


class NotCached extends Error {}

/** A stage as built: its files under `root` (a container path /x is `root`/x), its settings. */
interface BuiltStage {
  name: string;
  root: string;
  workdir: string;
  env: Record<string, string>;
  user?: string;
  cmd?: string[];
  healthcheck?: string[];
  skipped: string[];
}

function npmCacheFolder(): string {
  const r = spawnSync('npm', ['config', 'get', 'cache'], { encoding: 'utf8', cwd: REPO });
  return r.stdout.trim();
}

/**
 * A file, or a folder's contents, to `target`, symlinks as they are (node_modules/.bin).
 * The system's cp where there is one: node_modules is tens of thousands of files, which
 * fs.cp copies several times slower.
 */
async function copy(src: string, target: string): Promise<void> {
  if (process.platform !== 'win32') {
    const folder = (await stat(src)).isDirectory();
    const r = spawnSync('cp', ['-a', folder ? `${src}/.` : src, target], { encoding: 'utf8' });
    if (r.status === 0) return;
    throw new Error(`cp -a ${src} ${target}: ${r.stderr || r.error?.message}`);
  }
  await cp(src, target, { recursive: true, verbatimSymlinks: true });
}

/** Replays the Dockerfile's stages under `base`, building a stage only when another takes from it. */
async function buildImage(base: string): Promise<{ runtime: BuiltStage; timings: string[] }> {
  const sections = stages(TEXT);
  const built = new Map<string, BuiltStage>();
  const timings: string[] = [];
  const npmCache = npmCacheFolder();

  async function build(name: string): Promise<BuiltStage> {
    const done = built.get(name);
    if (done) return done;
    const section = sections.find((s) => s.name === name)!;
    const parent = sections.find((s) => s.name === section.image);
    const stage: BuiltStage = { name, root: join(base, name), workdir: '/', env: {}, skipped: [] };
    if (parent) {
      const from = await build(parent.name);
      await copy(from.root, stage.root);
      Object.assign(stage, { workdir: from.workdir, env: { ...from.env }, user: from.user });
    } else await mkdir(stage.root, { recursive: true });
    const host = (path: string) => join(stage.root, posix.resolve(stage.workdir, path));

    for (const ins of section.instructions) {
      const where = `Dockerfile line ${ins.line} (stage ${name})`;
      switch (ins.keyword) {
        case 'WORKDIR':
          stage.workdir = posix.resolve(stage.workdir, ins.args);
          await mkdir(host('.'), { recursive: true });
          break;
        case 'ENV':
          for (const [k, v] of envPairs(ins.args)) stage.env[k] = v;
          break;
        case 'ARG':
        case 'EXPOSE':
        case 'LABEL':
          break;
        case 'USER':
          stage.user = ins.args;
          break;
        case 'CMD':
          stage.cmd = JSON.parse(ins.args) as string[];
          break;
        case 'HEALTHCHECK':
          stage.healthcheck = JSON.parse(/\bCMD\s+(\[.*\])$/.exec(ins.args)![1]!) as string[];
          break;
        case 'COPY': {
          const { flags, words } = flagsAndWords(ins.args);
          const dest = words.pop()!;
          const from = flags.from ? await build(flags.from) : undefined;
          const toFolder = dest.endsWith('/') || words.length > 1;
          const started = Date.now();
          for (const source of words) {
            if (/[*?[]/.test(source)) throw new Error(`${where}: COPY with a wildcard; teach this test to expand it`);
            const src = from ? join(from.root, posix.resolve(from.workdir, source)) : join(REPO, source);
            const isFolder = await stat(src).then(
              (s) => s.isDirectory(),
              () => {
                throw new Error(`${where}: COPY ${source}: not there${from ? ` in stage ${from.name} (made by a step this test skips? ${from.skipped.join('; ') || 'none skipped'})` : ''}`);
              },
            );
            const target = isFolder || !toFolder ? host(dest) : join(host(dest), basename(src));
            await mkdir(isFolder ? target : dirname(target), { recursive: true });
            await copy(src, target);
          }
          if (Date.now() - started > 1000) timings.push(`COPY ${ins.args}: ${((Date.now() - started) / 1000).toFixed(1)} s`);
          break;
        }
        case 'RUN': {
          if (CHECK_ONLY.some((re) => re.test(ins.args))) {
            stage.skipped.push(ins.args);
            break;
          }
          const started = Date.now();
          // The npm cache and no network: what the lockfile names must already be on this machine.
          const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...stage.env, npm_config_cache: npmCache, npm_config_offline: 'true', npm_config_update_notifier: 'false' };
          const r = spawnSync('sh', ['-c', ins.args], { cwd: host('.'), env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
          const output = `${r.stdout}\n${r.stderr}`;
          if (r.status !== 0) {
            if (/ENOTCACHED/.test(output)) throw new NotCached(`${where}: \`${ins.args}\` needs packages the npm cache (${npmCache}) lacks; \`npm ci\` in the repository, with the registry reachable, fills it.\n${output.slice(-2000)}`);
            throw new Error(`${where}: \`${ins.args}\` exited with ${r.status ?? r.signal}:\n${output.slice(-4000)}`);
          }
          timings.push(`${ins.args}: ${((Date.now() - started) / 1000).toFixed(1)} s`);
          break;
        }
        default:
          throw new Error(`${where}: ${ins.keyword} is not replayed by this test yet; teach it`);
      }
    }
    built.set(name, stage);
    return stage;
  }

  const runtime = await build(sections.at(-1)!.name);
  return { runtime, timings };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Where the bot says it listens: pino's 'Dormouse is listening' (its `events`) or, in the
 * sandbox, 'Sandbox console: …' (its `url`); or the sandbox's banner, printed whatever the log level.
 */
function listeningUrl(line: string): string | undefined {
  if (line.startsWith('{')) {
    try {
      const l = JSON.parse(line) as { msg?: unknown; url?: unknown; events?: unknown };
      if (l.msg === 'Dormouse is listening' && typeof l.events === 'string') return l.events;
      if (typeof l.msg === 'string' && l.msg.startsWith('Sandbox console') && typeof l.url === 'string') return l.url;
    } catch {
      // not JSON after all
    }
    return undefined;
  }
  return /Dormouse sandbox: open (http:\/\/\S+)/.exec(line)?.[1];
}

/** `node` in the image is the Node running this test. */
const argv = (command: string[]) => (command[0] === 'node' ? [process.execPath, ...command.slice(1)] : command);

let base: string;
let runtime: BuiltStage;
let timings: string[] = [];
let notCached: string | undefined;
/**
 * As whom the runtime runs: the image's USER, when it is the image's node user and this test
 * may switch to it (it runs as root in CI); else as whoever runs the test.
 */
const asUser = (): { uid?: number; gid?: number } => (runtime.user === 'node' && process.getuid?.() === 0 ? NODE_USER : {});

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'dormouse-image-'));
  await chmod(base, 0o755); // the node user reads the code, as it does in the image, where root owns it
  try {
    ({ runtime, timings } = await buildImage(base));
  } catch (error) {
    if (!(error instanceof NotCached)) throw error;
    notCached = error.message;
  }
}, 300_000);

afterAll(async () => {
  if (base) await rm(base, { recursive: true, force: true });
});

function skipIfNotCached(skip: () => void): void {
  if (!notCached) return;
  // eslint-disable-next-line no-console -- the one line that says why the production build did not run
  console.warn(`production-build.test: skipped, ${notCached}`);
  skip();
}

describe('the image built outside a container', () => {
  it('has every production dependency of the lockfile and no devDependency', (ctx) => {
    skipIfNotCached(() => ctx.skip());
    const app = join(runtime.root, runtime.workdir);
    const lock = JSON.parse(readFileSync(join(REPO, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean; optional?: boolean; devOptional?: boolean }> };
    const entries = Object.entries(lock.packages).filter(([path]) => path.startsWith('node_modules/'));
    const missing = entries.filter(([path, p]) => !p.dev && !p.optional && !p.devOptional && !existsSync(join(app, path))).map(([path]) => path);
    const devHere = entries.filter(([path, p]) => p.dev && existsSync(join(app, path))).map(([path]) => path);
    expect(missing).toEqual([]);
    expect(devHere).toEqual([]);
    expect(entries.filter(([, p]) => p.dev).length).toBeGreaterThan(0); // there were some to leave out
    for (const tool of ['typescript', 'vitest', 'eslint']) expect(existsSync(join(app, 'node_modules', tool)), tool).toBe(false);
  });

  it('starts with the CMD as a non-root user, answers /healthz, passes its HEALTHCHECK, and exits 0 on SIGTERM', async (ctx) => {
    skipIfNotCached(() => ctx.skip());
    expect(runtime.cmd, 'the runtime stage has a CMD').toBeDefined();
    expect(runtime.healthcheck, 'the runtime stage has a HEALTHCHECK').toBeDefined();
    const port = await freePort();
    const user = asUser();
    // Writable by the process: what `docker run` gives it (-e DORMOUSE_SANDBOX_DIR, a home).
    const sandbox = join(base, 'sandbox');
    const home = join(base, 'home');
    for (const dir of [sandbox, home]) {
      await mkdir(dir);
      if (user.uid !== undefined) await chown(dir, user.uid, user.gid!);
    }
    const env = {
      PATH: process.env.PATH ?? '',
      HOME: home,
      ...runtime.env,
      // No Slack settings: the sandbox, the one mode that starts with nothing outside this machine.
      PORT: String(port),
      DORMOUSE_SANDBOX_DIR: sandbox,
      LOG_LEVEL: 'info',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    };
    const [command, ...args] = argv(runtime.cmd!);
    const started = Date.now();
    const child: ChildProcess = spawn(command!, args, { cwd: join(runtime.root, runtime.workdir), env, stdio: ['ignore', 'pipe', 'pipe'], ...user });
    const output: string[] = [];
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      createInterface({ input: child.stderr! }).on('line', (l) => output.push(`[stderr] ${l}`));
      // The bot says where it listens (pino's JSON, or the sandbox's banner when logs are quieter).
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no 'listening' line within 60 s:\n${output.join('\n')}`)), 60_000);
        void exited.then((code) => reject(new Error(`the bot exited with ${code} before listening:\n${output.join('\n')}`)));
        createInterface({ input: child.stdout! }).on('line', (line) => {
          output.push(line);
          const found = listeningUrl(line);
          if (found) {
            clearTimeout(timer);
            resolve(found);
          }
        });
      });
      expect(new URL(url).port).toBe(String(port));

      // /healthz says 503 while the sandbox is still coming up, then 200.
      let status = 0;
      const deadline = Date.now() + 30_000;
      while (status !== 200 && Date.now() < deadline) {
        status = await fetch(`http://127.0.0.1:${port}/healthz`).then(
          (r) => r.status,
          () => 0,
        );
        if (status !== 200) await new Promise((r) => setTimeout(r, 100));
      }
      expect(status, output.join('\n')).toBe(200);
      const ready = Date.now() - started;

      const healthcheck = (): number | null => {
        const [hc, ...hcArgs] = argv(runtime.healthcheck!);
        return spawnSync(hc!, hcArgs, { env: { PATH: env.PATH, PORT: env.PORT }, timeout: 10_000, ...user }).status;
      };
      expect(healthcheck(), 'HEALTHCHECK while healthy').toBe(0);

      child.kill('SIGTERM');
      const code = await Promise.race([exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 15_000))]);
      expect(code, output.slice(-20).join('\n')).toBe(0);
      // And it does fail: with nothing listening, the check says unhealthy.
      expect(healthcheck(), 'HEALTHCHECK with the bot stopped').not.toBe(0);
      process.stderr.write(`production-build.test: ${[...timings, `CMD to /healthz 200: ${(ready / 1000).toFixed(1)} s`].join('; ')}${user.uid !== undefined ? ` (as uid ${user.uid})` : ''}\n`);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  }, 120_000);
});
