/** What the core needs from a cloud's virtual machines (EC2 in production). */
export interface LaunchRequest {
  /** The environment's unique id: what tags, the idempotency lookup and findByEnvironment use. */
  environmentId: string;
  /** Its name, for people reading tags (a name can be reused; the id cannot). */
  environment: string;
  owner: string;
  template: string;
  /** `ami-…` or `resolve:ssm:/…`: the adapter resolves parameters itself. */
  image: string;
  instanceType: string;
  count: number;
  subnets: readonly string[];
  securityGroups: readonly string[];
  instanceProfile?: string;
  volumes: readonly { device: string; sizeGiB: number; type: string }[];
  /** Extra tags from the template; the adapter adds managed-by, environment id and name, owner, template, attempt. */
  tags: Readonly<Record<string, string>>;
  attempt: number;
  /** Deterministic per environment id and attempt: a repeated launch must not create more servers. */
  idempotencyKey: string;
  /**
   * A repair: exactly one server (count 1) that takes the place of server
   * `index`. It is tagged `dormouse:index` = index and `dormouse:replacement`
   * = `<index>.<serial>`, carries the environment's attempt like its peers,
   * and is returned (by launch and findByEnvironment) with `index` = index.
   * Idempotent on (environmentId, index, serial): a repeated call returns the
   * one launched before, whatever its state. A launch without `replacement`
   * never returns replacement servers.
   */
  replacement?: { index: number; serial: number };
}

export type InstanceState = 'pending' | 'running' | 'stopping' | 'stopped' | 'shutting-down' | 'terminated';

export interface Instance {
  instanceId: string;
  state: InstanceState;
  /** 0-based position among the environment's servers (its place in the launch). */
  index: number;
  attempt: number;
  privateIp?: string;
}

/** An instance as the listing of everything tagged `managed-by: dormouse` gives it (the reconciler's view). */
export interface ManagedInstance {
  instanceId: string;
  state: InstanceState;
  /** The `dormouse:environment-id` tag (absent: a copied or damaged tag set). */
  environmentId?: string;
  /** The `dormouse:environment` tag (the name). */
  environment?: string;
  /** The `dormouse:owner` tag. */
  owner?: string;
  /** Its server index (the `dormouse:index` tag of a replacement, else its place in the launch). */
  index?: number;
  /** The `dormouse:attempt` tag. */
  attempt?: number;
  instanceType: string;
  /** The image it runs (`ami-…`). */
  imageId?: string;
  launchedAt: string;
  /** Every tag it carries. */
  tags: Readonly<Record<string, string>>;
}

export interface WaitOptions {
  timeoutMs: number;
  /** Ends the wait early (the flow lost its lease, or the process stops): it rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Called after each poll, so long waits can show progress. */
  onPoll?: (instances: Instance[]) => void;
}

export interface ComputePort {
  /**
   * Launches `count` servers all at once or none, or returns those already
   * launched for the same environment id and attempt (found by tags, also
   * those no longer running), so calling it twice is safe. Servers of another
   * environment that had the same name are never returned.
   * Throws COMPUTE.INSUFFICIENT_CAPACITY / COMPUTE.LIMIT_EXCEEDED / COMPUTE.LAUNCH_FAILED.
   */
  launch(request: LaunchRequest): Promise<Instance[]>;
  /**
   * Every instance tagged with this environment id that is not shutting down
   * or terminated: pending, running, stopping and stopped ones (a stopped
   * server is an asleep environment's server, kept with its volumes).
   */
  findByEnvironment(environmentId: string): Promise<Instance[]>;
  /**
   * Every instance tagged `managed-by: dormouse`, in every state the cloud
   * still lists (terminated ones included while it does): one filtered,
   * paginated listing, for the reconciler.
   */
  listManaged(): Promise<ManagedInstance[]>;
  /** Waits with backoff until every instance runs (and has a private IP). COMPUTE.WAIT_TIMED_OUT, COMPUTE.INSTANCE_LOST. */
  waitUntilRunning(instanceIds: readonly string[], options: WaitOptions): Promise<Instance[]>;
  /** Terminates; instances already gone are not an error. */
  terminate(instanceIds: readonly string[]): Promise<void>;
  waitUntilTerminated(instanceIds: readonly string[], options: WaitOptions): Promise<void>;
  /**
   * Stops the servers, keeping their volumes (`sleep: stop`); instances
   * already stopping or stopped are not an error. A terminated (or
   * shutting-down, or unknown) one throws COMPUTE.INSTANCE_LOST with
   * `{ instanceId, state }` details.
   */
  stop(instanceIds: readonly string[]): Promise<void>;
  /** Waits with backoff until every instance is stopped. COMPUTE.WAIT_TIMED_OUT, COMPUTE.INSTANCE_LOST. */
  waitUntilStopped(instanceIds: readonly string[], options: WaitOptions): Promise<void>;
  /**
   * Starts stopped servers again (then wait with waitUntilRunning); pending
   * and running ones are not an error, and one still stopping is started
   * once it has stopped. They keep their private IPs. A terminated (or
   * shutting-down, or unknown) one throws COMPUTE.INSTANCE_LOST with
   * `{ instanceId, state }` details.
   */
  start(instanceIds: readonly string[]): Promise<void>;
}
