/**
 * The Slack side of the ack benchmark (test/bench/ack.bench.ts), in a process
 * of its own so that the process that sends the requests and times them does
 * nothing else: a SlackDouble for the Web API, and a collector for the
 * response_url answers, on one loopback server.
 *
 *   POST /collect/<round>/<i>   a response_url answer, counted per round
 *   GET  /collected/<round>     {"count", "samples", "calls", "problems"}
 *   anything else               the double (`/api/<method>`, `/response/<id>`)
 *
 * Env: BENCH_SIGNING_SECRET, BENCH_BOT_TOKEN. Prints `BENCH_LISTENING <url>`
 * on stdout once it listens; stops on SIGTERM / SIGINT.
 */
import { createServer, type IncomingMessage } from 'node:http';
import { SlackDouble, visibleText } from '../../src/adapters/sandbox/slack-console/slack-double.js';

const double = new SlackDouble({ signingSecret: process.env.BENCH_SIGNING_SECRET ?? 'bench', botToken: process.env.BENCH_BOT_TOKEN ?? 'xoxb-bench' });

interface Round {
  count: number;
  /** A few distinct answers, to show what the app said (and catch an app that answers with an error). */
  samples: string[];
}
const rounds = new Map<string, Round>();

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function summary(raw: string): string {
  try {
    const body = JSON.parse(raw) as { text?: string; blocks?: unknown[] };
    return visibleText(body).replace(/\s+/g, ' ').slice(0, 100);
  } catch {
    return `(not JSON) ${raw.slice(0, 60)}`;
  }
}

const server = createServer((req, res) => {
  const path = new URL(req.url ?? '/', 'http://bench.invalid').pathname;
  const collect = /^\/collect\/([^/]+)\/\d+$/.exec(path);
  if (collect && req.method === 'POST') {
    void readBody(req).then((raw) => {
      const round = rounds.get(collect[1]!) ?? { count: 0, samples: [] };
      rounds.set(collect[1]!, round);
      round.count += 1;
      const said = summary(raw);
      if (round.samples.length < 3 && !round.samples.includes(said)) round.samples.push(said);
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    });
    return;
  }
  const collected = /^\/collected\/([^/]+)$/.exec(path);
  if (collected && req.method === 'GET') {
    const round = rounds.get(collected[1]!) ?? { count: 0, samples: [] };
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ ...round, calls: double.calls.length, problems: double.problems.slice(0, 5) }));
    return;
  }
  void double.handle(req, res).then((handled) => {
    if (!handled) res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
  });
});

server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  double.setBaseUrl(url);
  process.stdout.write(`BENCH_LISTENING ${url}\n`);
});

const stop = () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
