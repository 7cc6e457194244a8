/**
 * Chaos, bounded, on this machine: three replicas of the bot (real processes,
 * `node --import tsx src/main.ts`, production wiring) on one table, against
 * moto. Thirty environments go through new, sleep, wake and destroy, asked
 * for through the Slack double as people ask (signed requests; `/server new`
 * opens the form, the person picks the template and the count and submits
 * it; the destroy is confirmed with its button), while:
 *  - a replica is killed with SIGKILL every few seconds and started again: 3–5 s
 *    after the last replacement listens, one at random is killed and a fresh
 *    process with the same settings starts in its slot (crash-looping while
 *    it cannot start). One down at a time: on two cores a replacement takes
 *    5–35 s to listen, and killing on a fixed 3–5 s clock left a single
 *    replica doing all the work half the time (measured: 23 kills in 273 s,
 *    one replica alone for 128 s) — a kill every 14–23 s on average here;
 *  - the Slack double fails 10 % of the bot's calls (Web API and response
 *    URLs) with 500 or 429 (Retry-After: 1), seeded;
 *  - in the second run, the store is also unreachable for 20 s in the middle
 *    (once three environments have been asked to wake: requests, saves and
 *    wakes under way); replicas killed then cannot start until it is back.
 *
 * Where things run: EC2, SSM and S3 on moto (this run's moto_server), with the
 * SSM agent double in front of it (test/support/ssm-agent-double.ts) so that
 * the data scripts of a sleep and a wake (save.sh, restore.sh) really run, in
 * a folder per instance, and really upload to and download from moto's S3;
 * moto runs no bootstrap step (it ends them Success at once). The table is
 * dynalite behind the fault proxy (test/support/replicas.ts), so that the
 * store can be made unreachable while the test still reads it directly.
 *
 * The plan per environment i (1-based): i % 3 == 0: new → sleep → wake (ends
 * ready); i % 3 == 1: new → sleep (ends asleep); i % 3 == 2: new → sleep →
 * wake → destroy, saving its data (ends destroyed). Before each sleep the
 * person leaves files on every server; after a wake they must be on the new
 * servers, server by server. A person re-sends a command when the reply says
 * the database was away, when the replica they reached died (the next one
 * the load balancer picks), or when nothing happened for 15 s; the test waits
 * for the environment to reach the state the command asks for.
 *
 * The end, read from the source of truth (the store straight from dynalite,
 * the servers from moto's EC2, the data from moto's S3, the messages from the
 * double): every environment in the state its last command asked for; no
 * duplicate instance (one per environment, attempt and server index); no
 * orphan (a live instance only for a ready environment, as many as its
 * count, the ones its record names); no generation lost (every generation the
 * record or the audit names has its manifest, and every part is stored at its
 * size); one top-level message per environment, showing where it ended.
 * The figures (kills, Slack faults, outage, the slowest environment) are
 * printed with `report()`; on a failure, every replica's log goes to a file
 * in the temp folder, and a stale message is explained (the ledger's shown
 * version, who wrote the last state, who was killed then).
 *
 * Runtime on this 2-core machine: 140–300 s per run (both runs 7–10 min);
 * the sleeps are the slow part (45 save scripts uploading to moto at once).
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { join } from 'node:path';
import { DescribeInstancesCommand, EC2Client, TerminateInstancesCommand, type Instance } from '@aws-sdk/client-ec2';
import { S3Client } from '@aws-sdk/client-s3';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { S3DataStore } from '../../src/adapters/aws/s3-data-store.js';
import type { InteractionResult } from '../../src/adapters/sandbox/slack-console/slack-double.js';
import { environmentText } from '../../src/adapters/slack/blocks/environment.message.js';
import { Ids } from '../../src/adapters/slack/ids.js';
import type { Environment } from '../../src/core/environment/environment.js';
import { systemClock } from '../../src/core/ports/clock.port.js';
import { motoClientConfig } from '../support/aws.js';
import type { BotProcess } from '../support/bot-process.js';
import { report, seconds, sleep, startReplicas, summarise, type Replicas } from '../support/replicas.js';
import { startSsmAgentDouble, type SsmAgentDouble } from '../support/ssm-agent-double.js';
import { files } from '../support/trees.js';
import { seeded } from '../../src/adapters/sandbox/slack-console/double/faults.js';

/** How many environments (the issue asks for 30; CHAOS_ENVS only to try smaller runs by hand). */
const ENVIRONMENTS = Number(process.env.CHAOS_ENVS ?? 30);
const REPLICAS = 3;
/** By hand only, to measure what the chaos costs: CHAOS_KILLS=0 kills nothing, CHAOS_SLACK_FAULTS=0 fails no Slack call. */
const KILLS = process.env.CHAOS_KILLS !== '0';
const SLACK_FAULTS = process.env.CHAOS_SLACK_FAULTS !== '0';
const KILL_EVERY_MS: readonly [number, number] = [3_000, 5_000];
const SLACK_FAULT_RATE = 0.1;
const OUTAGE_MS = 20_000;
const CHAOS_TEMPLATES = join(import.meta.dirname, '..', 'fixtures', 'templates', 'chaos.yml');
/** The three people of the double; each has ten environments, and does one thing on a screen at a time. */
const PEOPLE = ['U0DEV', 'U0LEAD', 'U0OPS'] as const;
const CHANNEL = 'C0GENERAL';
/** How long a person waits for something to happen after a command before sending it again. */
const PATIENCE_MS = 15_000;
/** How long an environment's record may go without a write before the test calls it stuck. */
const STUCK_MS = 120_000;
/** How long one environment may take to reach a state once asked (kills and an outage included): slow, not stuck. */
const STATE_TIMEOUT_MS = 400_000;

