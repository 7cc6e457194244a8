/**
 * Sweep benchmark: what one tick of the scheduler's leader reads, as the
 * table grows. For each size N it starts an embedded dynalite (in memory,
 * as the sandbox does), creates the table with the repository's own
 * `ensureTable`, and seeds N environment items as the repository stores
 * them (`toItem`), by BatchWrite (25 items a request, 8 requests at once):
 *
 *    1%  a timer due in the past   (duePk = DUE, dueAt < now)
 *    9%  a timer later             (duePk = DUE, dueAt > now)
 *   90%  no timer                  (no duePk/dueAt: not in byDue)
 *
 * Then it runs the tick 5 times and reports, per size: the due count, the
 * items read per tick (median), their ratio, and the tick's duration (p50,
 * max), beside the seeding time. The target is a read that follows what is
 * due, not what exists: items read at most 2 × due at every size (the sparse
 * `byDue` index makes it 1 × here). Run it:
 *
 *   npm run bench:sweep                  # 1,000, 10,000 and 100,000 environments
 *   npm run bench:sweep -- 1000 10000    # the sizes you name
 *
 * Environment: BENCH_TICK picks what a tick does (see TICKS below):
 *   tick  (default)  the leader's whole tick: ScheduleService.tick() reads the due timers page by
 *                    page and plans each environment (a conditional write each); the due ones are
 *                    put back as seeded before every tick (not timed)
 *   read             repo.listDue(now, 1000) alone: the read without the writes
 *
 * Each size runs on its own dynalite, in a process of its own (see
 * startStore), closed before the next size: memory holds one size at a time
 * (the store process reaches about 1 GB of RSS at 100,000: dynalite keeps
 * the table and its three ALL-projected indexes in memory; this process
 * stays small). Seeding 100,000 takes about 70 s on a 2-core machine.
 */
import { NO_ACCESS_RULES } from '../../src/core/policies/permissions.js';
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { documentClient } from '../../src/adapters/aws/dynamodb-document-client.js';
import { DynamoDbEnvironmentRepository, ensureTable, toItem } from '../../src/adapters/aws/dynamodb-environment.repository.js';
import { startEmbeddedStore } from '../../src/adapters/sandbox/embedded-store.js';
import { newEnvironment, type Environment, type ProgressStep } from '../../src/core/environment/environment.js';
import { newEnvironmentId } from '../../src/core/environment/ids.js';
import type { NotifierPort } from '../../src/core/ports/notifier.port.js';
import { noHolidays, parseSchedule } from '../../src/core/schedule/schedule.js';
import { ScheduleService } from '../../src/core/use-cases/schedule.use-case.js';
import { pino } from 'pino';
import { seeded as prng } from '../../src/adapters/sandbox/slack-console/double/faults.js';

// The SDK's notice that its 2027 releases need Node 22 (the lockfile keeps today's) is not a figure of this bench.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const DEFAULT_SIZES = [1_000, 10_000, 100_000];
const N_TICKS = 5;
/** What one tick may take on at most (the scheduler's page). */
const TICK_LIMIT = 1_000;
const BATCH = 25;
const IN_FLIGHT = 8;
const TABLE = 'dormouse-bench-sweep';
const out = (line: string) => process.stdout.write(`${line}\n`);

// ---- ticks ---------------------------------------------------------------------------------------

export interface TickContext {
  client: DynamoDBClient;
  tableName: string;
  repo: DynamoDbEnvironmentRepository;
  now: Date;
  limit: number;
}

export interface TickOutcome {
  /** Due environments the tick took on. */
  handled: number;
  /** Items the store read for it. */
  itemsRead: number;
}

export type Tick = (ctx: TickContext) => Promise<TickOutcome>;

