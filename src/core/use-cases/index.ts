import type { Template } from '../environment/template.js';
import type { Clock, Logger } from '../ports/clock.port.js';
import type { ComputePort } from '../ports/compute.port.js';
import type { DataStorePort } from '../ports/data-store.port.js';
import type { EnvironmentRepository } from '../ports/environment-repository.port.js';
import type { NotifierPort } from '../ports/notifier.port.js';
import type { RemoteCommandPort } from '../ports/remote-command.port.js';
import { WorkflowRunner } from '../workflow/runner.js';
import { DestroyEnvironment, DestroyFlow } from './destroy.use-case.js';
import { ProvisionFlow } from './provision.flow.js';
import { EnvironmentQueries } from './queries.use-case.js';
import { RequestEnvironment } from './request.use-case.js';
import { ResumeStuckEnvironments } from './resume.use-case.js';
import { RetryEnvironment } from './retry.use-case.js';
import { SaveFlow, type DataScripts, type DataSettings } from './save.flow.js';
import { DataQueries, SaveEnvironment, WakeEnvironment } from './sleep.use-case.js';
import { WakeFlow } from './wake.flow.js';
import { PurgeExpiredData, RestoreEnvironment } from './restore.use-case.js';
import type { PeoplePort } from '../ports/people.port.js';
import type { ScheduleSettings } from '../schedule/timers.js';
import { ScheduleService } from './schedule.use-case.js';
import { SavingsQuery } from './savings.use-case.js';
import type { DeliveryClaims } from '../ports/delivery-claims.port.js';
import type { QuotaLedger } from '../ports/quota-ledger.port.js';
import type { MetricsPort } from '../ports/metrics.port.js';
import { NO_APPROVAL, type ApprovalPolicy } from '../policies/approval.policy.js';
import { NO_QUOTAS, type Quotas } from '../policies/quota.policy.js';
import type { Access } from '../policies/permissions.js';
import { scheduleOf } from '../schedule/timers.js';
import type { Environment } from '../environment/environment.js';
import { ApprovalService, RequestGate } from './approval.use-case.js';
import { QuotaGuard } from './quota.use-case.js';
import { RepairFlow } from './repair.flow.js';
import { SettleMessages } from './settle-messages.use-case.js';
import { RepairEnvironment } from './repair.use-case.js';
import { DriftActions, Reconciler } from './drift.use-case.js';
import type { DriftAlerts, FindingStore } from '../ports/finding-store.port.js';
import type { FindingKind } from '../drift/drift.js';

/** What the composition root provides: ports and settings. Each use case takes only what it uses. */
export interface CorePorts {
  repo: EnvironmentRepository;
  compute: ComputePort;
  commands: RemoteCommandPort;
  notifier: NotifierPort;
  clock: Clock;
  logger: Logger;
  templates: readonly Template[];
  admins: readonly string[];
  timeouts: { runningMs: number; agentMs: number };
  /** This process, in leases: unique per process start. */
  workerId: string;
  /** How long a flow's lease lasts unless renewed (tens of seconds). */
  leaseMs: number;
  /** Where bootstrap scripts find the environment's data on a server (the sandbox sets its own per server). */
  serverDataDir?: string;
  /** Backoff of store retries inside a flow (tests shorten it). */
  storeRetry?: { initialMs: number; maxMs: number };
  /** Where environments' data is kept, and the scripts servers save and restore it with. Without it, nothing sleeps. */
  data?: { store: DataStorePort; scripts: DataScripts; settings: DataSettings; retentionDays: number };
  /** Schedules: the default, reminders, holidays, idle clean-up. Without it, nothing sleeps or wakes on its own. */
  schedule?: ScheduleSettings;
  /** People's time zones (the owner's evening is the schedule's evening). */
  people?: PeoplePort;
  /** Teams by name, their members' ids (the savings report's teams). */
  teams?: Readonly<Record<string, readonly string[]>>;
  /** Claims on work done once across replicas (the weekly savings post). */
  claims?: DeliveryClaims;
  /** Who acts on alerts (the permissions matrix's ops). */
  ops?: readonly string[];
  /** Approval rules and quotas (the policy file); without: every request goes ahead, nobody is limited. */
  policy?: ApprovalPolicy & { quotas: Quotas };
  /** The quota books; needed when the policy sets quotas. */
  quotaLedger?: QuotaLedger;
  /** Flows and steps counted for `/metrics`. */
  metrics?: MetricsPort;
  /** Drift: where findings are kept and ops alerted. Without it, no reconciler. */
  drift?: { findings: FindingStore; alerts: DriftAlerts; graceMs: number; onFindings?: (open: Record<FindingKind, number>) => void };
}

export const DEFAULT_DATA_SETTINGS: DataSettings = { saveTimeoutSeconds: 6 * 3600, restoreTimeoutSeconds: 6 * 3600, progressEveryMs: 5_000, keepGenerations: 5 };

export type UseCases = ReturnType<typeof createUseCases>;

