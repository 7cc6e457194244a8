/**
 * `/metrics` in Prometheus's text format (prom-client), one registry per
 * process (two bots in one test process never share counters).
 *
 *   dormouse_environments{state}                 gauge, read from the store's byState index when scraped
 *   dormouse_flows_started_total{flow}           provision | save | wake | destroy
 *   dormouse_flows_ended_total{flow,outcome}     done | failed | stopped (its lease went: stop, takeover)
 *   dormouse_flow_failures_total{flow,step}      where a flow failed
 *   dormouse_step_duration_seconds{step,status}  histogram of progress steps (launch, running, agent, bootstrap, save, restore …)
 *   dormouse_slack_ack_seconds{kind}             histogram: a Slack request's arrival to its HTTP answer
 *   dormouse_aws_calls_total{service,operation}  every AWS SDK call that answered
 *   dormouse_aws_errors_total{service,operation,error}  and those that failed (after the SDK's retries)
 *   dormouse_leader                              1 while this replica leads periodic work
 *   plus prom-client's process metrics (CPU, memory, event loop lag), prefixed dormouse_
 *
 * Given a logger, every AWS call is also one debug line, under the correlation
 * id of the request or flow that made it:
 *   {"correlationId":"c-…","service":"ec2","operation":"RunInstances","ms":84,"msg":"aws call"}
 */
import { performance } from 'node:perf_hooks';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { LIVE_STATES, type EnvironmentState } from '../../core/environment/lifecycle.js';
import type { Logger } from '../../core/ports/clock.port.js';
import { currentCorrelationId } from '../../core/ports/correlation.js';
import type { MetricsPort } from '../../core/ports/metrics.port.js';

/** What an AWS SDK client's middleware stack accepts (the part used here). */
interface MiddlewareStackLike {
  add(middleware: (next: (args: unknown) => Promise<unknown>, context: { clientName?: string; commandName?: string }) => (args: unknown) => Promise<unknown>, options: { step: 'initialize'; name: string }): void;
}

export class PrometheusMetrics implements MetricsPort {
  readonly registry = new Registry();
  private readonly flowsStarted = new Counter({ name: 'dormouse_flows_started_total', help: 'Flows started or resumed under a lease.', labelNames: ['flow'], registers: [this.registry] });
  private readonly flowsEnded = new Counter({ name: 'dormouse_flows_ended_total', help: 'Flows ended, by outcome.', labelNames: ['flow', 'outcome'], registers: [this.registry] });
  private readonly flowFailures = new Counter({ name: 'dormouse_flow_failures_total', help: 'Flows that recorded a failure, by the step that failed.', labelNames: ['flow', 'step'], registers: [this.registry] });
  private readonly steps = new Histogram({
    name: 'dormouse_step_duration_seconds',
    help: 'How long progress steps took.',
    labelNames: ['step', 'status'],
    buckets: [0.1, 0.5, 1, 5, 15, 30, 60, 120, 300, 900, 3600],
    registers: [this.registry],
  });
  private readonly acks = new Histogram({
    name: 'dormouse_slack_ack_seconds',
    help: "From a Slack request's arrival to its HTTP answer (Slack gives up at 3 s).",
    labelNames: ['kind'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 2.5, 3],
    registers: [this.registry],
  });
  private readonly awsCalls = new Counter({ name: 'dormouse_aws_calls_total', help: 'AWS SDK calls that answered.', labelNames: ['service', 'operation'], registers: [this.registry] });
  private readonly awsErrors = new Counter({ name: 'dormouse_aws_errors_total', help: 'AWS SDK calls that failed, after the SDK retries.', labelNames: ['service', 'operation', 'error'], registers: [this.registry] });

  /** Where each AWS call is logged (debug), when given. */
  private readonly awsLog: Logger | undefined;

  constructor(sources: { environmentsIn?: (state: EnvironmentState) => Promise<number>; leading?: () => boolean; logger?: Logger } = {}) {
    collectDefaultMetrics({ register: this.registry, prefix: 'dormouse_' });
    const { environmentsIn, leading } = sources;
    this.awsLog = sources.logger?.child({ component: 'aws' });
    if (environmentsIn) {
      new Gauge({
        name: 'dormouse_environments',
        help: 'Live environments by state (read from the store when scraped).',
        labelNames: ['state'],
        registers: [this.registry],
        async collect() {
          const counts = await Promise.all(LIVE_STATES.map(async (s) => [s, await environmentsIn(s)] as const));
          for (const [state, n] of counts) this.set({ state }, n);
        },
      });
    }
    if (leading) {
      new Gauge({
        name: 'dormouse_leader',
        help: '1 while this replica leads periodic work (the scheduler, the sweep).',
        registers: [this.registry],
        collect() {
          this.set(leading() ? 1 : 0);
        },
      });
    }
  }

  flowStarted(flow: string): void {
    this.flowsStarted.inc({ flow });
  }

  flowEnded(flow: string, outcome: 'done' | 'failed' | 'stopped', step?: string): void {
    this.flowsEnded.inc({ flow, outcome });
    if (outcome === 'failed') this.flowFailures.inc({ flow, step: step ?? 'unknown' });
  }

  private readonly driftOpen = new Gauge({ name: 'dormouse_drift_findings', help: 'Drift findings open after the last reconciler run (ignored ones left out), by kind.', labelNames: ['kind'], registers: [this.registry] });
  private readonly driftRuns = new Counter({ name: 'dormouse_reconciler_runs_total', help: 'Reconciler runs, by outcome.', labelNames: ['outcome'], registers: [this.registry] });

  /** The reconciler's findings still open after a run, by kind (`orphan`, `ghost`, `config`, `data`). */
  driftFindings(open: Readonly<Record<string, number>>): void {
    for (const [kind, n] of Object.entries(open)) this.driftOpen.set({ kind }, n);
  }

  reconcilerRan(outcome: 'done' | 'failed'): void {
    this.driftRuns.inc({ outcome });
  }

  stepTimed(step: string, status: 'done' | 'failed', seconds: number): void {
    this.steps.observe({ step, status }, seconds);
  }

  /** A Slack request answered after `ms` (`kind`: slash_command, block_actions, view_submission, event_callback …). */
  slackAnswered(kind: string, ms: number): void {
    this.acks.observe({ kind: kind.slice(0, 40) }, ms / 1000);
  }

  /**
   * Counts every call of an AWS SDK client, and its failures by error name; logs each (debug) with the
   * correlation id of its caller and how long it took, the SDK's retries included.
   */
  instrument(client: { middlewareStack: unknown }, service: string): void {
    (client.middlewareStack as MiddlewareStackLike).add(
      (next, context) => async (args) => {
        const operation = (context.commandName ?? 'unknown').replace(/Command$/, '');
        const correlationId = currentCorrelationId();
        const startedAt = performance.now();
        const logged = (error?: string) =>
          this.awsLog?.debug({ ...(correlationId ? { correlationId } : {}), service, operation, ms: Math.round(performance.now() - startedAt), ...(error ? { error } : {}) }, 'aws call');
        try {
          const out = await next(args);
          this.awsCalls.inc({ service, operation });
          logged();
          return out;
        } catch (err) {
          const error = (err as { name?: string }).name ?? 'Error';
          this.awsErrors.inc({ service, operation, error });
          logged(error);
          throw err;
        }
      },
      { step: 'initialize', name: 'dormouseMetrics' },
    );
  }

  /** The text Prometheus scrapes, and its content type. A source that fails is logged by the caller. */
  async scrape(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