/** What a tick does, by BENCH_TICK. */
export const TICKS: Record<string, Tick> = {
  /** The leader's read: the environments due by now, a page of them. */
  read: async ({ repo, now, limit }) => {
    const { environments, itemsRead } = await repo.listDue(now, limit);
    return { handled: environments.length, itemsRead };
  },
  /**
   * The leader's whole tick (the default): the schedule's use case reads what is due, page by page,
   * and plans each environment's timers (a conditional write each). Before each tick the due ones
   * are put back as seeded (not timed), so every tick has the same work.
   */
  tick: async ({ repo, now }) => {
    const r = await scheduleService(repo, now).tick();
    return { handled: r.handled, itemsRead: r.read };
  },
};

/** Work done before a tick, not timed. */
const BEFORE: Record<string, (doc: DynamoDBDocumentClient, n: number, now: number) => Promise<void>> = {
  tick: (doc, n, now) => seed(doc, n, now, (i) => timerOf(i) === 'due'),
};

/** The real ScheduleService on the bench's table, at a fixed moment; whoever it would tell is told nothing. */
function scheduleService(repo: DynamoDbEnvironmentRepository, now: Date): ScheduleService {
  const parsed = parseSchedule('weekdays 08:00-18:30', { now });
  if (!parsed.ok) throw new Error(parsed.problem);
  const silent: NotifierPort = {
    showProgress: async () => undefined,
    threadNote: async () => undefined,
    failed: async () => undefined,
    opsAlert: async () => undefined,
    scheduleNotice: async () => true,
    savingsReport: async () => true,
    approvalRequest: async () => true,
  };
  const refuse = async (): Promise<never> => {
    throw new Error('the bench plans timers; nothing is due to act yet');
  };
  return new ScheduleService({
    repo,
    events: { appendEvent: async () => undefined },
    notifier: silent,
    people: { timeZoneOf: async () => 'Europe/Paris' },
    clock: { now: () => now, sleep: async () => undefined },
    logger: pino({ level: 'silent' }),
    templates: [],
    access: NO_ACCESS_RULES,
    settings: { defaultSchedule: parsed.schedule, defaultZone: 'UTC', holidays: noHolidays, reminderMinutes: 30, allowSkip: true, idle: { days: 7, answerHours: 48 }, tickMs: 60_000 },
    actions: { retry: { execute: refuse }, destroy: { execute: refuse } },
  });
}

// ---- the data --------------------------------------------------------------------------------------


const HOUR = 3_600_000;
const DAY = 24 * HOUR;

type Timer = 'due' | 'later' | 'none';
/** 1% due, 9% later, 90% without a timer, spread evenly over the names. */
const timerOf = (i: number): Timer => (i % 100 === 0 ? 'due' : i % 100 < 10 ? 'later' : 'none');

function counts(n: number): Record<Timer, number> {
  const c = { due: 0, later: 0, none: 0 };
  for (let i = 0; i < n; i++) c[timerOf(i)] += 1;
  return c;
}

/** Environment number `i`: a ready (or asleep) environment with its servers and finished steps, as a provisioning leaves it. */
function environment(i: number, now: number, random: () => number): Environment {
  const createdAt = new Date(now - 30 * DAY + Math.floor(random() * 29 * DAY));
  const count = 1 + (i % 3);
  const base = newEnvironment(
    {
      id: newEnvironmentId(createdAt, (bytes) => Uint8Array.from({ length: bytes }, () => Math.floor(random() * 256))),
      name: `env-${i.toString().padStart(7, '0')}`,
      owner: `U0${(i % 997).toString().padStart(5, '0')}`,
      template: i % 2 ? 'web' : 'data',
      instanceType: 't3.small',
      count,
      purpose: `benchmark environment ${i}: try the new checkout flow`,
      requestId: `req-${i}`,
      channel: 'C0BENCH',
      hourlyCostUsd: 0.0208 * count,
    },
    createdAt,
  );
  const at = (m: number) => new Date(createdAt.getTime() + m * 60_000).toISOString();
  const step = (key: string, label: string, from: number, to: number): ProgressStep => ({ key, label, status: 'done', startedAt: at(from), endedAt: at(to) });
  const env: Environment = {
    ...base,
    state: i % 7 === 0 ? 'asleep' : 'ready',
    // As stored after a create and a few saves.
    version: 6,
    fence: 1,
    stateChangedAt: at(5),
    updatedAt: at(5),
    servers: Array.from({ length: count }, (_, s) => ({
      index: s,
      instanceId: `i-${(i * 4 + s).toString(16).padStart(17, '0')}`,
      privateIp: `10.0.${(i >> 8) & 255}.${(i + s) & 255}`,
      state: 'ready' as const,
      lastStep: 'install',
    })),
    progress: [step('launch', 'Launch servers', 0, 1), step('running', 'Servers running', 1, 2), step('agent', 'Agent online', 2, 3), step('bootstrap:0', 'Install', 3, 5)],
  };
  const timer = timerOf(i);
  if (timer === 'due') env.dueAt = new Date(now - 1_000 - Math.floor(random() * 6 * HOUR)).toISOString();
  if (timer === 'later') env.dueAt = new Date(now + 60_000 + Math.floor(random() * 7 * DAY)).toISOString();
  return env;
}

