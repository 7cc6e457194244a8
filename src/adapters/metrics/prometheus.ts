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
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { LIVE_STATES, type EnvironmentState } from '../../core/environment/lifecycle.js';
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

  constructor(sources: { environmentsIn?: (state: EnvironmentState) => Promise<number>; leading?: () => boolean } = {}) {
    collectDefaultMetrics({ register: this.registry, prefix: 'dormouse_' });
    const { environmentsIn, leading } = sources;
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

  stepTimed(step: string, status: 'done' | 'failed', seconds: number): void {
    this.steps.observe({ step, status }, seconds);
  }

  /** A Slack request answered after `ms` (`kind`: slash_command, block_actions, view_submission, event_callback …). */
  slackAnswered(kind: string, ms: number): void {
    this.acks.observe({ kind: kind.slice(0, 40) }, ms / 1000);
  }

  /** Counts every call of an AWS SDK client, and its failures by error name. */
  instrument(client: { middlewareStack: unknown }, service: string): void {
    (client.middlewareStack as MiddlewareStackLike).add(
      (next, context) => async (args) => {
        const operation = (context.commandName ?? 'unknown').replace(/Command$/, '');
        try {
          const out = await next(args);
          this.awsCalls.inc({ service, operation });
          return out;
        } catch (err) {
          this.awsErrors.inc({ service, operation, error: (err as { name?: string }).name ?? 'Error' });
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