/** One instance of each use case: Slack listeners and scheduled jobs call the same ones. */
export function createUseCases(ports: CorePorts) {
  const { repo, compute, commands, notifier, clock, logger, templates, admins, timeouts } = ports;
  const runner = new WorkflowRunner({
    repo,
    clock,
    logger,
    workerId: ports.workerId,
    leaseMs: ports.leaseMs,
    ...(ports.storeRetry ? { retry: ports.storeRetry } : {}),
    ...(ports.metrics ? { metrics: ports.metrics } : {}),
  });
  const events = repo;
  const policy = ports.policy ?? { ...NO_APPROVAL, quotas: NO_QUOTAS };
  const teams = ports.teams ?? {};
  const access: Access = {
    admins,
    ops: ports.ops ?? [],
    teams,
    leads: Object.fromEntries(policy.approvers.map((a) => [a.team, a.users])),
  };
  const templateNamed = (name: string) => templates.find((t) => t.name === name);
  /** The schedule an environment runs on: its own, its template's, or the default (none: always on). */
  const runsOn = (env: Environment) =>
    ports.schedule ? scheduleOf(env, templateNamed(env.template), ports.schedule, clock.now()).schedule : (env.schedule ?? templateNamed(env.template)?.schedule);
  if ((policy.quotas.person || policy.quotas.team) && !ports.quotaLedger) throw new Error('quotas are set but no quota ledger was given');
  const quota = ports.quotaLedger ? new QuotaGuard({ ledger: ports.quotaLedger, repo, quotas: policy.quotas, teams, clock, logger, scheduleOf: runsOn }) : undefined;
  const gate = new RequestGate({ policy, teams, quota, scheduleOf: runsOn, clock });
  const provision = new ProvisionFlow({
    compute,
    commands,
    notifier,
    events,
    clock,
    logger,
    templates,
    timeouts,
    gate,
    ...(ports.serverDataDir ? { serverDataDir: ports.serverDataDir } : {}),
  });
  runner.register('provision', provision.run);
  const data = ports.data;
  const destroyFlow = new DestroyFlow({ compute, notifier, events, clock, logger, timeouts, quota, ...(data ? { data: { store: data.store, retentionDays: data.retentionDays } } : {}) });
  runner.register('destroy', destroyFlow.run);
  const serverDataDir = ports.serverDataDir ? { serverDataDir: ports.serverDataDir } : {};
  if (data) {
    const common = { commands, data: data.store, notifier, events, clock, logger, settings: data.settings, scripts: data.scripts, ...serverDataDir };
    runner.register('save', new SaveFlow({ ...common, compute, templates, timeouts, destroy: destroyFlow }).run);
    runner.register('wake', new WakeFlow({ ...common, compute, timeouts, setup: provision }).run);
  }
  runner.register(
    'repair',
    new RepairFlow({
      compute,
      commands,
      notifier,
      events,
      clock,
      logger,
      templates,
      timeouts,
      setup: provision,
      ...serverDataDir,
      ...(data ? { data: { store: data.store, settings: data.settings, scripts: data.scripts } } : {}),
    }).run,
  );
  const repair = new RepairEnvironment({ repo, events, runner, compute, notifier, clock, logger, access });
  const driftPorts = ports.drift;
  const drift = driftPorts
    ? {
        reconciler: new Reconciler({
          repo,
          compute,
          findings: driftPorts.findings,
          alerts: driftPorts.alerts,
          ...(data ? { data: data.store } : {}),
          clock,
          logger: logger.child({ component: 'reconciler' }),
          templates,
          access,
          repair,
          graceMs: driftPorts.graceMs,
          ...(driftPorts.onFindings ? { onFindings: driftPorts.onFindings } : {}),
        }),
        actions: new DriftActions({ repo, compute, findings: driftPorts.findings, alerts: driftPorts.alerts, clock, logger, access, repair }),
      }
    : undefined;
  const dataDeps = data ? { repo, events, runner, data: data.store, notifier, clock, logger, templates, access } : undefined;
  const destroy = new DestroyEnvironment({ repo, events, runner, notifier, clock, logger, access });
  const retry = new RetryEnvironment({ repo, events, runner, notifier, clock, logger, access });
  const approvals = new ApprovalService({ repo, events, runner, notifier, clock, logger, access, quota, approvers: policy });
  const save = dataDeps ? new SaveEnvironment(dataDeps) : undefined;
  const wake = dataDeps ? new WakeEnvironment(dataDeps) : undefined;
  const schedule = ports.schedule
    ? new ScheduleService({
        repo,
        events,
        notifier,
        people: ports.people ?? { timeZoneOf: async () => undefined },
        clock,
        logger,
        templates,
        access,
        approvalRules: policy.rules,
        settings: ports.schedule,
        actions: { retry, destroy, approvals, ...(save ? { save } : {}), ...(wake ? { wake } : {}) },
      })
    : undefined;
  return {
    request: new RequestEnvironment({ repo, runner, notifier, clock, logger, templates, gate }),
    approvals,
    quota,
    access,
    destroy,
    retry,
    repair,
    /** The reconciler and the drift alerts' buttons: where findings are kept. */
    drift,
    schedule,
    savings: ports.schedule
      ? new SavingsQuery({ repo, clock, logger, teams: ports.teams ?? {}, defaultSchedule: ports.schedule.defaultSchedule, notifier, ...(ports.claims ? { claims: ports.claims } : {}) })
      : undefined,
    resume: new ResumeStuckEnvironments({ runner }),
    settleMessages: new SettleMessages({ repo, notifier, clock, logger }),
    queries: new EnvironmentQueries({ repo, templates, admins, approvals, ...(quota ? { quota } : {}) }),
    /** Sleep, save, wake and the data queries: only where a data store is configured. */
    data: dataDeps
      ? {
          save: save!,
          wake: wake!,
          queries: new DataQueries(dataDeps),
          restore: new RestoreEnvironment({ ...dataDeps, repo, quota }),
          purgeExpired: new PurgeExpiredData({ data: dataDeps.data, clock, logger }),
          retentionDays: data?.retentionDays ?? 0,
        }
      : undefined,
    runner,
  };
}