/** One BatchWrite, sending again what the store left unprocessed. */
async function batchWrite(doc: DynamoDBDocumentClient, items: Record<string, unknown>[]): Promise<void> {
  let requests: NonNullable<ConstructorParameters<typeof BatchWriteCommand>[0]['RequestItems']>[string] = items.map((Item) => ({ PutRequest: { Item } }));
  for (let attempt = 0; requests.length > 0; attempt++) {
    if (attempt > 0) await new Promise((r) => setTimeout(r, Math.min(1_000, 20 * 2 ** attempt)));
    const res = await doc.send(new BatchWriteCommand({ RequestItems: { [TABLE]: requests } }));
    requests = res.UnprocessedItems?.[TABLE] ?? [];
    if (attempt > 10 && requests.length > 0) throw new Error(`BatchWrite left ${requests.length} items unprocessed after ${attempt} tries`);
  }
}

/** Writes environments 0..n-1, `IN_FLIGHT` batches at once; items are built batch by batch, never all at once. */
async function seed(doc: DynamoDBDocumentClient, n: number, now: number, only: (i: number) => boolean = () => true): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < n) {
      const items: Record<string, unknown>[] = [];
      // A generator per environment: the same table every run, whatever order the batches finish in.
      while (next < n && items.length < BATCH) {
        const i = next++;
        if (only(i)) items.push(toItem(environment(i, now, prng(i + 1))));
      }
      if (items.length) await batchWrite(doc, items);
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
}

// ---- the store -------------------------------------------------------------------------------------

/** The flag that makes this file the store's process rather than the bench. */
const STORE_PROCESS = '--store-process';

interface RunningStore {
  endpoint: string;
  /** The store process's resident memory (it holds the table). */
  rss(): Promise<number>;
  close(): Promise<void>;
}

/**
 * The embedded dynalite (in memory) in a process of its own, started from
 * this file: it gets a core of its own rather than sharing this one with the
 * SDK's marshalling (seeding runs about 1.5 times faster on two cores), and
 * the tick is timed over a socket to another process, as a real table is.
 */
async function startStore(): Promise<RunningStore> {
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), [STORE_PROCESS], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const next = <T>(): Promise<T> =>
    new Promise((resolve, reject) => {
      const onExit = () => reject(new Error('The store process exited.'));
      child.once('exit', onExit);
      child.once('message', (m) => {
        child.off('exit', onExit);
        resolve(m as T);
      });
    });
  const { endpoint } = await next<{ endpoint: string }>();
  return {
    endpoint,
    rss: async () => {
      const answer = next<{ rss: number }>();
      child.send('rss');
      return (await answer).rss;
    },
    close: async () => {
      if (child.connected) child.disconnect();
      await exited;
    },
  };
}

/** The store process: dynalite in memory until the bench lets go of it. */
async function serveStore(): Promise<void> {
  const store = await startEmbeddedStore();
  process.send!({ endpoint: store.endpoint });
  process.on('message', (m) => {
    if (m === 'rss') process.send!({ rss: process.memoryUsage().rss });
  });
  process.once('disconnect', () => void store.close().finally(() => process.exit(0)));
}

