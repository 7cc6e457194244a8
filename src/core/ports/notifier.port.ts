import type { Environment, MessageRef } from '../environment/environment.js';

/**
 * How people hear about an environment. The Slack adapter keeps one message
 * per environment up to date and tells its story in that message's thread.
 */
export interface NotifierPort {
  /** Posts (when `env.message` is absent) or updates the environment's message. Returns where it lives. */
  showProgress(env: Environment): Promise<MessageRef | undefined>;
  /** A line in the environment's thread. */
  threadNote(env: Environment, text: string): Promise<void>;
  /** Tells the owner that it failed and what they can do. */
  failed(env: Environment): Promise<void>;
  /** The ops channel alert, with Retry and Destroy. */
  opsAlert(env: Environment): Promise<void>;
}

export interface Clock {
  now(): Date;
  sleep(ms: number): Promise<void>;
}

export const systemClock: Clock = {
  now: () => new Date(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

export interface Logger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
  child(bindings: Record<string, unknown>): Logger;
}