/** What `deliver` sees when the double sent nothing (a select without dispatch): nothing to send again. */
const NOT_SENT: InteractionResult = { kind: 'block_actions', status: 200, body: '', ackMs: 0, rawBody: '', contentType: '' };

type Plan = 'ready' | 'asleep' | 'destroyed';
const planOf = (i: number): Plan => (i % 3 === 0 ? 'ready' : i % 3 === 1 ? 'asleep' : 'destroyed');

interface Tally {
  sends: number;
  /** Deliveries that reached no replica (it was killed, or starting): sent again elsewhere. */
  unanswered: number;
  /** Replies that said the database was away (try again; or cannot tell yet whether it took effect): sent again. */
  toldToRetry: number;
  /** Commands sent again because nothing happened within PATIENCE_MS. */
  impatient: number;
  /** Failed environments retried by their owner. */
  retries: number;
}

interface Trace {
  name: string;
  owner: string;
  plan: Plan;
  count: number;
  startedAt: number;
  endedAt?: number;
  /** Per step, when it was first asked and when its state was reached. */
  steps: Array<{ step: string; askedAt: number; doneAt?: number }>;
  /** What each server's data folder held before the sleep, by server index. */
  before: Map<number, Record<string, string>>;
}

let world: World | undefined;
afterEach(async () => {
  await world?.close();
  world = undefined;
});

describe('chaos: three replicas on one table against moto', () => {
  it(`${ENVIRONMENTS} environments through new, sleep, wake and destroy while replicas are SIGKILLed and restarted and Slack fails 10 % of calls`, async () => {
    world = await startWorld('cx', 101);
    await runChaos(world, { outage: false });
  }, 720_000);

  it(`the same, with the store unreachable for ${OUTAGE_MS / 1000} s in the middle`, async () => {
    world = await startWorld('cy', 202);
    await runChaos(world, { outage: true });
  }, 720_000);
});

// ── the world ───────────────────────────────────────────────────────────────

interface World {
  prefix: string;
  seed: number;
  r: Replicas;
  agents: SsmAgentDouble;
  bucket: string;
  ec2: EC2Client;
  s3: S3Client;
  data: S3DataStore;
  /** The replica in each slot now (undefined while it is down). */
  slots: Array<BotProcess | undefined>;
  startReplica(slot: number): Promise<BotProcess>;
  readonly closed: boolean;
  close(): Promise<void>;
}

