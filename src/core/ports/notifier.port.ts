import type { Environment } from '../environment/environment.js';

/**
 * How people hear about an environment. The Slack adapter keeps one message
 * per environment up to date and tells its story in that message's thread.
 *
 * Every method may be called by several replicas, more than once, and out of
 * order: the adapter makes that harmless (an update carries the version it
 * renders, and an older one is dropped; a line is told once). Failures to
 * tell are the adapter's to log: these never throw into a flow.
 */
export interface NotifierPort {
  /** Posts the environment's message the first time, then updates it. */
  showProgress(env: Environment): Promise<void>;
  /** A note in the environment's thread about where it has got to (told once per state it entered). */
  threadNote(env: Environment, note: ThreadNote): Promise<void>;
  /** Tells the owner that it failed and what they can do (once per failure). */
  failed(env: Environment): Promise<void>;
  /** The ops channel alert, with Retry and Destroy (once per failure). */
  opsAlert(env: Environment): Promise<void>;
}

/** What a thread note is about; the adapter writes the words (and, when ready, how to connect to each server). */
export type ThreadNote = 'ready' | 'destroyed' | 'asleep' | 'saved' | 'woke';

export type { Clock, Logger } from './clock.port.js';
export { systemClock } from './clock.port.js';
