/** What the core needs to run a script on a server (SSM Run Command in production). */
export interface RemoteStep {
  name: string;
  /**
   * Idempotency key: a run with a key already sent to this server attaches to
   * that command (waits for its result) instead of sending it again, so a
   * flow resumed after a crash or a pause never runs a step twice at once.
   * The lookup cannot close every window by itself (SSM has no idempotency
   * token, and may list a command a moment after it was sent): the fenced
   * lease makes sure only one worker runs a given key at a time.
   */
  key: string;
  script: string;
  timeoutSeconds: number;
  /** Only meaningful to the sandbox: may this step run on the host? */
  sandboxSafe: boolean;
  /**
   * Variables exported before the script. Values are quoted by the adapter;
   * only validated values (environment name, server index) are ever passed.
   */
  env: Readonly<Record<string, string>>;
}

export type CommandStatus = 'Success' | 'Failed' | 'TimedOut' | 'Cancelled';

export interface CommandResult {
  status: CommandStatus;
  exitCode?: number;
  /** The last lines of standard output and standard error. */
  stdoutTail: string;
  stderrTail: string;
  durationMs: number;
}

export interface RunOptions {
  /** How long to keep retrying while the server's agent is not yet registered. */
  agentTimeoutMs: number;
  /** Called once when the server's agent accepted the command. */
  onAccepted?: () => void;
  /** Stops waiting (not the command) when aborted: rejects with the signal's reason. */
  signal?: AbortSignal;
}

export interface RemoteCommandPort {
  /**
   * Sends the step (unless a command with its key was sent to this server
   * already) and waits (polling with backoff) until it ends or its timeout passes. Never throws for a script that fails: the result says so.
   * Throws COMMAND.AGENT_OFFLINE when the agent never registers, CLOUD.* for API errors.
   */
  run(instanceId: string, step: RemoteStep, options: RunOptions): Promise<CommandResult>;
}

/** Quotes a value for a POSIX shell: the only way a value reaches a script. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** The script actually sent: exported variables, then the step's own lines. */
export function renderScript(step: RemoteStep): string {
  const exports = Object.entries(step.env).map(([k, v]) => {
    if (!/^[A-Z_][A-Z0-9_]*$/.test(k)) throw new Error(`invalid variable name ${k}`);
    return `export ${k}=${shellQuote(v)}`;
  });
  return [...exports, step.script].join('\n');
}
