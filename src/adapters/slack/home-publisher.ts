/**
 * Keeps people's Home tabs current: when an environment changes, its
 * owner's Home (each admin's, who see the fleet, and a request's approvers')
 * is published again.
 * Not on a timer. Publishes for one person go one at a time, and changes
 * that arrive meanwhile are folded into one more publish. A failure is
 * logged: a Home tab never holds up or fails a flow.
 */
import type { types } from '@slack/bolt';
import type { WebClient } from '@slack/web-api';
import type { Logger } from '../../core/ports/clock.port.js';

export class HomePublisher {
  private readonly busy = new Map<string, { again: boolean }>();

  constructor(
    private readonly deps: {
      client: WebClient;
      logger: Logger;
      /** The Home view for a person, as of now. */
      viewFor: (user: string) => Promise<types.HomeView>;
      admins: readonly string[];
    },
  ) {}

  /** An environment of `owner` changed (`approvers`: a request waiting for them, or just decided). */
  changed(owner: string, approvers: readonly string[] = []): void {
    for (const user of new Set([owner, ...approvers, ...this.deps.admins])) this.publish(user);
  }

  /** Publishes `user`'s Home now (or once more after the publish under way). */
  publish(user: string): void {
    const running = this.busy.get(user);
    if (running) {
      running.again = true;
      return;
    }
    const state = { again: false };
    this.busy.set(user, state);
    void (async () => {
      try {
        do {
          state.again = false;
          await this.deps.client.views.publish({ user_id: user, view: await this.deps.viewFor(user) });
        } while (state.again);
      } catch (err) {
        this.deps.logger.warn({ err, user }, 'could not update the Home tab');
      } finally {
        this.busy.delete(user);
      }
    })();
  }
}