// ---- one size ------------------------------------------------------------------------------------------

const ms = (x: number) => `${x.toFixed(0)} ms`;
const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
const median = (xs: number[]) => sorted(xs)[Math.floor(xs.length / 2)]!;
const thousands = (x: number) => x.toLocaleString('en-US');

async function size(n: number, tickName: string, tick: Tick): Promise<string> {
  const store = await startStore();
  const client = new DynamoDBClient({
    region: 'us-east-1',
    endpoint: store.endpoint,
    credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' },
  });
  try {
    await ensureTable(client, TABLE);
    const doc = documentClient(client);
    const now = Date.now();
    const c = counts(n);
    let t0 = performance.now();
    await seed(doc, n, now);
    const seedSeconds = (performance.now() - t0) / 1000;
    out(
      `[${n}] seeded ${thousands(n)} environments (${thousands(c.due)} due, ${thousands(c.later)} later, ${thousands(c.none)} without a timer) ` +
        `in ${seedSeconds.toFixed(1)} s (${thousands(Math.round(n / seedSeconds))} items/s); store rss ${((await store.rss()) / 1e6).toFixed(0)} MB`,
    );

    const repo = new DynamoDbEnvironmentRepository(client, TABLE);
    const expected = Math.min(c.due, TICK_LIMIT);
    const durations: number[] = [];
    const reads: number[] = [];
    for (let i = 1; i <= N_TICKS; i++) {
      await BEFORE[tickName]?.(doc, n, now);
      t0 = performance.now();
      const r = await tick({ client, tableName: TABLE, repo, now: new Date(now), limit: TICK_LIMIT });
      const took = performance.now() - t0;
      durations.push(took);
      reads.push(r.itemsRead);
      const wrong = r.handled === expected ? '' : ` (expected ${expected}!)`;
      out(`[${n}] tick ${i} (${tickName}): ${r.handled} due${wrong}, ${r.itemsRead} items read, ${ms(took)}`);
    }
    const read = median(reads);
    const ratio = read / Math.max(1, expected);
    const over = ratio > 2 ? ' OVER TARGET' : '';
    return `[${n}] due ${c.due} · read ${read} per tick (ratio ${ratio.toFixed(2)}, target <= 2${over}) · tick p50 ${median(durations).toFixed(0)} ms, max ${Math.max(...durations).toFixed(0)} ms · seeded in ${seedSeconds.toFixed(1)} s`;
  } finally {
    client.destroy();
    await store.close();
  }
}

// ---- main -------------------------------------------------------------------------------------------

function sizesFrom(args: string[]): number[] {
  if (args.length === 0) return DEFAULT_SIZES;
  return args.map((a) => {
    const n = Number(a.replace(/[_,]/g, ''));
    if (!Number.isInteger(n) || n < 1) throw new Error(`Not a size: ${a} (a whole number of environments, e.g. 10000)`);
    return n;
  });
}

async function main() {
  const tickName = process.env.BENCH_TICK ?? 'tick';
  const tick = TICKS[tickName];
  if (!tick) throw new Error(`BENCH_TICK=${tickName}: no such tick (there is ${Object.keys(TICKS).join(', ')})`);
  const sizes = sizesFrom(process.argv.slice(2));
  out(`sweep: tick "${tickName}", ${N_TICKS} ticks of at most ${TICK_LIMIT} per size; sizes ${sizes.map(thousands).join(', ')}`);
  const finals: string[] = [];
  for (const n of sizes) {
    const line = await size(n, tickName, tick);
    out(line);
    finals.push(line);
  }
  if (finals.length > 1) {
    out('');
    finals.forEach((line) => out(line));
  }
}

// Only when run (npm run bench:sweep), not when a later bench imports TICKS.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href && process.argv[2] === STORE_PROCESS) {
  void serveStore();
} else if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  // The SDK's keep-alive sockets would keep the process alive: exit when done.
  main().then(
    () => process.exit(0),
    (e: unknown) => {
      process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
      process.exit(1);
    },
  );
}