async function startWorld(prefix: string, seed: number): Promise<World> {
  const r = await startReplicas();
  const agentsRoot = mkdtempSync(join(tmpdir(), 'dormouse-chaos-agents-'));
  const agents = await startSsmAgentDouble({ target: inject('motoUrl'), root: agentsRoot });
  const bucket = `dormouse-chaos-${prefix}-${process.pid}-${Date.now().toString(36)}`;
  // A schedule window that opens in two to three hours and closes half an hour later: no timer of it falls in the test.
  const hour = (new Date().getUTCHours() + 3) % 24;
  const window = `every day ${String(hour).padStart(2, '0')}:00-${String(hour).padStart(2, '0')}:30`;
  const overrides = {
    DORMOUSE_CLOUD: 'aws',
    AWS_REGION: 'us-east-1',
    AWS_ENDPOINT_URL: agents.url,
    AWS_ACCESS_KEY_ID: 'testing',
    AWS_SECRET_ACCESS_KEY: 'testing',
    DORMOUSE_DATA_BUCKET: bucket,
    DORMOUSE_TEMPLATES: CHAOS_TEMPLATES,
    DORMOUSE_SANDBOX_DIR: undefined,
    DORMOUSE_SANDBOX_DELAYS: undefined,
    // Short leases: what a killed replica held is taken over within seconds (a sweep runs at least twice a lease).
    // Not shorter: on two cores a busy replica may not renew a 6 s lease in time, and loses work it was doing well.
    DORMOUSE_LEASE_SECONDS: '10',
    DORMOUSE_SWEEP_SECONDS: '2',
    DORMOUSE_SCHEDULE_DEFAULT: window,
  };
  const slots: Array<BotProcess | undefined> = [];
  let incarnation = 0;
  let closed = false;
  const startReplica = async (slot: number) => {
    if (closed) throw new Error('the world is closed');
    incarnation += 1;
    const bot = await r.startBot(`R${slot + 1}#${incarnation}`, overrides);
    // Started while the world was closing (a test that timed out): not left running.
    if (closed) {
      await bot.stop(5_000);
      throw new Error('the world is closed');
    }
    slots[slot] = bot;
    return bot;
  };
  for (let slot = 0; slot < REPLICAS; slot++) await startReplica(slot);
  const ec2 = new EC2Client(motoClientConfig());
  const s3 = new S3Client({ ...motoClientConfig(), forcePathStyle: true });
  const data = new S3DataStore({ s3, bucket, clock: systemClock });
  return {
    prefix,
    seed,
    r,
    agents,
    bucket,
    ec2,
    s3,
    data,
    slots,
    startReplica,
    get closed() {
      return closed;
    },
    close: async () => {
      closed = true;
      r.double.failRate(undefined);
      await r.close();
      // This run's servers go with it, so the next run's reconciler does not find them as orphans on the same moto.
      const left = (await allInstances(ec2).catch(() => [])).filter((i) => (tag(i, 'dormouse:environment') ?? '').startsWith(`${prefix}-`) && i.State?.Name !== 'terminated');
      if (left.length) await ec2.send(new TerminateInstancesCommand({ InstanceIds: left.map((i) => i.InstanceId!) })).catch(() => undefined);
      await agents.close();
      ec2.destroy();
      s3.destroy();
      rmSync(agentsRoot, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
    },
  };
}

// ── the run ─────────────────────────────────────────────────────────────────

async function runChaos(w: World, opts: { outage: boolean }): Promise<void> {
  const { r } = w;
  const random = seeded(w.seed);
  const tally: Tally = { sends: 0, unanswered: 0, toldToRetry: 0, impatient: 0, retries: 0 };
  const callsBefore = r.double.calls.length;
  if (SLACK_FAULTS) r.double.failRate({ rate: SLACK_FAULT_RATE, statuses: [500, 429], seed: w.seed, retryAfterSeconds: 1 });
  const started = Date.now();
  // How busy this process is: dynalite, the fault proxy, the Slack double and the SSM agent double (every AWS call of
  // the replicas goes through it to moto) all run on its event loop.
  const loop = monitorEventLoopDelay({ resolution: 20 });
  loop.enable();

  // The killer: 3–5 s after the last replacement listens, one replica (at random) killed with SIGKILL and a fresh process
  // started in its slot with the same settings, tried again until it starts (it cannot while the store is away).
  // One replica down at a time: on two cores a replacement takes seconds to start, and killing faster leaves one
  // replica doing all the work most of the time (measured: see the header).
  const kills: Array<{ at: number; name: string; downMs?: number; failedStarts: string[] }> = [];
  let stopKilling = false;
  const upNow = () => w.slots.filter(Boolean).length;
  const killer = (async () => {
    while (!stopKilling && !w.closed) {
      await sleep(KILL_EVERY_MS[0] + random() * (KILL_EVERY_MS[1] - KILL_EVERY_MS[0]));
      if (stopKilling || w.closed || !KILLS) continue;
      const slot = Math.floor(random() * REPLICAS);
      const victim = w.slots[slot]!;
      w.slots[slot] = undefined;
      const kill: (typeof kills)[number] = { at: Date.now(), name: victim.name, failedStarts: [] };
      kills.push(kill);
      victim.kill('SIGKILL');
      await victim.exited;
      while (!w.slots[slot]) {
        try {
          await w.startReplica(slot);
          kill.downMs = Date.now() - kill.at;
        } catch (error) {
          if (w.closed) return;
          kill.failedStarts.push((error as Error).message.split('\n')[0]!.slice(0, 200));
          if (kill.failedStarts.length > 60) throw error;
          await sleep(1_000);
        }
      }
    }
  })();

  const person = new People(w, tally, random);
  const traces: Trace[] = Array.from({ length: ENVIRONMENTS }, (_, k) => {
    const i = k + 1;
    return { name: `${w.prefix}-${String(i).padStart(2, '0')}`, owner: PEOPLE[k % PEOPLE.length]!, plan: planOf(i), count: 1 + (i % 2), startedAt: 0, steps: [], before: new Map() };
  });

  // The outage, in the middle: once three environments have been asked to wake (requests, saves and wakes under way).
  let outage: { from: number; to: number; states: Record<string, number> } | undefined;
  let storiesOver = false;
  const outageDone = opts.outage
    ? (async () => {
        while (traces.filter((t) => t.steps.some((s) => s.step === 'wake')).length < Math.min(3, ENVIRONMENTS)) {
          if (storiesOver) return;
          await sleep(200);
        }
        const states: Record<string, number> = {};
        for (const t of traces) {
          const state = (await r.environment(t.name))?.state ?? 'none';
          states[state] = (states[state] ?? 0) + 1;
        }
        r.proxy.setMode('refuse');
        const from = Date.now();
        await sleep(OUTAGE_MS);
        r.proxy.setMode('pass');
        outage = { from, to: Date.now(), states };
      })()
    : Promise.resolve();

  // Where things stand, every 20 s (for a person watching a long run).
  const progress = (async () => {
    for (let tick = 1; !stopKilling && !w.closed; tick++) {
      await sleep(1_000);
      if (stopKilling || w.closed || tick % 20) continue;
      const states: Record<string, number> = {};
      for (const t of traces) {
        const state = (await r.environment(t.name))?.state ?? 'none';
        states[state] = (states[state] ?? 0) + 1;
      }
      report(`  … ${seconds(Date.now() - started)}: ${JSON.stringify(states)}; ${traces.filter((t) => t.endedAt).length} stories done; ${kills.length} kills; ${upNow()} replicas up`);
    }
  })().catch(() => undefined);

  // Every environment's story, all at once (each person does one thing on a screen at a time).
  const stories = traces.map(async (t, k) => {
    await sleep(k * 150); // people do not all type in the same millisecond
    t.startedAt = Date.now();
    await person.create(t);
    await person.sleep(t);
    if (t.plan !== 'asleep') await person.wake(t);
    if (t.plan === 'destroyed') await person.destroy(t);
    t.endedAt = Date.now();
  });
  const outcomes = await Promise.allSettled(stories);
  const storiesMs = Date.now() - started;
  storiesOver = true;
  loop.disable();
  await outageDone;
  stopKilling = true;
  await killer;
  await progress;
  const failures = outcomes.flatMap((o, k) => (o.status === 'rejected' ? [`${traces[k]!.name}: ${(o.reason as Error).message}`] : []));
  if (opts.outage && !outage) failures.push('the store outage never happened (no three environments were asked to wake)');
  r.double.failRate(undefined);

  // ── the end, from the source of truth ──
  const envs = new Map<string, Environment | undefined>();
  for (const t of traces) envs.set(t.name, await r.environment(t.name));
  const instances = await allInstances(w.ec2);
  // What broke, by invariant (each asserted on its own at the end).
  const found = {
    'every story ran to its end': [...failures],
    'every environment in the state its last command asked for': [] as string[],
    'no duplicate instance': [] as string[],
    'no orphan, no server missing': [] as string[],
    'no generation lost': [] as string[],
    'the data back on the woken servers': [] as string[],
    'one message per environment': [] as string[],
    'each message shows where its environment ended': [] as string[],
    'nothing Slack would refuse': [] as string[],
  };

  // Every environment in the state its last command asked for.
  for (const t of traces) {
    const env = envs.get(t.name);
    if (env?.state !== t.plan) found['every environment in the state its last command asked for'].push(`${t.name}: ${env?.state ?? 'no record'}, not ${t.plan} (${JSON.stringify(summarise(env))})`);
  }

  // No duplicate instance: one per environment, attempt and server index (replacements aside).
  const ids = new Map([...envs.values()].filter((e): e is Environment => e !== undefined).map((e) => [e.id, e]));
  const launched = new Map<string, string[]>();
  for (const i of instances) {
    const envId = tag(i, 'dormouse:environment-id');
    if (!envId || !ids.has(envId) || tag(i, 'dormouse:replacement')) continue;
    // A server's index: the place in the one RunInstances call that launched it (replacements carry a tag instead).
    const key = `${ids.get(envId)!.name} attempt ${tag(i, 'dormouse:attempt')} server ${tag(i, 'dormouse:index') ?? i.AmiLaunchIndex}`;
    launched.set(key, [...(launched.get(key) ?? []), i.InstanceId!]);
  }
  const duplicates = [...launched].filter(([, list]) => list.length > 1);
  for (const [key, list] of duplicates) found['no duplicate instance'].push(`duplicate instances for ${key}: ${list.join(', ')}`);

  // No orphan: live instances only for ready environments, exactly the ones their record names.
  const live = instances.filter((i) => !['terminated', 'shutting-down'].includes(i.State?.Name ?? ''));
  const liveOf = new Map<string, Instance[]>();
  for (const i of live) {
    const envId = tag(i, 'dormouse:environment-id') ?? '(untagged)';
    liveOf.set(envId, [...(liveOf.get(envId) ?? []), i]);
  }
  const mine = [...liveOf].filter(([envId]) => ids.has(envId) || instancesNamed(live, envId, w.prefix));
  for (const [envId, list] of mine) {
    const env = ids.get(envId);
    if (!env || env.state !== 'ready') {
      found['no orphan, no server missing'].push(`orphan: ${list.length} live instance(s) of ${env ? `${env.name} (${env.state})` : `unknown environment ${envId}`}: ${list.map((i) => `${i.InstanceId} ${i.State?.Name}`).join(', ')}`);
      continue;
    }
    const want = env.servers.map((s) => s.instanceId).sort();
    const got = list.map((i) => i.InstanceId!).sort();
    if (list.length > env.count || JSON.stringify(want) !== JSON.stringify(got)) found['no orphan, no server missing'].push(`${env.name}: live instances ${got.join(', ')}, its record names ${want.join(', ')} (count ${env.count})`);
  }
  for (const env of ids.values()) {
    if (env.state === 'ready' && (liveOf.get(env.id)?.length ?? 0) !== env.count) found['no orphan, no server missing'].push(`${env.name}: ready with ${liveOf.get(env.id)?.length ?? 0} live instance(s), not ${env.count}`);
  }

  // No generation lost: each generation the record or the audit names has its manifest, every part stored at its size.
  let generations = 0;
  let parts = 0;
  for (const t of traces) {
    const env = envs.get(t.name);
    if (!env) continue;
    const named = new Set<number>();
    if (env.data?.latest) named.add(env.data.latest.number);
    for (const e of await r.events(t.name)) {
      const m = e.type === 'data:generation' ? /^Generation (\d+)/.exec(e.message) : null;
      if (m) named.add(Number(m[1]));
    }
    // The audit trail is best-effort (a line that cannot be written while the store is away is logged, not
    // retried), so the data store's own listing counts too: a destroyed environment took two generations
    // (the sleep's and the destroy's), and every generation named anywhere must be whole.
    const inStore = (await w.data.listGenerations(env.id)).map((m) => m.generation);
    const taken = new Set([...named, ...inStore]);
    const want = t.plan === 'destroyed' ? 2 : 1;
    if (taken.size < want) found['no generation lost'].push(`${t.name}: ${taken.size} generation(s) recorded or stored, expected at least ${want} (${[...taken].join(', ')})`);
    for (const g of taken) {
      const manifest = await w.data.getGeneration(env.id, g);
      if (!manifest) {
        found['no generation lost'].push(`${t.name}: generation ${g} is named but has no manifest`);
        continue;
      }
      generations += 1;
      for (const part of manifest.parts) {
        parts += 1;
        const stored = await w.data.inspectPart(part);
        if (!stored.exists || stored.bytes !== part.bytes) found['no generation lost'].push(`${t.name}: generation ${g} part ${part.part} ${stored.exists ? `is ${stored.bytes} bytes, not ${part.bytes}` : 'is missing'}`);
      }
    }
  }

  // The data came back: a woken environment's servers hold what their predecessors held before the sleep.
  let restoredServers = 0;
  for (const t of traces.filter((x) => x.plan === 'ready')) {
    const env = envs.get(t.name);
    if (env?.state !== 'ready') continue;
    for (const s of env.servers) {
      const got = files(w.agents.dataDir(s.instanceId));
      const want = t.before.get(s.index);
      if (!want || JSON.stringify(got) !== JSON.stringify(want)) found['the data back on the woken servers'].push(`${t.name}: server ${s.index} (${s.instanceId}) does not hold what server ${s.index} held before the sleep`);
      else restoredServers += 1;
    }
  }

  // One top-level message per environment, showing where it ended (updates may still be on their way: waited for).
  const shows = (t: Trace) => {
    const messages = r.messagesAbout(CHANNEL, t.name);
    const env = envs.get(t.name);
    return messages.length === 1 && env !== undefined && messages[0]!.text === environmentText(env);
  };
  // A message a killed replica left behind is shown again by the leader's catch-up (settle-messages: every
  // 10 s, once an environment has rested 15 s): given a minute.
  await r.double.waitFor(() => traces.every(shows), { timeoutMs: 60_000, what: 'every message to show its environment where it ended' }).catch(() => undefined);
  for (const t of traces) {
    const messages = r.messagesAbout(CHANNEL, t.name);
    const env = envs.get(t.name);
    if (messages.length !== 1) found['one message per environment'].push(`${t.name}: ${messages.length} top-level messages, not 1: ${messages.map((m) => JSON.stringify(m.text)).join(' / ')}`);
    else if (env && messages[0]!.text !== environmentText(env)) found['each message shows where its environment ended'].push(`${t.name}: its message says ${JSON.stringify(messages[0]!.text)}, the store ${env.state}`);
  }

  // A message that does not show where its environment ended: what the ledger says, who wrote the last state, who died then.
  for (const t of traces) {
    const env = envs.get(t.name);
    const messages = r.messagesAbout(CHANNEL, t.name);
    if (!env || messages.length !== 1 || messages[0]!.text === environmentText(env)) continue;
    const ledger = (await r.doc.send(new GetCommand({ TableName: r.table, Key: { pk: `ENV#${env.name}`, sk: `NOTE#${env.id}` }, ConsistentRead: true }))).Item;
    const last = (await r.events(t.name)).filter((e) => e.type === `state:${env.state}`).at(-1);
    const at = last ? Date.parse(last.at) : 0;
    const near = (ms: number) => ms >= at - 2_000 && ms <= at + 2_000;
    const writers = r.bots.filter((b) => b.logs().some((l) => l.environment === t.name && near(Number(l.time))));
    const died = kills.filter((k) => k.at >= at - 1_000 && k.at <= at + 15_000).map((k) => `${k.name} killed ${seconds(k.at - at)} after`);
    const warnings = r.bots.flatMap((b) => b.logs().filter((l) => l.environment === t.name && Number(l.level) >= 40).map((l) => `${b.name}: ${String(l.msg)}`));
    found['each message shows where its environment ended'].push(
      `  ${t.name} (version ${env.version}, ${env.state} since ${last?.at}): ledger shown=${String(ledger?.shown)}; replicas that logged about it then: ${writers.map((b) => b.name).join(', ') || 'none'}; ` +
        `${died.join(', ') || 'no kill then'}; warnings about it: ${JSON.stringify(warnings.slice(-4))}`,
    );
  }

  // What Slack would hold against the bot, beyond what killing it causes (no answer from a dead replica).
  // A slow ack and a trigger that expired before the modal opened are what two loaded cores and a 429 on views.open do:
  // counted (people saw "operation_timeout", or no form, and tried again), not failed on.
  const slackProblems = r.double.problems.filter((p) => !/no answer from the app/.test(p));
  const slowAcks = slackProblems.filter((p) => /took \d+ ms to acknowledge/.test(p));
  const expiredTriggers = slackProblems.filter((p) => /trigger_id expired/.test(p));
  for (const p of slackProblems.filter((x) => !slowAcks.includes(x) && !expiredTriggers.includes(x))) found['nothing Slack would refuse'].push(p);

  // What the replicas' own reconciler found (an alert to ops, not an action): should be nothing of this run's.
  const ours = new Set([...live, ...instances].filter((i) => ids.has(tag(i, 'dormouse:environment-id') ?? '')).map((i) => i.InstanceId));
  const drift = r.bots.flatMap((b) => b.logs().filter((l) => l.msg === 'drift found' && typeof l.finding === 'string' && ours.has(l.finding.split(':')[1]))).length;

  // ── figures ──
  const calls = r.double.calls.slice(callsBefore);
  const injected = calls.filter((c) => c.injected);
  const durations = traces.filter((t) => t.endedAt).map((t) => ({ name: t.name, ms: t.endedAt! - t.startedAt, plan: t.plan }));
  durations.sort((a, b) => b.ms - a.ms);
  const slowest = durations[0];
  const median = durations[Math.floor(durations.length / 2)];
  const stepTimes = (step: string) => traces.flatMap((t) => t.steps.filter((s) => s.step === step && s.doneAt).map((s) => s.doneAt! - s.askedAt));
  const worst = (step: string) => Math.max(0, ...stepTimes(step));
  const label = opts.outage ? 'chaos + store outage' : 'chaos';
  report(`${label}: ${ENVIRONMENTS} environments (${traces.filter((t) => t.plan === 'ready').length} → ready, ${traces.filter((t) => t.plan === 'asleep').length} → asleep, ${traces.filter((t) => t.plan === 'destroyed').length} → destroyed), ${traces.reduce((n, t) => n + t.count, 0)} servers at first, 3 replicas on moto; all stories done in ${seconds(storiesMs)}`);
  const downs = kills.map((k) => k.downMs ?? 0).sort((x, y) => x - y);
  const failedStarts = kills.flatMap((k) => k.failedStarts);
  report(
    `${label}: ${kills.length} SIGKILLs, one every ${seconds(storiesMs / Math.max(1, kills.length))} on average (${KILL_EVERY_MS[0] / 1000}–${KILL_EVERY_MS[1] / 1000} s after the last replacement listened); ` +
      `a replacement listened ${seconds(downs[0] ?? 0)}–${seconds(downs.at(-1) ?? 0)} after the kill (median ${seconds(downs[Math.floor(downs.length / 2)] ?? 0)})` +
      (failedStarts.length ? `; ${failedStarts.length} starts failed: ${JSON.stringify([...new Set(failedStarts)])}` : ''),
  );
  report(`${label}: Slack double: ${calls.length} calls, ${injected.length} failed on purpose (${injected.filter((c) => c.status === 500).length} × 500, ${injected.filter((c) => c.status === 429).length} × 429), ${(100 * injected.length / Math.max(1, calls.length)).toFixed(1)} %`);
  if (outage) report(`${label}: store unreachable for ${seconds(outage.to - outage.from)}, from ${seconds(outage.from - started)} into the run; states then ${JSON.stringify(outage.states)}`);
  report(`${label}: people sent ${tally.sends} deliveries; ${tally.unanswered} reached a dead replica and went again, ${tally.toldToRetry} replies said the database was away, ${tally.impatient} commands re-sent after ${PATIENCE_MS / 1000} s of nothing, ${tally.retries} failed environments retried`);
  report(`${label}: this process's event loop (dynalite, proxies, doubles) delayed p50 ${(loop.percentile(50) / 1e6).toFixed(0)} ms, p99 ${(loop.percentile(99) / 1e6).toFixed(0)} ms, max ${(loop.max / 1e6).toFixed(0)} ms`);
  if (slowest && median) report(`${label}: slowest environment ${slowest.name} (${slowest.plan}) in ${seconds(slowest.ms)}, median ${seconds(median.ms)}; slowest step: new ${seconds(worst('new'))}, sleep ${seconds(worst('sleep'))}, wake ${seconds(worst('wake'))}, destroy ${seconds(worst('destroy'))}`);
  report(`${label}: checked ${instances.filter((i) => ids.has(tag(i, 'dormouse:environment-id') ?? '')).length} instances (${live.filter((i) => ids.has(tag(i, 'dormouse:environment-id') ?? '')).length} live), ${generations} generations / ${parts} parts in S3, ${restoredServers} woken servers holding their data; ${duplicates.length} duplicates; Slack acks over 3 s: ${slowAcks.length}, forms not opened in time (trigger expired): ${expiredTriggers.length}; drift the replicas' reconciler reported: ${drift}`);
  const problems = Object.entries(found).flatMap(([what, list]) => list.map((p) => `${what}: ${p}`));
  if (problems.length) {
    const file = join(tmpdir(), `dormouse-chaos-${w.prefix}-${Date.now()}.log`);
    writeFileSync(file, r.bots.flatMap((b) => b.logs().map((l) => JSON.stringify({ bot: b.name, ...l }))).join('\n'));
    report(`${label}: every replica's log (${r.bots.length} processes) is in ${file}`);
  }
  report(`${label}: ${problems.length ? `${problems.length} PROBLEM(S):\n  - ${problems.join('\n  - ')}` : 'every check held'}`);
  for (const [what, list] of Object.entries(found)) expect.soft(list, what).toEqual([]);
}

// ── people ──────────────────────────────────────────────────────────────────

/** What people do, as people do it: one thing on their screen at a time; again when told to, or when nothing happens. */
class People {
  /** Per person, the end of what they are doing on their screen. */
  private readonly screens = new Map<string, Promise<unknown>>();

  constructor(
    private readonly w: World,
    private readonly tally: Tally,
    private readonly random: () => number,
  ) {}

  /** `/server new <name>`, the form: the template picked, the count, submitted. Until the environment is recorded. */
  async create(t: Trace): Promise<void> {
    const step = this.begin(t, 'new');
    const { r } = this.w;
    for (let attempt = 1; !(await r.environment(t.name)); attempt++) {
      if (attempt > 12) throw new Error(`${t.name}: not recorded after ${attempt - 1} tries of /server new`);
      await this.onScreen(t.owner, async () => {
        if (await r.environment(t.name)) return;
        if (r.double.openViews(t.owner).length) await r.double.closeView(t.owner, { all: true }).catch(() => undefined);
        const before = this.seen(t.owner);
        await this.deliver(() => r.double.slashCommand({ user: t.owner, channel: CHANNEL, command: '/server', text: `new ${t.name}` }));
        const form = await this.until(() => r.double.openViews(t.owner).find((v) => v.callback_id === Ids.view.request), 8_000);
        if (!form) return this.readReplies(t.owner, before);
        // Picking the template asks the bot for the form with its count (a block action, then views.update).
        const countBlock = () => r.double.openViews(t.owner).at(-1)?.blocks.find((b) => String(b.block_id).startsWith(`${Ids.block.count}:`));
        for (let pick = 0; pick < 3 && !countBlock(); pick++) {
          await this.deliver(async () => (await r.double.selectOption({ user: t.owner, label: 'Template', option: 'chaos' })) ?? NOT_SENT);
          await this.until(countBlock, 6_000);
        }
        if (!countBlock()) return;
        const submitted = await this.deliver(() => r.double.submitView({ user: t.owner, values: { 'Number of servers': String(t.count) } }));
        if (submitted.status !== 200) return;
        await this.until(async () => Boolean(await r.environment(t.name)), PATIENCE_MS);
      });
    }
    await this.reach(t, (e) => e.state === 'ready', 'ready');
    step.doneAt = Date.now();
    await this.onScreen(t.owner, async () => {
      if (this.w.r.double.openViews(t.owner).length) await this.w.r.double.closeView(t.owner, { all: true }).catch(() => undefined);
    });
  }

  /** Leaves files on every server, then `/server sleep <name>`, until asleep. */
  async sleep(t: Trace): Promise<void> {
    const { r, agents } = this.w;
    const ready = (await r.environment(t.name))!;
    for (const s of ready.servers) {
      const dir = agents.dataDir(s.instanceId);
      mkdirSync(join(dir, 'db'), { recursive: true });
      writeFileSync(join(dir, 'db', 'rows.bin'), randomBytes(50_000 + s.index * 1_000));
      writeFileSync(join(dir, 'notes.txt'), `${t.name}: server ${s.index}, left off here\n`);
      t.before.set(s.index, files(dir));
    }
    const step = this.begin(t, 'sleep');
    await this.command(t, `sleep ${t.name}`, (e) => e.state !== 'ready' || e.data?.saving !== undefined);
    await this.reach(t, (e) => e.state === 'asleep', 'asleep');
    step.doneAt = Date.now();
  }

  /** `/server wake <name>`, until ready on fresh servers. */
  async wake(t: Trace): Promise<void> {
    const { r } = this.w;
    const asleep = (await r.environment(t.name))!;
    const step = this.begin(t, 'wake');
    await this.command(t, `wake ${t.name}`, (e) => e.state !== 'asleep');
    await this.reach(t, (e) => e.state === 'ready' && e.attempt > asleep.attempt, 'awake on fresh servers');
    step.doneAt = Date.now();
  }

  /** `/server destroy <name>`, then *Save data and destroy* on the question; until destroyed. */
  async destroy(t: Trace): Promise<void> {
    const { r } = this.w;
    const step = this.begin(t, 'destroy');
    const started = (e: Environment | undefined) => e !== undefined && (e.state !== 'ready' || e.data?.saving !== undefined);
    for (let attempt = 1; !started(await r.environment(t.name)); attempt++) {
      if (attempt > 12) throw new Error(`${t.name}: the destroy did not start after ${attempt - 1} tries`);
      await this.onScreen(t.owner, async () => {
        if (started(await r.environment(t.name))) return;
        const before = this.seen(t.owner);
        await this.deliver(() => r.double.slashCommand({ user: t.owner, channel: CHANNEL, command: '/server', text: `destroy ${t.name}` }));
        const question = await this.until(
          () => this.since(t.owner, before).find((m) => m.text.includes(`Destroy \`${t.name}\``) && JSON.stringify(m.blocks).includes(Ids.action.destroySave)),
          8_000,
        );
        if (!question) return this.readReplies(t.owner, before);
        const clicked = await this.deliver(() => r.double.sendBlockAction({ user: t.owner, location: { type: 'ephemeral', ts: question.ts }, blockId: 'destroy_confirm', actionId: Ids.action.destroySave }));
        if (clicked.status !== 200) return;
        await this.until(async () => started(await r.environment(t.name)), PATIENCE_MS);
      });
    }
    await this.reach(t, (e) => e.state === 'destroyed', 'destroyed');
    step.doneAt = Date.now();
  }

  /** Sends `/server <text>` until the record shows it was taken (`taken`), re-sending when told to or when nothing happens. */
  private async command(t: Trace, text: string, taken: (e: Environment) => boolean): Promise<void> {
    const { r } = this.w;
    for (let attempt = 1; ; attempt++) {
      const now = await r.environment(t.name);
      if (now && taken(now)) return;
      if (now?.state === 'failed') {
        await this.retryFailed(t);
        continue;
      }
      if (attempt > 12) throw new Error(`${t.name}: /server ${text} not taken after ${attempt - 1} tries; ${JSON.stringify(summarise(now))}`);
      const before = this.seen(t.owner);
      await this.deliver(() => r.double.slashCommand({ user: t.owner, channel: CHANNEL, command: '/server', text }));
      const outcome = await this.until(async () => {
        const e = await r.environment(t.name);
        if (e && taken(e)) return 'taken';
        return this.toldToRetry(t.owner, before) ? 'again' : undefined;
      }, PATIENCE_MS);
      if (outcome === 'taken') return;
      if (outcome === 'again') {
        this.tally.toldToRetry += 1;
        await sleep(3_000 + this.random() * 2_000);
      } else this.tally.impatient += 1;
    }
  }

  /**
   * Waits for the environment to reach a state; a failed one is retried by its owner (and counted). Slow is not
   * stuck: a flow whose holder is killed again and again takes long, but its record moves. Stuck is no write to
   * the record for STUCK_MS.
   */
  private async reach(t: Trace, predicate: (e: Environment) => boolean, what: string): Promise<void> {
    const since = Date.now();
    let moved = { version: -1, at: since };
    for (;;) {
      const e = await this.w.r.environment(t.name);
      if (e && predicate(e)) return;
      if (e?.state === 'failed') await this.retryFailed(t);
      if (e && e.version !== moved.version) moved = { version: e.version, at: Date.now() };
      if (Date.now() - moved.at > STUCK_MS) throw new Error(`${t.name}: stuck on its way to ${what}: no write for ${STUCK_MS / 1000} s; ${JSON.stringify(summarise(e))}`);
      if (Date.now() - since > STATE_TIMEOUT_MS) throw new Error(`${t.name}: not ${what} within ${STATE_TIMEOUT_MS / 1000} s; ${JSON.stringify(summarise(e))}`);
      // Not faster: dynalite runs in this process, next to the replicas' own store calls.
      await sleep(1_000);
    }
  }

  /** `/server retry <name>` on a failed environment, until it is not failed any more. */
  private async retryFailed(t: Trace): Promise<void> {
    const { r } = this.w;
    const failed = await r.environment(t.name);
    report(`${t.name} failed: ${JSON.stringify(failed?.failure)}; its owner retries it`);
    this.tally.retries += 1;
    for (let attempt = 1; (await r.environment(t.name))?.state === 'failed'; attempt++) {
      if (attempt > 6) throw new Error(`${t.name}: still failed after ${attempt - 1} retries: ${JSON.stringify(failed?.failure)}`);
      await this.deliver(() => r.double.slashCommand({ user: t.owner, channel: CHANNEL, command: '/server', text: `retry ${t.name}` }));
      await this.until(async () => (await r.environment(t.name))?.state !== 'failed', PATIENCE_MS);
    }
  }

  /** The ephemerals the person has now (by ts: replies may replace earlier ones). */
  private seen(user: string): Set<string> {
    return new Set(this.w.r.double.ephemerals(user).map((m) => m.ts));
  }

  /** The ephemerals that came after `before`. */
  private since(user: string, before: Set<string>) {
    return this.w.r.double.ephemerals(user).filter((m) => !before.has(m.ts));
  }

  /** A reply since `before` said to try again: counted, and a moment's wait, as a person would. */
  private async readReplies(user: string, before: Set<string>): Promise<void> {
    if (this.toldToRetry(user, before)) {
      this.tally.toldToRetry += 1;
      await sleep(1_000);
    } else this.tally.impatient += 1;
  }

  private toldToRetry(user: string, before: Set<string>): boolean {
    return this.since(user, before).some((m) => /could not reach its database|Try again|cannot tell yet/i.test(m.text));
  }

  /**
   * Sends one delivery to a live replica (as Slack's load balancer would), and again to another when the one
   * it reached did not answer (killed, or not yet listening). `send` must deliver at once (the double reads
   * the events URL when it is called).
   */
  private async deliver(send: () => Promise<InteractionResult>): Promise<InteractionResult> {
    const { r, slots } = this.w;
    for (let attempt = 1; ; attempt++) {
      const up = slots.filter((b): b is BotProcess => b !== undefined);
      if (!up.length) {
        await sleep(200);
        continue;
      }
      const bot = up[Math.floor(this.random() * up.length)]!;
      this.tally.sends += 1;
      r.double.setEventsUrl(bot.eventsUrl);
      const result = await send();
      if (result.status === 200 || attempt >= 20) return result;
      this.tally.unanswered += 1;
      await sleep(300);
    }
  }

  /** Runs `work` once the person's screen is free (they do one thing at a time). */
  private onScreen<T>(user: string, work: () => Promise<T>): Promise<T> {
    const previous = this.screens.get(user) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(work);
    this.screens.set(user, next);
    return next;
  }

  /** Polls `check` every 300 ms until it gives something, or `timeoutMs` passes (then undefined). */
  private async until<T>(check: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs: number): Promise<T | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const got = await check();
      if (got) return got;
      if (Date.now() > deadline) return undefined;
      await sleep(300);
    }
  }

  private begin(t: Trace, step: string): { step: string; askedAt: number; doneAt?: number } {
    const entry = { step, askedAt: Date.now() };
    t.steps.push(entry);
    return entry;
  }
}

// ── reading moto ────────────────────────────────────────────────────────────

/** Every instance moto knows (this run's: other tests in it use other environment ids). */
async function allInstances(ec2: EC2Client): Promise<Instance[]> {
  const out: Instance[] = [];
  let token: string | undefined;
  do {
    const page = await ec2.send(new DescribeInstancesCommand({ ...(token ? { NextToken: token } : {}), MaxResults: 1000 }));
    for (const reservation of page.Reservations ?? []) out.push(...(reservation.Instances ?? []));
    token = page.NextToken;
  } while (token);
  return out;
}

const tag = (i: Instance, key: string): string | undefined => i.Tags?.find((t) => t.Key === key)?.Value;

/** Whether live instances of an environment id unknown to the store carry one of this run's names (an orphan of ours). */
function instancesNamed(live: readonly Instance[], envId: string, prefix: string): boolean {
  return live.some((i) => tag(i, 'dormouse:environment-id') === envId && (tag(i, 'dormouse:environment') ?? '').startsWith(`${prefix}-`));
}

