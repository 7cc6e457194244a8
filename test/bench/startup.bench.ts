/**
 * Start-up benchmark: how long from spawning the bot until its console page
 * and `GET /healthz` answer. Targets: the sandbox console within 2 s, and
 * /healthz within 1.5 s (issue 2 and 3). Run on a quiet machine:
 *
 *   npm run bench:startup            # 7 runs of each mode
 *   npm run bench:startup -- 15      # more runs
 *
 * Modes: `sandbox` (no configuration at all), `aws` (moto_server + a Slack
 * double, as in the acceptance check). Prints median, p90 and max per mode.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SlackDouble } from '../../src/adapters/sandbox/slack-console/slack-double.js';
import { freePort } from '../support/moto.global-setup.js';

const runs = Number(process.argv[2] ?? 7);
const root = join(import.meta.dirname, '..', '..');

async function until(url: string, ok: (status: number) => boolean, deadline: number): Promise<number> {
  for (;;) {
    try {
      const res = await fetch(url);
      if (ok(res.status)) return performance.now();
    } catch {
      // not listening yet
    }
    if (performance.now() > deadline) throw new Error(`${url} did not answer in time`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function once(env: Record<string, string>, pageToo: boolean): Promise<{ page?: number; health: number }> {
  const port = await freePort();
  const t0 = performance.now();
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', PORT: String(port), LOG_LEVEL: 'warn', ...env },
    stdio: 'ignore',
  });
  try {
    const base = `http://127.0.0.1:${port}`;
    const page = pageToo ? (await until(`${base}/`, (s) => s === 200, t0 + 20_000)) - t0 : undefined;
    const health = (await until(`${base}/healthz`, (s) => s === 200, t0 + 20_000)) - t0;
    return { ...(page !== undefined ? { page } : {}), health };
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
}

const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
  return `median ${at(0.5).toFixed(0)} ms · p90 ${at(0.9).toFixed(0)} ms · max ${s[s.length - 1]!.toFixed(0)} ms (n=${s.length})`;
};

async function main() {
  // Sandbox: a fresh folder each run (the worst case: the store is created).
  const pages: number[] = [];
  const sandboxHealth: number[] = [];
  for (let i = 0; i < runs; i++) {
    const dir = mkdtempSync(join(tmpdir(), 'dormouse-bench-'));
    const r = await once({ DORMOUSE_SANDBOX_DIR: dir }, true);
    pages.push(r.page!);
    sandboxHealth.push(r.health);
    rmSync(dir, { recursive: true, force: true });
  }
  process.stdout.write(`sandbox  console page: ${stats(pages)}\nsandbox  /healthz:     ${stats(sandboxHealth)}\n`);

  // AWS mode against moto_server and a Slack double.
  const motoPort = await freePort();
  const moto = spawn('moto_server', ['-H', '127.0.0.1', '-p', String(motoPort)], { stdio: 'ignore' });
  const double = new SlackDouble({ signingSecret: 'bench', botToken: 'xoxb-bench' });
  await double.listen(0, '127.0.0.1');
  try {
    await until(`http://127.0.0.1:${motoPort}/moto-api/`, (s) => s < 500, performance.now() + 30_000);
    const awsHealth: number[] = [];
    for (let i = 0; i < runs; i++) {
      const r = await once(
        {
          SLACK_BOT_TOKEN: 'xoxb-bench',
          SLACK_SIGNING_SECRET: 'bench',
          SLACK_API_URL: double.apiUrl,
          AWS_REGION: 'us-east-1',
          AWS_ENDPOINT_URL: `http://127.0.0.1:${motoPort}`,
          AWS_ACCESS_KEY_ID: 'bench',
          AWS_SECRET_ACCESS_KEY: 'bench',
          DORMOUSE_OPS_CHANNEL: 'C0OPS',
          DORMOUSE_TABLE: `bench-${i}`,
        },
        false,
      );
      awsHealth.push(r.health);
    }
    process.stdout.write(`aws/moto /healthz:     ${stats(awsHealth)}\n`);
  } finally {
    moto.kill('SIGTERM');
    await double.close();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
