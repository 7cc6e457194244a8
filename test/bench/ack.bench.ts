/**
 * Ack benchmark: how fast Slack's requests are acknowledged (the HTTP answer
 * to Slack's POST, due within 3 s), Dormouse against a bare Bolt app doing
 * comparable work, side by side in one run. Target: Dormouse's p99 at most
 * 1.2 × the bare app's. Run on a quiet machine:
 *
 *   npm run bench:ack                          # 3 rounds per app per command, 200 concurrent
 *   npm run bench:ack -- 5                     # more rounds
 *   npm run bench:ack -- 5 --concurrency=100   # fewer requests at once
 *   npm run bench:ack -- --warmup=1            # fewer unmeasured rounds first (default 3)
 *   npm run bench:ack -- --check               # exit 1 when a ratio is over target
 *
 * Set-up: one moto_server and one Slack side (test/bench/ack-slack-side.ts: a
 * SlackDouble for the Web API plus a collector for response_url answers), on
 * free loopback ports; then the two apps, both child processes, both up for
 * the whole run:
 *  - dormouse: `node --import tsx src/main.ts`, as production runs it;
 *  - bare: test/bench/ack-bare-app.ts, a Bolt App on HTTPReceiver with the
 *    same clients and comparable work after its ack.
 *
 * For each of `/server help`, `/server list`, `/server list all`: warm-up
 * rounds per app (3 by default: latency keeps falling for several rounds while
 * the JIT compiles the hot paths, more so for the app with more code), then
 * rounds alternating dormouse, bare, dormouse, bare… Each
 * round fires N concurrent slash commands, signed as Slack signs them, each
 * with its own trigger_id and a response_url on the collector, and times each
 * from the moment the request has been written to the socket to the end of
 * the HTTP answer; a request not acked (Bolt's 404 after 3 s, no answer)
 * counts as infinitely slow. A round ends when every acked request's
 * response_url answer has arrived and the apps, moto and the Slack side have
 * gone idle (from /proc), so no round pays for the one before; 180 s at most.
 *
 * Both apps read the same table, the one Dormouse creates: moto answers a
 * GSI query by reading every item of the table, so Dormouse's delivery claims
 * make both apps' `list` reads slower as the run goes on, alike.
 *
 * Prints, per command, p50, p99 and max of each app, the ratio of Dormouse's
 * p99 to the bare app's against the target (the p99 of all measured requests
 * together), the same ratio for the median of the rounds' p99 (less swayed by
 * one noisy round on a small machine), and the machine. Exits 0 even over
 * target, unless `--check` is given (judged on the first, stricter ratio).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { signedHeaders } from '../../src/adapters/sandbox/slack-console/slack-signature.js';
import { freePort } from '../support/moto.global-setup.js';

const args = process.argv.slice(2);
const rounds = Number(args.find((a) => /^\d+$/.test(a)) ?? 3);
const concurrency = Number(/^--concurrency=(\d+)$/.exec(args.find((a) => a.startsWith('--concurrency=')) ?? '')?.[1] ?? 200);
const check = args.includes('--check');
/** Unmeasured rounds per app and command first: both apps reach their steady (JIT-compiled) state, as a long-running bot is. */
const warmups = Number(/^--warmup=(\d+)$/.exec(args.find((a) => a.startsWith('--warmup=')) ?? '')?.[1] ?? 3);
const TARGET = 1.2;
const COMMANDS = ['help', 'list', 'list all'] as const;
const APPS = ['dormouse', 'bare'] as const;
type AppName = (typeof APPS)[number];

const root = join(import.meta.dirname, '..', '..');
const SECRET = 'bench-signing-secret';
const TOKEN = 'xoxb-bench';
/**
 * How long a round may take to get every response_url answer, and then to go
 * quiet. moto answers a GSI query by reading every item of the table, so
 * 200 × `list all` (one query per live state each) keeps it busy for a while.
 */
const ROUND_TIMEOUT_MS = 180_000;
/** A request with no answer by then counts as failed (Slack gives up at 3 s; Bolt answers 404 after 3 s). */
const REQUEST_TIMEOUT_MS = 15_000;
/** Quiet: the apps, moto and the Slack side together used at most this many CPU ticks (1/100 s) in QUIET_WINDOW_MS. */
const QUIET_TICKS = 2;
const QUIET_WINDOW_MS = 500;

// ── processes ────────────────────────────────────────────────────────────────

interface Child {
  name: string;
  child: ChildProcess;
  /** Apps are stopped first (Dormouse waits for work under way, up to 10 s), then the Slack side and moto. */
  role: 'app' | 'support';
  /** The end of what it wrote to its log file (stderr, and stdout unless piped). */
  tail: () => string;
}
const children: Child[] = [];
const tmp = mkdtempSync(join(tmpdir(), 'dormouse-bench-ack-'));

