/** PeoplePort over Slack's `users.info` (a person's time zone is their profile's `tz`) and `usergroups.users.list`. */
import type { WebClient } from '@slack/web-api';
import type { Logger } from '../../core/ports/clock.port.js';
import type { PeoplePort } from '../../core/ports/people.port.js';

export class SlackPeople implements PeoplePort {
  constructor(private readonly deps: { client: WebClient; logger: Logger }) {}

  async timeZoneOf(user: string): Promise<string | undefined> {
    try {
      const res = await this.deps.client.users.info({ user });
      return res.user?.tz || undefined;
    } catch (err) {
      this.deps.logger.warn({ err, user }, "could not read a person's time zone; the default zone applies for now");
      return undefined;
    }
  }

  async membersOf(group: string): Promise<string[] | undefined> {
    try {
      const res = await this.deps.client.usergroups.users.list({ usergroup: group });
      return res.users ?? [];
    } catch (err) {
      this.deps.logger.warn({ err, group }, 'could not read a user group; its members as last read still count');
      return undefined;
    }
  }
}
