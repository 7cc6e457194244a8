/**
 * The local cloud's command history, kept like an SSM agent keeps it: on the
 * server, not in the bot. Each command sent to a server is a set of files in
 * `servers/<id>/commands/`, named by the SHA-256 of its idempotency key:
 *
 *   <hash>.json          the command (below): created once, whole, by whoever sent it first
 *   <hash>.sh            its script, for a step run on this machine
 *   <hash>.runner, .pid  the pids of step-runner.sh and of the step (their process groups)
 *   <hash>.timedout      left by the runner's watchdog when it ended the step at its timeout
 *   <hash>.stdout, .stderr
 *   <hash>.result.json   the result of a step run on this machine (see step-runner.sh)
 *   <hash>.reported      present once the result is in bootstrap.log (so it is logged once)
 *
 * A step that is not run here has its result decided when it is sent, from
 * the sandbox's delays and faults, and ends at `endsAt` on the clock, the way
 * a server's state follows from its timestamps: no process has to stay alive
 * for it to end.
 */
import { createHash } from 'node:crypto';
import { mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';
import type { CommandResult } from '../../../core/ports/remote-command.port.js';
import { createJsonExclusive, readJson, writeFileAtomic } from './server-folders.js';

export type CommandMode = 'simulated' | 'host';

export interface CommandRecord {
  key: string;
  step: string;
  /** On the cloud's clock. */
  sentAt: string;
  timeoutSeconds: number;
  mode: CommandMode;
  /** Simulated: when it ends (on the cloud's clock) and how. */
  endsAt?: string;
  outcome?: Omit<CommandResult, 'durationMs'>;
  /**
   * Run here: when it was sent in real time (epoch ms). A real process lives
   * in real time, whatever clock the cloud was given, so this is what the
   * step's timeout is measured from when its runner cannot be trusted.
   */
  hostSentAtMs?: number;
}

/** What step-runner.sh writes when the step ends, or what the cloud records when its runner was lost. */
export interface HostResult {
  exitCode?: number;
  timedOut: boolean;
  durationMs: number;
  /** A line from the sandbox itself, shown after the step's own stderr. */
  note?: string;
}

/** The file name of a key: long keys and any characters become a fixed-length safe name. */
export function commandHash(key: string): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 32);
}

export class CommandFiles {
  constructor(
    /** `servers/<id>/commands`. */
    readonly dir: string,
    readonly hash: string,
  ) {}

  /** The files' common path, `<dir>/<hash>` (what step-runner.sh is given). */
  get prefix(): string {
    return join(this.dir, this.hash);
  }

  path(suffix: '.json' | '.sh' | '.runner' | '.pid' | '.stdout' | '.stderr' | '.result.json' | '.reported'): string {
    return this.prefix + suffix;
  }

  async read(): Promise<CommandRecord | undefined> {
    const value = await readJson(this.path('.json'));
    return isCommandRecord(value) ? value : undefined;
  }

  /** Records the command, unless it exists: false when another run (here or in another process) sent it first. */
  async create(record: CommandRecord): Promise<boolean> {
    await mkdir(this.dir, { recursive: true });
    return createJsonExclusive(this.path('.json'), record);
  }

  async writeScript(script: string): Promise<void> {
    await writeFileAtomic(this.path('.sh'), `${script}\n`);
  }

  async readResult(): Promise<HostResult | undefined> {
    const value = await readJson(this.path('.result.json'));
    return isHostResult(value) ? value : undefined;
  }

  /** Records a result the runner did not write; the runner's, if it got there first, wins. Returns the one that stands. */
  async recordResult(result: HostResult): Promise<HostResult> {
    if (await createJsonExclusive(this.path('.result.json'), result)) return result;
    return (await this.readResult()) ?? result;
  }

  /** A pid the runner wrote, if it did. */
  async readPid(suffix: '.runner' | '.pid'): Promise<number | undefined> {
    const value = await readJson(this.path(suffix)).catch(() => undefined);
    return typeof value === 'number' ? value : undefined;
  }

  /** True for the one caller that gets to log the result. */
  async claimReport(): Promise<boolean> {
    try {
      await (await open(this.path('.reported'), 'wx')).close();
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw e;
    }
  }
}

function isCommandRecord(value: unknown): value is CommandRecord {
  const r = value as Partial<CommandRecord> | undefined;
  return (
    typeof r?.key === 'string' &&
    typeof r.step === 'string' &&
    typeof r.sentAt === 'string' &&
    typeof r.timeoutSeconds === 'number' &&
    (r.mode === 'simulated' ? typeof r.endsAt === 'string' && typeof r.outcome === 'object' : r.mode === 'host')
  );
}

function isHostResult(value: unknown): value is HostResult {
  const r = value as Partial<HostResult> | undefined;
  return typeof r?.timedOut === 'boolean' && typeof r.durationMs === 'number';
}
