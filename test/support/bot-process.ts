/**
 * The bot as a real child process, started as production starts it
 * (`node --import tsx src/main.ts`), for tests that do to it what happens to
 * processes: kill -9, SIGSTOP / SIGCONT, SIGTERM, two of them at once.
 *
 * The child gets only the environment the test gives, over a minimal one
 * (never the test worker's own). Its stdout is pino's JSON, one object a
 * line; `logs()` has them parsed, and `waitForLog` waits for one. A child a
 * test forgets to stop is killed when the test worker exits.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

/** One line of the child's output: pino's JSON object, or `{ raw }` for anything else (`stream: 'stderr'` when it came from there). */
export type LogLine = Record<string, unknown>;

export interface BotProcessOptions {
  /** Set over the minimal environment; a key set to undefined removes it. */
  env: Record<string, string | undefined>;
  /** Shown in errors, to tell two bots apart (default `bot`). */
  name?: string;
  /** How long `startBotProcess` waits for 'Dormouse is listening' (default 30 s). */
  startTimeoutMs?: number;
}

export interface BotExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface BotProcess {
  readonly name: string;
  readonly pid: number;
  /** Where Slack POSTs: http://127.0.0.1:<port>/slack/events, from the 'Dormouse is listening' line. */
  readonly eventsUrl: string;
  /** The same server's /healthz. */
  readonly healthUrl: string;
  /** Every line so far, parsed, in order (stdout and stderr interleaved as they arrived). */
  logs(): LogLine[];
  /**
   * The first line (from index `since`, default 0: lines already seen count)
   * that `predicate` accepts. Rejects, with the child's last lines, after
   * `timeoutMs` (default 10 s) or when the child exits first.
   */
  waitForLog(predicate: (line: LogLine) => boolean, timeoutMs?: number, since?: number): Promise<LogLine>;
  /** The last `n` lines of output as text, for error messages. */
  tail(n?: number): string;
  /** Sends a signal (default SIGKILL). */
  kill(signal?: NodeJS.Signals): void;
  /** SIGSTOP: the process is frozen, its sockets stay open and nothing answers. */
  pause(): void;
  /** SIGCONT. */
  resume(): void;
  /** Settles when the child has exited (never rejects). */
  readonly exited: Promise<BotExit>;
  /** SIGTERM (a paused child is resumed so it can act on it), then SIGKILL after `graceMs` (default 15 s). Resolves once it has exited. */
  stop(graceMs?: number): Promise<void>;
}

const REPO_ROOT = join(import.meta.dirname, '..', '..');
const TAIL_LINES = 40;

/** Children not yet exited, killed if the test worker exits first. */
const running = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of running) {
      try {
        child.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
  });
}

function minimalEnv(env: Record<string, string | undefined>): Record<string, string> {
  const merged: Record<string, string | undefined> = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    LOG_LEVEL: 'info',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    ...env,
  };
  return Object.fromEntries(Object.entries(merged).filter((e): e is [string, string] => e[1] !== undefined));
}

function parseLine(line: string, stream: 'stdout' | 'stderr'): LogLine {
  if (stream === 'stdout' && line.startsWith('{')) {
    try {
      const parsed: unknown = JSON.parse(line);
      if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) return parsed as LogLine;
    } catch {
      // not JSON after all
    }
  }
  return stream === 'stderr' ? { raw: line, stream } : { raw: line };
}