/** A log file a child writes to (the benchmark's own event loop does not read it while measuring). */
function logFile(name: string): { fd: number; tail: () => string } {
  const path = join(tmp, `${name}.log`);
  const fd = openSync(path, 'w');
  return {
    fd,
    tail: () => {
      try {
        return readFileSync(path, 'utf8').slice(-3000);
      } catch {
        return '';
      }
    },
  };
}

/** Starts a child with only the env it needs (plus PATH and HOME); its stdout is piped or goes to its log. */
function start(name: string, role: Child['role'], command: string, argv: string[], env: Record<string, string>, pipeStdout: boolean): Child {
  const log = logFile(name);
  const child = spawn(command, argv, {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
    stdio: ['ignore', pipeStdout ? 'pipe' : log.fd, log.fd],
  });
  closeSync(log.fd); // the child has its own copy
  const c = { name, child, role, tail: log.tail };
  children.push(c);
  return c;
}

const running = (c: ChildProcess) => c.exitCode === null && c.signalCode === null;

async function stopChild(child: ChildProcess, graceMs: number): Promise<void> {
  if (!running(child)) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

let cleaning: Promise<void> | undefined;
function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    await Promise.all(children.filter((c) => c.role === 'app').map((c) => stopChild(c.child, 12_000)));
    await Promise.all(children.filter((c) => c.role === 'support').map((c) => stopChild(c.child, 3_000)));
    rmSync(tmp, { recursive: true, force: true });
  })();
  return cleaning;
}
process.on('exit', () => {
  for (const { child } of children) if (running(child)) child.kill('SIGKILL');
});
let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    interrupted = true;
    process.stderr.write(`\n${signal}: stopping the apps and moto…\n`);
    void cleanup().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  });
}

/** Resolves with the first stdout line `pick` accepts; rejects if the child exits or the time runs out. */
function firstLine<T>({ child, name, tail }: Child, pick: (line: string) => T | undefined, timeoutMs = 60_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    let done = false;
    const fail = (why: string) => {
      if (done) return;
      done = true;
      reject(new Error(`${name} ${why}\n${tail()}`));
    };
    const timer = setTimeout(() => fail(`did not start within ${timeoutMs} ms`), timeoutMs);
    lines.on('line', (line) => {
      if (done) return;
      const found = pick(line);
      if (found !== undefined) {
        done = true;
        clearTimeout(timer);
        resolve(found);
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      fail(`exited (${signal ?? code}) before listening`);
    });
  });
}

const benchLine = (line: string) => (line.startsWith('BENCH_LISTENING ') ? line.slice('BENCH_LISTENING '.length).trim() : undefined);

