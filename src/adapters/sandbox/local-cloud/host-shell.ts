/**
 * Runs a sandbox-safe step on this machine the way an SSM agent runs it on a
 * server: apart from the bot. step-runner.sh is started detached (its own
 * process group, no pipe to this process, unref'd), runs the script in the
 * server's data directory, enforces the step's timeout, and writes the result
 * next to the command's files. So the step finishes, and its result is
 * there, even if this process is killed or paused meanwhile; whoever waits
 * for it (this process, or another after a restart) reads the files.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { isAlive } from '../process-alive.js';

const RUNNER = fileURLToPath(new URL('./step-runner.sh', import.meta.url));
/** Bytes read from the end of an output file: enough for the last lines, bounded for chatty scripts. */
const MAX_TAIL_BYTES = 64 * 1024;
/** Whether /proc tells us which program a pid runs (Linux): then a recycled pid is never taken for a runner. */
const HAS_PROC = existsSync('/proc/self/cmdline');

export interface RunnerStart {
  /** Where the command's files live: `<prefix>.sh` must exist. */
  prefix: string;
  cwd: string;
  /** The whole environment of the step: nothing else of this process leaks in. */
  env: Readonly<Record<string, string>>;
  timeoutMs: number;
  /** Waited before the script (the slow-step fault), within the timeout. */
  delayMs: number;
}

/** Starts step-runner.sh for a command; resolves with its pid once it runs (rejects if bash cannot start). */
export function startRunner(options: RunnerStart): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [RUNNER, options.prefix, seconds(options.timeoutMs), seconds(options.delayMs)], {
      cwd: options.cwd,
      env: { ...options.env },
      stdio: 'ignore',
      detached: true,
    });
    child.once('error', reject);
    child.once('spawn', () => {
      child.unref();
      resolve(child.pid ?? 0);
    });
  });
}

function seconds(ms: number): string {
  return (Math.max(0, ms) / 1000).toFixed(3);
}

/** Kills a process group (the runner's, or the step's), if it is still the command's. */
export async function killGroup(pid: number, prefix: string): Promise<void> {
  if (!(await isRunning(pid, prefix))) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // ESRCH: nothing left in the group.
  }
}

/**
 * Whether the pid still runs this command's runner or step: on Linux its
 * command line names the command's files (a dead runner's pid may have been
 * given to anything since); elsewhere, whether the pid exists at all.
 */
export async function isRunning(pid: number, prefix: string): Promise<boolean> {
  if (!Number.isInteger(pid) || pid <= 1) return false;
  if (HAS_PROC) {
    try {
      // A zombie (ended, not yet reaped) has an empty command line: ended.
      return (await readFile(`/proc/${pid}/cmdline`, 'utf8')).includes(prefix);
    } catch {
      return false;
    }
  }
  return isAlive(pid);
}

/** The last `lines` lines of an output file ('' when it does not exist). */
export async function readTail(path: string, lines: number): Promise<string> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw e;
  }
  try {
    const { size } = await handle.stat();
    const length = Math.min(size, MAX_TAIL_BYTES);
    const buffer = Buffer.alloc(length);
    await handle.read(buffer, 0, length, size - length);
    const text = buffer.toString('utf8');
    return text === '' ? '' : text.replace(/\r?\n$/, '').split(/\r?\n/).slice(-lines).join('\n');
  } finally {
    await handle.close();
  }
}