export async function startBotProcess(options: BotProcessOptions): Promise<BotProcess> {
  const name = options.name ?? 'bot';
  const startTimeoutMs = options.startTimeoutMs ?? 30_000;
  installExitHook();

  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: REPO_ROOT,
    env: minimalEnv(options.env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);

  const lines: LogLine[] = [];
  const text: string[] = [];
  const watchers = new Set<() => void>();
  const notify = (): void => {
    for (const w of [...watchers]) w();
  };
  const take = (stream: 'stdout' | 'stderr') => (line: string) => {
    lines.push(parseLine(line, stream));
    text.push(stream === 'stderr' ? `[stderr] ${line}` : line);
    if (text.length > 1000) text.splice(0, text.length - 1000);
    notify();
  };
  const readers = [
    createInterface({ input: child.stdout!, crlfDelay: Infinity }),
    createInterface({ input: child.stderr!, crlfDelay: Infinity }),
  ];
  readers[0]!.on('line', take('stdout'));
  readers[1]!.on('line', take('stderr'));
  const outputDone = Promise.all(readers.map((r) => new Promise<void>((resolve) => r.once('close', () => resolve()))));

  // `exit` is known at once; `ended` once the pipes are read too (the last lines may be a stack trace).
  let exit: BotExit | undefined;
  let ended = false;
  let settleExited!: (e: BotExit) => void;
  const exited = new Promise<BotExit>((resolve) => (settleExited = resolve));
  const end = (e: BotExit): void => {
    if (exit) return;
    exit = e;
    running.delete(child);
    void Promise.race([outputDone, new Promise((r) => setTimeout(r, 500))]).then(() => {
      ended = true;
      notify();
      settleExited(e);
    });
  };
  child.once('exit', (code, signal) => end({ code, signal }));
  child.on('error', (e) => {
    take('stderr')(`child process error: ${e.message}`);
    // A spawn that failed emits no 'exit' (a failed kill leaves the child running).
    if (child.pid === undefined) end({ code: null, signal: null });
  });

  const tail = (n = TAIL_LINES): string => text.slice(-n).join('\n');
  const describeExit = (): string => (exit ? (exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`) : 'is still running');

  const waitForLog = (predicate: (line: LogLine) => boolean, timeoutMs = 10_000, since = 0): Promise<LogLine> =>
    new Promise((resolve, reject) => {
      let next = since;
      const check = (): void => {
        for (; next < lines.length; next += 1) {
          const line = lines[next]!;
          if (predicate(line)) return finish(() => resolve(line));
        }
        if (ended) finish(() => reject(new Error(`${name} (pid ${child.pid}) ${describeExit()} before the awaited log line. Its last lines:\n${tail()}`)));
      };
      const timer = setTimeout(
        () => finish(() => reject(new Error(`${name} (pid ${child.pid}) logged no awaited line within ${timeoutMs} ms (it ${describeExit()}). Its last lines:\n${tail()}`))),
        timeoutMs,
      );
      const finish = (settle: () => void): void => {
        clearTimeout(timer);
        watchers.delete(check);
        settle();
      };
      watchers.add(check);
      check();
    });

  let listening: LogLine;
  try {
    listening = await waitForLog((l) => l.msg === 'Dormouse is listening', startTimeoutMs);
  } catch (error) {
    if (!exit) child.kill('SIGKILL');
    await exited;
    throw new Error(`${name} did not start: ${(error as Error).message}`);
  }
  if (typeof listening.events !== 'string' || !listening.events.startsWith('http')) {
    child.kill('SIGKILL');
    await exited;
    throw new Error(`${name} listens on ${JSON.stringify(listening.events)}, not an HTTP events URL (Socket Mode has none to drive)`);
  }
  const eventsUrl = listening.events;

  const signal = (sig: NodeJS.Signals): void => {
    if (exit) return;
    try {
      child.kill(sig);
    } catch {
      // exited meanwhile
    }
  };

  return {
    name,
    pid: child.pid!,
    eventsUrl,
    healthUrl: eventsUrl.replace(/\/slack\/events$/, '/healthz'),
    logs: () => [...lines],
    waitForLog,
    tail,
    kill: (sig = 'SIGKILL') => signal(sig),
    pause: () => signal('SIGSTOP'),
    resume: () => signal('SIGCONT'),
    exited,
    stop: async (graceMs = 15_000) => {
      if (!exit) {
        signal('SIGTERM');
        signal('SIGCONT'); // a stopped process acts on SIGTERM only once it runs again
        const timer = setTimeout(() => signal('SIGKILL'), graceMs);
        await exited;
        clearTimeout(timer);
      }
      await exited;
    },
  };
}
