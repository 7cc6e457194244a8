import type { Schedule } from '../schedule/schedule.js';

/** A template admins define: what a requester may launch and how it is bootstrapped. */
export interface BootstrapStep {
  name: string;
  /** A shell script run by SSM AWS-RunShellScript (one command per line). */
  run: string;
  timeoutSeconds: number;
  /** The sandbox runs this step on the host (otherwise it is recorded, not executed). */
  sandboxSafe: boolean;
}

export interface VolumeSpec {
  device: string;
  sizeGiB: number;
  type: string;
}

/** What a template keeps when its environments sleep. */
export interface DataSpec {
  /** Paths relative to the server's data directory (`.`: all of it). */
  paths: readonly string[];
  /** One copy, taken from server 0 and restored on every server (instead of a part per server). */
  shared: boolean;
  /** `archive`: data to the store, servers terminated. `stop`: servers stopped with their volumes. */
  sleep: 'archive' | 'stop';
}

export const DEFAULT_DATA: DataSpec = { paths: ['.'], shared: false, sleep: 'archive' };

export const dataSpecOf = (template: Pick<Template, 'data'>): DataSpec => template.data ?? DEFAULT_DATA;

export interface Template {
  name: string;
  description: string;
  /** An AMI id (`ami-…`) or an SSM parameter (`resolve:ssm:/aws/service/…`). */
  image: string;
  instanceType: string;
  /** Instance type → $ per hour per server. Always contains `instanceType`. */
  instanceTypes: Readonly<Record<string, number>>;
  servers: { min: number; max: number; default: number };
  subnets: readonly string[];
  securityGroups: readonly string[];
  instanceProfile?: string;
  volumes: readonly VolumeSpec[];
  tags: Readonly<Record<string, string>>;
  bootstrap: readonly BootstrapStep[];
  /** What sleep keeps (defaults: the whole data directory, a part per server, archived). */
  data?: DataSpec;
  /** When its environments are awake, unless their owner sets their own (default: the configuration's). */
  schedule?: Schedule;
  /** A ready environment's lost server: replaced as soon as the reconciler finds it (`auto`), or when ops press Repair (`manual`, the default). */
  repair?: 'auto' | 'manual';
}

export function hourlyCost(template: Template, instanceType: string, count: number): number {
  const perServer = template.instanceTypes[instanceType] ?? template.instanceTypes[template.instanceType] ?? 0;
  return Math.round(perServer * count * 10000) / 10000;
}

export const formatUsd = (n: number): string => `$${n < 1 ? n.toFixed(4).replace(/0{1,2}$/, '') : n.toFixed(2)}`;