async function waitForMoto(url: string, { child, tail }: Child): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (!running(child)) throw new Error(`moto_server exited\n${tail()}`);
    try {
      if ((await fetch(`${url}/moto-api/`)).status < 500) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`moto_server did not answer at ${url}\n${tail()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** CPU time (clock ticks) used so far by these processes, from /proc; undefined where there is no /proc. */
function cpuTicks(pids: number[]): number | undefined {
  let sum = 0;
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      sum += Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15)
    } catch {
      return undefined;
    }
  }
  return sum;
}

/**
 * Resolves once the processes have been idle for a whole window: the work a
 * round set off (listeners Bolt gave up on included, which answer nobody) is
 * over, and the next round starts on a quiet machine. Without /proc: a fixed pause.
 */
async function quiet(pids: number[], deadline: number): Promise<boolean> {
  let before = cpuTicks(pids);
  if (before === undefined) {
    await new Promise((r) => setTimeout(r, 3_000));
    return true;
  }
  for (;;) {
    await new Promise((r) => setTimeout(r, QUIET_WINDOW_MS));
    const now = cpuTicks(pids);
    if (now === undefined) return false;
    if (now - before <= QUIET_TICKS) return true;
    if (Date.now() > deadline) return false;
    before = now;
  }
}

// ── requests ─────────────────────────────────────────────────────────────────

type Outcome = { ms: number; status: number } | { error: string };

/** One signed POST; timed from the request being written to the socket to the end of the answer. */
function send(eventsUrl: URL, body: string): Promise<Outcome> {
  const headers = {
    'content-type': 'application/x-www-form-urlencoded',
    'content-length': String(Buffer.byteLength(body)),
    ...signedHeaders(SECRET, body),
  };
  return new Promise((resolve) => {
    let sentAt = performance.now();
    // A connection of its own per request, like many independent deliveries (and no keep-alive state between rounds).
    const req = request({ host: eventsUrl.hostname, port: eventsUrl.port, path: eventsUrl.pathname, method: 'POST', agent: false, headers }, (res) => {
      res.resume();
      res.on('end', () => resolve({ ms: performance.now() - sentAt, status: res.statusCode ?? 0 }));
      res.on('error', (e) => resolve({ error: e.message }));
    });
    req.on('finish', () => {
      sentAt = performance.now();
    });
    req.setTimeout(REQUEST_TIMEOUT_MS, () => req.destroy(new Error(`no answer within ${REQUEST_TIMEOUT_MS} ms`)));
    req.on('error', (e) => resolve({ error: e.message }));
    req.end(body);
  });
}

/** A slash command body as Slack sends it; unique trigger_id (so no two are the same delivery) and response_url. */
function slashBody(text: string, responseUrl: string): string {
  const trigger = `${Date.now()}.${randomBytes(4).readUInt32BE()}.${randomBytes(16).toString('hex')}`;
  return new URLSearchParams({
    token: 'bench-verification-token',
    team_id: 'T0BENCH',
    team_domain: 'dormouse-bench',
    channel_id: 'C0GENERAL',
    channel_name: 'general',
    user_id: 'U0DEV',
    user_name: 'dana',
    command: '/server',
    text,
    api_app_id: 'A0DORMOUSE',
    is_enterprise_install: 'false',
    response_url: responseUrl,
    trigger_id: trigger,
  }).toString();
}

interface Collected {
  count: number;
  samples: string[];
  calls: number;
  problems: string[];
}

async function collected(slackUrl: string, round: string): Promise<Collected> {
  return (await (await fetch(`${slackUrl}/collected/${round}`)).json()) as Collected;
}

interface RoundResult {
  /** Per request, ms to the ack; a request that was not acked (no answer, or not 200) counts as Infinity. */
  ms: number[];
  errors: string[];
  answers: number;
  samples: string[];
}

let roundSeq = 0;
async function round(app: AppName, eventsUrl: string, slackUrl: string, text: string, pids: number[]): Promise<RoundResult> {
  const gone = children.find(({ child }) => !running(child));
  if (gone) throw new Error(`${gone.name} exited (${gone.child.signalCode ?? gone.child.exitCode}):\n${gone.tail()}`);
  const id = `r${++roundSeq}-${app}`;
  const url = new URL(eventsUrl);
  const bodies = Array.from({ length: concurrency }, (_, i) => slashBody(text, `${slackUrl}/collect/${id}/${i}`));
  const outcomes = await Promise.all(bodies.map((b) => send(url, b)));
  const ms: number[] = [];
  const errors: string[] = [];
  for (const o of outcomes) {
    if ('error' in o) errors.push(o.error);
    else if (o.status !== 200) errors.push(`HTTP ${o.status} after ${o.ms.toFixed(0)} ms`);
    ms.push('error' in o || o.status !== 200 ? Number.POSITIVE_INFINITY : o.ms);
  }
  // Wait for the work after the acks: one response_url answer per acked request.
  const acked = concurrency - errors.length;
  const deadline = Date.now() + ROUND_TIMEOUT_MS;
  let got = await collected(slackUrl, id);
  while (got.count < acked && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    got = await collected(slackUrl, id);
  }
  if (got.count < acked) errors.push(`only ${got.count} of ${acked} response_url answers within ${ROUND_TIMEOUT_MS} ms`);
  if (!(await quiet(pids, deadline))) errors.push(`the apps and moto were still busy ${ROUND_TIMEOUT_MS / 1000} s after the round began`);
  return { ms, errors, answers: got.count, samples: got.samples };
}

// ── figures ──────────────────────────────────────────────────────────────────

/** Nearest-rank percentile. */
function pct(xs: number[], q: number): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
}
const ms = (x: number) => (Number.isNaN(x) ? '—' : x === Number.POSITIVE_INFINITY ? 'no ack' : `${x.toFixed(x < 10 ? 1 : 0)} ms`);
const pad = (s: string, n: number) => s.padEnd(n);
const lpad = (s: string, n: number) => s.padStart(n);
const out = (s = '') => process.stdout.write(`${s}\n`);
const loadLine = () => loadavg().map((l) => l.toFixed(2)).join(' / ') + ` (1 / 5 / 15 min, ${cpus().length} CPUs)`;

// ── main ─────────────────────────────────────────────────────────────────────

async function main(): Promise<number> {
  if (!Number.isInteger(rounds) || rounds < 1 || !Number.isInteger(concurrency) || concurrency < 1) {
    throw new Error('usage: npm run bench:ack -- [rounds] [--concurrency=N] [--check]');
  }
  const cpu = cpus();
  out(`Ack benchmark · ${new Date().toISOString()} · ${cpu.length} CPUs (${cpu[0]?.model.trim() ?? 'unknown'}) · Node ${process.version} · ${process.platform}/${process.arch}`);
  out(`${concurrency} concurrent signed slash commands per round · ${rounds} measured round(s) per app per command after ${warmups} warm-up round(s) · apps alternate`);
  out(`load average at start ${loadLine()} (figures from a busy machine are noisy; both apps share the noise)`);

  // moto and the Slack side.
  const motoPort = await freePort();
  const motoUrl = `http://127.0.0.1:${motoPort}`;
  const moto = start('moto_server', 'support', process.env.MOTO_SERVER_BIN ?? 'moto_server', ['-H', '127.0.0.1', '-p', String(motoPort)], {}, false);
  const slack = start('the Slack side', 'support', process.execPath, ['--import', 'tsx', 'test/bench/ack-slack-side.ts'], { BENCH_SIGNING_SECRET: SECRET, BENCH_BOT_TOKEN: TOKEN }, true);
  const [slackUrl] = await Promise.all([firstLine(slack, benchLine), waitForMoto(motoUrl, moto)]);
  const apiUrl = `${slackUrl}/api/`;

  // Dormouse as production runs it (it creates its table on moto before it listens).
  const table = `bench-ack-${Date.now()}-${process.pid}`;
  const aws = {
    AWS_REGION: 'us-east-1',
    AWS_ENDPOINT_URL: motoUrl,
    AWS_ACCESS_KEY_ID: 'testing',
    AWS_SECRET_ACCESS_KEY: 'testing',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  };
  const dormouse = start(
    'dormouse',
    'app',
    process.execPath,
    ['--import', 'tsx', 'src/main.ts'],
    {
      ...aws,
      SLACK_BOT_TOKEN: TOKEN,
      SLACK_SIGNING_SECRET: SECRET,
      SLACK_API_URL: apiUrl,
      DORMOUSE_OPS_CHANNEL: 'C0OPS',
      DORMOUSE_TABLE: table,
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
    },
    true,
  );
  // Its pino lines: the one that says where it listens, and any warning or error while it is measured.
  const warnings: Record<AppName, string[]> = { dormouse: [], bare: [] };
  const dormouseEvents = firstLine(dormouse, (line) => {
    try {
      const l = JSON.parse(line) as { msg?: string; events?: string };
      return l.msg === 'Dormouse is listening' && l.events ? l.events : undefined;
    } catch {
      return undefined;
    }
  });
  createInterface({ input: dormouse.child.stdout! }).on('line', (line) => {
    try {
      const l = JSON.parse(line) as { level?: number; msg?: string };
      if ((l.level ?? 0) >= 40) warnings.dormouse.push(l.msg ?? line);
    } catch {
      // not pino
    }
  });
  const urls: Record<AppName, string> = { dormouse: await dormouseEvents, bare: '' };

  const bare = start(
    'the bare app',
    'app',
    process.execPath,
    ['--import', 'tsx', 'test/bench/ack-bare-app.ts'],
    { ...aws, BENCH_SIGNING_SECRET: SECRET, BENCH_BOT_TOKEN: TOKEN, BENCH_SLACK_API_URL: apiUrl, BENCH_TABLE: table },
    true,
  );
  urls.bare = await firstLine(bare, benchLine);
  // Its store failures, and Bolt's own warnings (its console logger at WARN).
  createInterface({ input: bare.child.stdout! }).on('line', (line) => {
    if (line.startsWith('BENCH_WARN ')) warnings.bare.push(line.slice('BENCH_WARN '.length));
    else if (/\[(WARN|ERROR)\]/.test(line)) warnings.bare.push(line.slice(0, 120));
  });
  out(`dormouse ${urls.dormouse} · bare ${urls.bare} · moto ${motoUrl} · Slack double ${apiUrl}`);
  // Every process a round keeps busy; a round ends when all of them are idle.
  const pids = [moto, slack, dormouse, bare].map((c) => c.child.pid!);
  await quiet(pids, Date.now() + ROUND_TIMEOUT_MS);
  out();

  const results = new Map<string, { ms: number[]; roundP99: number[]; errors: string[]; late: number; unacked: number }>();
  const said = new Map<string, Set<string>>();
  for (const text of COMMANDS) {
    for (const app of APPS) results.set(`${text}|${app}`, { ms: [], roundP99: [], errors: [], late: 0, unacked: 0 });
    const label = `/server ${text}`;
    for (let r = 1 - warmups; r <= rounds; r++) {
      for (const app of APPS) {
        const warnBefore = warnings[app].length;
        const res = await round(app, urls[app], slackUrl, text, pids);
        const key = `${text}|${app}`;
        const answers = said.get(key) ?? new Set<string>();
        said.set(key, answers);
        for (const s of res.samples) answers.add(s);
        const errors = [...res.errors, ...warnings[app].slice(warnBefore).map((w) => `${app} logged: ${w}`)];
        const tag = r <= 0 ? 'warm-up' : `round ${r}/${rounds}`;
        process.stderr.write(
          `  ${pad(label, 18)} ${pad(tag, 11)} ${pad(app, 9)} p50 ${lpad(ms(pct(res.ms, 0.5)), 8)}  p99 ${lpad(ms(pct(res.ms, 0.99)), 8)}  answers ${res.answers}/${concurrency}` +
            `${errors.length ? `  ${errors.length} problem(s): ${[...new Set(errors)].slice(0, 2).join('; ')}` : ''}\n`,
        );
        if (r <= 0) continue;
        const acc = results.get(key)!;
        acc.ms.push(...res.ms);
        acc.roundP99.push(pct(res.ms, 0.99));
        acc.errors.push(...errors);
        acc.late += res.ms.filter((x) => x > 3000).length;
        acc.unacked += res.ms.filter((x) => x === Number.POSITIVE_INFINITY).length;
      }
    }
  }

  // Tables.
  out();
  let over = false;
  const n = rounds * concurrency;
  for (const text of COMMANDS) {
    out(`/server ${text}   (${n} requests per app; ack = HTTP answer to the POST)`);
    out(`  ${pad('app', 10)}${lpad('p50', 10)}${lpad('p99', 10)}${lpad('max', 10)}${lpad('> 3 s', 8)}${lpad('no ack', 8)}${lpad('problems', 10)}   answered with`);
    const p99: Partial<Record<AppName, number>> = {};
    let problems = 0;
    for (const app of APPS) {
      const r = results.get(`${text}|${app}`)!;
      p99[app] = pct(r.ms, 0.99);
      problems += r.errors.length;
      const answers = [...new Set([...(said.get(`${text}|${app}`) ?? [])].map((a) => JSON.stringify(a.slice(0, 48))))];
      out(
        `  ${pad(app, 10)}${lpad(ms(pct(r.ms, 0.5)), 10)}${lpad(ms(p99[app]), 10)}${lpad(ms(pct(r.ms, 1)), 10)}${lpad(String(r.late), 8)}${lpad(String(r.unacked), 8)}${lpad(String(r.errors.length), 10)}   ` +
          `${answers.slice(0, 2).join(' | ')}${answers.length > 2 ? ` | +${answers.length - 2} more` : ''}`,
      );
    }
    const ratio = p99.dormouse! / p99.bare!;
    const met = ratio <= TARGET; // false for NaN (both unacked): no figure, no pass
    if (!met) over = true;
    out(`  p99 dormouse / bare = ${Number.isFinite(ratio) ? ratio.toFixed(2) : String(ratio)} ×   target: p99 at most ${TARGET} × bare   ${met ? 'met' : 'NOT met'}`);
    // One noisy round decides the pooled p99 on a small machine; the median of the rounds' p99 says what is typical.
    const median = (xs: number[]) => pct(xs, 0.5);
    const [md, mb] = APPS.map((app) => median(results.get(`${text}|${app}`)!.roundP99));
    out(`  median of the rounds' p99: dormouse ${ms(md!)}, bare ${ms(mb!)} = ${(md! / mb!).toFixed(2)} ×`);
    // An app whose work failed did less of it: its figures are not like for like.
    if (problems) out(`  (${problems} problem(s) in these rounds, listed above: the two apps may not have done the same work)`);
    out();
  }
  out(`load average at end ${loadLine()}`);
  const failures = [...results.values()].reduce((a, r) => a + r.errors.length, 0);
  if (failures) out(`${failures} problem(s) in measured rounds (failed requests, missing answers, warnings logged); see the lines above.`);
  const double = await collected(slackUrl, 'none');
  if (double.problems.length) out(`The Slack double saw problems: ${double.problems.join(' | ')}`);
  return check && over ? 1 : 0;
}

main()
  .then(
    async (code) => {
      if (interrupted) return;
      await cleanup();
      process.exit(code);
    },
    async (e: unknown) => {
      if (interrupted) return; // the signal handler stops everything and exits
      process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
      await cleanup();
      process.exit(1);
    },
  );
