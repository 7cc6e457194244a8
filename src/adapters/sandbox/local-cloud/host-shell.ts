/**
 * Runs a sandbox-safe step on this machine: `bash -c <script>` in its own
 * process group, so a timeout (or the end of the step) can stop everything the
 * script started. Nothing a step starts is left running after it ends.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { constants } from 'node:os';
import { performance } from 'node:perf_hooks';

export interface HostRunOptions {
  cwd: string;
  /** The whole environment of the script: nothing else of this process leaks in. */
  env: Readonly<Record<string, string>>;
  timeoutMs: number;
  /** How many lines of each stream to keep (default 20). */
  tailLines?: number;
}

export interface HostRunResult {
  status: 'Success' | 'Failed' | 'TimedOut';
  /** Absent when the step timed out; 128 + n when a signal n ended it. */
  exitCode?: number;
  stdoutTail: string;
  stderrTail: string;
  durationMs: number;
}

/** After the script exits, how long to wait for its pipes to close before ending what it left behind. */
const EXIT_GRACE_MS = 250;
/** After killing on timeout, how long to wait for the pipes before giving up on them. */
const KILL_GRACE_MS = 2000;
/** Bytes of each stream kept in memory: enough for the last lines, bounded for chatty scripts. */
const MAX_KEPT_BYTES = 64 * 1024;

class Tail {
  private chunks: Buffer[] = [];
  private size = 0;
  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.size += chunk.length;
    while (this.size > MAX_KEPT_BYTES && this.chunks.length > 1) {
      this.size -= this.chunks.shift()?.length ?? 0;
    }
  }
  lines(n: number): string {
    let text = Buffer.concat(this.chunks).toString('utf8');
    if (text.length > MAX_KEPT_BYTES) text = text.slice(-MAX_KEPT_BYTES);
    const lines = text.replace(/\r?\n$/, '').split(/\r?\n/);
    return text === '' ? '' : lines.slice(-n).join('\n');
  }
}

function killGroup(child: ChildProcess): void {
  if (child.pid === undefined) return;
  try {
    // Negative pid: the whole process group (the child leads it: `detached`).
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    // ESRCH: nothing left in the group.
  }
}

export function runOnHost(script: string, options: HostRunOptions): Promise<HostRunResult> {
  const tailLines = options.tailLines ?? 20;
  const started = performance.now();
  const stdout = new Tail();
  const stderr = new Tail();

  return new Promise((resolve) => {
    let settled = false;
    let timedOut = false;
    let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;

    const child = spawn('bash', ['-c', script], {
      cwd: options.cwd,
      env: { ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    child.stdout?.on('data', (c: Buffer) => stdout.push(c));
    child.stderr?.on('data', (c: Buffer) => stderr.push(c));

    const finish = (): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      // Whatever the script left in its group (background jobs) ends with it.
      killGroup(child);
      const durationMs = Math.round(performance.now() - started);
      const stdoutTail = stdout.lines(tailLines);
      const stderrTail = stderr.lines(tailLines);
      if (timedOut) {
        resolve({ status: 'TimedOut', stdoutTail, stderrTail, durationMs });
        return;
      }
      let exitCode = exit?.code ?? undefined;
      if (exitCode === undefined && exit?.signal) exitCode = 128 + (constants.signals[exit.signal] ?? 0);
      resolve({ status: exitCode === 0 ? 'Success' : 'Failed', exitCode: exitCode ?? 1, stdoutTail, stderrTail, durationMs });
    };

    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child);
      setTimeout(finish, KILL_GRACE_MS).unref();
    }, options.timeoutMs);

    child.once('error', (e) => {
      // bash could not be started (missing, or the folder vanished).
      stderr.push(Buffer.from(`sandbox: could not start bash: ${e.message}\n`));
      exit ??= { code: 127, signal: null };
      finish();
    });
    child.once('exit', (code, signal) => {
      exit = { code, signal };
      // Background jobs may still hold the pipes open; do not wait for them long.
      setTimeout(finish, EXIT_GRACE_MS).unref();
    });
    child.once('close', (code, signal) => {
      exit ??= { code, signal };
      finish();
    });
  });
}
