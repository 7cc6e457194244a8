/**
 * Failures the local cloud produces on purpose, so the failure paths (the
 * requester told what went wrong, the ops alert with Retry) can be seen
 * without an AWS account. Set by configuration, e.g.
 * `capacity,fail-step:install,slow-step:migrate=5000,timeout-step:seed`.
 */
export interface SandboxFaults {
  /**
   * Launches are refused for lack of capacity (COMPUTE.INSUFFICIENT_CAPACITY,
   * retryable): every launch when `true`, or only launches of the listed types.
   */
  capacity?: boolean | { types?: string[] };
  /** Steps (by name) that fail with exit code 1 and a stderr line saying the fault was injected. */
  failStep?: string[];
  /** Step name → extra milliseconds the step takes (it times out if that passes its timeout). */
  slowStep?: Record<string, number>;
  /** Steps (by name) that hang until their timeout and end TimedOut. */
  timeoutStep?: string[];
  /** Server indexes (0 = the first server) whose data save fails, before anything is stored. */
  failSave?: number[];
  /** Server indexes whose restore fails. */
  failRestore?: number[];
  /** Server index → extra milliseconds its save takes. */
  slowSave?: Record<number, number>;
  /**
   * Faults that fire only so many times (`fail-step:install*1`), by their
   * spec without the count (`fail-step:install`); the others fire every time.
   * Counted per process start.
   */
  times?: Record<string, number>;
}

const ACCEPTED =
  'Accepted forms, separated by commas: `capacity` (every launch refused), `capacity:<instance-type>`, ' +
  '`fail-step:<step>`, `slow-step:<step>=<ms>`, `timeout-step:<step>`, `fail-save:<server index>`, `fail-restore:<server index>`, ' +
  '`slow-save:<server index>=<ms>` (server index 0 is the first server); add `*<n>` to fire only n times. ' +
  'Example: `capacity:t3.large*1,fail-step:install,slow-step:migrate=5000,timeout-step:seed,fail-save:1`.';

/** Step names and instance types: no separators of this syntax, no surrounding spaces. */
const NAME = /^[^\s,=:][^,=:]*$/;

/**
 * Reads a fault spec (an empty spec means no faults). Throws an Error that
 * names the bad part and lists the accepted forms.
 */
export function parseSandboxFaults(spec: string): SandboxFaults {
  const faults: SandboxFaults = {};
  const parts = spec
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '');
  const bad = (part: string, why: string): Error =>
    new Error(`Invalid sandbox fault "${part}" in "${spec}": ${why}. ${ACCEPTED}`);

  for (const written of parts) {
    // `<fault>*<n>`: fires n times, then no more.
    const counted = /^(.*?)\s*\*\s*(\d+)$/.exec(written);
    const part = counted ? counted[1]!.trim() : written;
    if (counted) {
      const n = Number(counted[2]);
      if (!Number.isSafeInteger(n) || n < 1) throw bad(written, 'the count after * must be a whole number of at least 1, as in fail-step:install*1');
      faults.times = { ...faults.times, [faultKey(part)]: n };
    }
    const colon = part.indexOf(':');
    const kind = (colon === -1 ? part : part.slice(0, colon)).trim();
    const arg = colon === -1 ? undefined : part.slice(colon + 1).trim();
    switch (kind) {
      case 'capacity': {
        if (arg === undefined) {
          faults.capacity = true;
        } else if (!NAME.test(arg)) {
          throw bad(part, 'capacity: needs an instance type, as in capacity:t3.large');
        } else if (faults.capacity !== true) {
          const types = typeof faults.capacity === 'object' ? (faults.capacity.types ?? []) : [];
          faults.capacity = { types: [...types, arg] };
        }
        break;
      }
      case 'fail-step':
      case 'timeout-step': {
        if (arg === undefined || !NAME.test(arg)) {
          throw bad(part, `${kind} needs a step name, as in ${kind}:install`);
        }
        const key = kind === 'fail-step' ? 'failStep' : 'timeoutStep';
        faults[key] = [...(faults[key] ?? []), arg];
        break;
      }
      case 'slow-step': {
        const m = arg === undefined ? null : /^(.+?)\s*=\s*(\d+)$/.exec(arg);
        const name = m?.[1];
        const ms = Number(m?.[2]);
        if (!m || name === undefined || !NAME.test(name) || !Number.isSafeInteger(ms)) {
          throw bad(part, 'slow-step needs a step name and extra milliseconds, as in slow-step:migrate=5000');
        }
        faults.slowStep = { ...faults.slowStep, [name]: ms };
        break;
      }
      case 'fail-save':
      case 'fail-restore': {
        if (arg === undefined || !/^\d{1,2}$/.test(arg)) throw bad(part, `${kind} needs a server index (0 is the first server), as in ${kind}:1`);
        const key = kind === 'fail-save' ? 'failSave' : 'failRestore';
        faults[key] = [...(faults[key] ?? []), Number(arg)];
        break;
      }
      case 'slow-save': {
        const m = arg === undefined ? null : /^(\d{1,2})\s*=\s*(\d+)$/.exec(arg);
        const ms = Number(m?.[2]);
        if (!m || !Number.isSafeInteger(ms)) throw bad(part, 'slow-save needs a server index and extra milliseconds, as in slow-save:0=5000');
        faults.slowSave = { ...faults.slowSave, [Number(m[1])]: ms };
        break;
      }
      default:
        throw bad(part, `"${kind}" is not a known fault`);
    }
  }
  return faults;
}

/** The spec that parses back into these faults (for the start-up banner). Empty when there are none. */
export function formatSandboxFaults(faults: SandboxFaults): string {
  const parts: string[] = [];
  if (faults.capacity === true) parts.push('capacity');
  else if (faults.capacity) parts.push(...(faults.capacity.types ?? []).map((t) => `capacity:${t}`));
  parts.push(...(faults.failStep ?? []).map((s) => `fail-step:${s}`));
  parts.push(...Object.entries(faults.slowStep ?? {}).map(([s, ms]) => `slow-step:${s}=${ms}`));
  parts.push(...(faults.timeoutStep ?? []).map((s) => `timeout-step:${s}`));
  parts.push(...(faults.failSave ?? []).map((i) => `fail-save:${i}`));
  parts.push(...(faults.failRestore ?? []).map((i) => `fail-restore:${i}`));
  parts.push(...Object.entries(faults.slowSave ?? {}).map(([i, ms]) => `slow-save:${i}=${ms}`));
  return parts.map((p) => (faults.times?.[faultKey(p)] ? `${p}*${faults.times[faultKey(p)]}` : p)).join(',');
}

/** The key a fault is counted under: its spec without the count, and for slow-step without the delay. */
export function faultKey(spec: string): string {
  return spec.startsWith('slow-step:') || spec.startsWith('slow-save:') ? spec.replace(/\s*=\s*\d+$/, '') : spec;
}

/** Whether a launch of this instance type is refused by the capacity fault. */
export function capacityRefuses(faults: SandboxFaults, instanceType: string): boolean {
  const c = faults.capacity;
  if (c === true) return true;
  if (!c) return false;
  // `{}` or `{ types: [] }` names no type: treat as "every launch", the safer reading of "capacity on".
  if (!c.types || c.types.length === 0) return true;
  return c.types.includes(instanceType);
}
