/**
 * What this replica's dependencies answer, checked in the background so that
 * `/healthz` and `/readyz` answer at once whatever hangs: the store every
 * 5 s, Slack (`api.test`) and the cloud every 30 s, each with a 2 s deadline.
 *
 * `/healthz` (liveness) stays 200 while the process serves: a store outage is
 * not cured by restarting replicas, and it says what answers. `/readyz` is
 * 503 while the store does not answer: a replica that cannot reach its store
 * can do nothing for anyone (it stops leading too: LeaderCoordinator).
 */
export type DependencyName = 'store' | 'slack' | 'cloud';

export interface DependencyStatus {
  ok: boolean;
  /** When it was last checked (ISO), and how long the check took. */
  checkedAt?: string;
  ms?: number;
  /** Why it failed, in a few words (an error's name or code; never a secret). */
  error?: string;
}

const DEADLINE_MS = 2_000;

export class DependencyProbe {
  private readonly status: Record<DependencyName, DependencyStatus> = { store: { ok: true }, slack: { ok: true }, cloud: { ok: true } };
  private readonly timers: NodeJS.Timeout[] = [];

  constructor(private readonly checks: Partial<Record<DependencyName, () => Promise<unknown>>>) {}

  /** Checks each dependency now, then on its period; resolves after the first round. */
  async start(): Promise<void> {
    const every: Record<DependencyName, number> = { store: 5_000, slack: 30_000, cloud: 30_000 };
    await Promise.all(
      (Object.keys(this.checks) as DependencyName[]).map(async (name) => {
        await this.check(name);
        const t = setInterval(() => void this.check(name), every[name]);
        t.unref();
        this.timers.push(t);
      }),
    );
  }

  stop(): void {
    for (const t of this.timers) clearInterval(t);
  }

  snapshot(): Record<DependencyName, DependencyStatus> {
    return structuredClone(this.status);
  }

  get storeOk(): boolean {
    return this.status.store.ok;
  }

  private async check(name: DependencyName): Promise<void> {
    const run = this.checks[name];
    if (!run) return;
    const started = performance.now();
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([run(), new Promise((_, reject) => (timer = setTimeout(() => reject(Object.assign(new Error('no answer within 2 s'), { name: 'Timeout' })), DEADLINE_MS)))]);
      this.status[name] = { ok: true, checkedAt: new Date().toISOString(), ms: Math.round(performance.now() - started) };
    } catch (err) {
      const e = err as { name?: string; code?: string };
      this.status[name] = { ok: false, checkedAt: new Date().toISOString(), ms: Math.round(performance.now() - started), error: String(e.code ?? e.name ?? 'Error').slice(0, 60) };
    } finally {
      clearTimeout(timer);
    }
  }
}
