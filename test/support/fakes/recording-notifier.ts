import type { Environment } from '../../../src/core/environment/environment.js';
import type { SavingsView } from '../../../src/core/use-cases/savings.use-case.js';
import type { NotifierPort, ScheduleNotice, ThreadNote } from '../../../src/core/ports/notifier.port.js';

/** Records what people would be told, in order. */
export class RecordingNotifier implements NotifierPort {
  readonly progress: Environment[] = [];
  readonly notes: Array<{ env: string; note: ThreadNote }> = [];
  readonly failures: Environment[] = [];
  readonly alerts: Environment[] = [];
  /** What the schedule told owners; `refuse` makes the next ones fail (Slack down), as the real notifier reports. */
  readonly notices: Array<{ env: string; notice: ScheduleNotice }> = [];
  refuse = false;

  async showProgress(env: Environment): Promise<void> {
    this.progress.push(structuredClone(env));
  }
  async threadNote(env: Environment, note: ThreadNote): Promise<void> {
    this.notes.push({ env: env.name, note });
  }
  async failed(env: Environment): Promise<void> {
    this.failures.push(structuredClone(env));
  }
  async opsAlert(env: Environment): Promise<void> {
    this.alerts.push(structuredClone(env));
  }
  /** The approvers' messages asked for (a request waiting, then decided). */
  readonly approvals: Environment[] = [];
  async approvalRequest(env: Environment): Promise<boolean> {
    if (this.refuse) return false;
    this.approvals.push(structuredClone(env));
    return true;
  }
  readonly savings: SavingsView[] = [];
  async savingsReport(report: SavingsView): Promise<boolean> {
    this.savings.push(report);
    return true;
  }
  async scheduleNotice(env: Environment, notice: ScheduleNotice): Promise<boolean> {
    if (this.refuse) return false;
    this.notices.push({ env: env.name, notice: structuredClone(notice) });
    return true;
  }
  /** The states shown for `name`, without repeats in a row. */
  states(name: string): string[] {
    return this.progress.filter((e) => e.name === name).map((e) => e.state).filter((s, i, a) => a[i - 1] !== s);
  }
}
