/**
 * How long the local cloud takes to do things. The sandbox is meant to feel
 * like EC2 and SSM (servers boot, agents register, steps take a moment), only
 * faster; tests use FAST_SANDBOX_DELAYS.
 */
export interface SandboxDelays {
  /** pending → running, after launch. */
  bootMs: number;
  /** running → agent online (before that, commands wait as SSM does for InvalidInstanceId). */
  agentMs: number;
  /** How long a step that is recorded but not run on this machine takes. */
  stepMs: number;
  /** shutting-down → terminated, after terminate. */
  terminateMs: number;
  /** First interval between two polls while waiting (it backs off to 8×). */
  pollMs: number;
}

export const DEFAULT_SANDBOX_DELAYS: Readonly<SandboxDelays> = Object.freeze({
  bootMs: 1500,
  agentMs: 1000,
  stepMs: 700,
  terminateMs: 1000,
  pollMs: 250,
});

/** For tests: everything still happens in order, only quickly. */
export const FAST_SANDBOX_DELAYS: Readonly<SandboxDelays> = Object.freeze({
  bootMs: 40,
  agentMs: 30,
  stepMs: 10,
  terminateMs: 20,
  pollMs: 5,
});

const KEYS: Record<string, keyof SandboxDelays> = {
  boot: 'bootMs',
  agent: 'agentMs',
  step: 'stepMs',
  terminate: 'terminateMs',
  poll: 'pollMs',
};

const ACCEPTED =
  'Accepted forms: `fast`, `default`, and `boot=<ms>`, `agent=<ms>`, `step=<ms>`, `terminate=<ms>`, `poll=<ms>`, ' +
  'separated by commas (for example `fast,boot=3000`).';

/**
 * Reads a delays spec such as `boot=3000,agent=2000` or `fast` or
 * `fast,step=500`. A preset fills every delay; later parts override it.
 * An empty spec means the defaults. Throws an Error naming the bad part.
 */
export function parseSandboxDelays(spec: string): Partial<SandboxDelays> {
  const out: Partial<SandboxDelays> = {};
  const parts = spec
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '');
  for (const part of parts) {
    if (part === 'fast' || part === 'default') {
      Object.assign(out, part === 'fast' ? FAST_SANDBOX_DELAYS : DEFAULT_SANDBOX_DELAYS);
      continue;
    }
    const match = /^([a-z]+)\s*=\s*(.*)$/.exec(part);
    const key = match ? KEYS[match[1] ?? ''] : undefined;
    if (!match || !key) {
      throw new Error(`Invalid sandbox delay "${part}" in "${spec}". ${ACCEPTED}`);
    }
    const value = match[2] ?? '';
    if (!/^\d+$/.test(value) || Number(value) > 3_600_000) {
      throw new Error(
        `Invalid sandbox delay "${part}" in "${spec}": ${match[1]} needs a whole number of milliseconds between 0 and 3600000. ${ACCEPTED}`,
      );
    }
    out[key] = Number(value);
  }
  return out;
}

/** Merges partial delays over the defaults and checks every value is usable. */
export function resolveSandboxDelays(delays: Partial<SandboxDelays> = {}): SandboxDelays {
  const merged: SandboxDelays = { ...DEFAULT_SANDBOX_DELAYS };
  for (const [key, value] of Object.entries(delays) as [keyof SandboxDelays, number | undefined][]) {
    if (value === undefined) continue;
    if (!Number.isFinite(value) || value < 0) {
      throw new Error(`Sandbox delay ${key} must be a number of milliseconds ≥ 0, not ${String(value)}.`);
    }
    merged[key] = value;
  }
  // A poll interval of 0 would spin; 1 ms is the floor.
  merged.pollMs = Math.max(1, merged.pollMs);
  return merged;
}
