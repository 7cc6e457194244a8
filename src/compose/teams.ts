/**
 * Teams and approvers as Slack says they are now. DORMOUSE_TEAMS may name a
 * team by its members' user ids, by a user group (S…), or both; the policy
 * file's approvers may be a user group. Group members are read from Slack
 * (`usergroups.users.list`) at start and every few minutes on every replica,
 * and written into the very lists the core reads (`teams`, and each
 * approvers entry's `users`), so the quotas, the approvers and the
 * permissions follow a group's changes without a restart.
 *
 * A group that cannot be read keeps the members it had (its listed users
 * only, before the first read): the failure is logged, never fatal.
 */
import type { Logger } from '../core/ports/clock.port.js';
import type { PeoplePort } from '../core/ports/people.port.js';
import type { Policy } from '../config/policy.js';

const isGroup = (id: string): boolean => id.startsWith('S');

export class TeamDirectory {
  /** Team → member user ids, kept current (the core holds these very arrays). */
  readonly teams: Record<string, string[]>;
  /** The policy, with each user-group approvers entry's `users` kept current. */
  readonly policy: Policy;
  private readonly listedApprovers: string[][];

  constructor(
    private readonly spec: Readonly<Record<string, readonly string[]>>,
    policy: Policy,
    private readonly people: Pick<PeoplePort, 'membersOf'>,
    private readonly logger: Logger,
  ) {
    this.teams = Object.fromEntries(Object.entries(spec).map(([team, ids]) => [team, ids.filter((id) => !isGroup(id))]));
    this.policy = structuredClone(policy) as Policy;
    this.listedApprovers = this.policy.approvers.map((a) => [...a.users]);
  }

  /** Whether any team or approvers entry is a user group (else there is nothing to read). */
  get hasGroups(): boolean {
    return Object.values(this.spec).some((ids) => ids.some(isGroup)) || this.policy.approvers.some((a) => a.userGroup !== undefined);
  }

  /** Reads every group once and updates the lists in place. */
  async refresh(): Promise<void> {
    const read = new Map<string, Promise<string[] | undefined>>();
    const members = (group: string) => {
      if (!read.has(group)) read.set(group, this.people.membersOf ? this.people.membersOf(group) : Promise.resolve(undefined));
      return read.get(group)!;
    };
    for (const [team, ids] of Object.entries(this.spec)) {
      const groups = ids.filter(isGroup);
      if (!groups.length) continue;
      const found = await Promise.all(groups.map(members));
      if (found.some((m) => m === undefined)) continue; // keep what it had
      replace(this.teams[team]!, [...ids.filter((id) => !isGroup(id)), ...found.flatMap((m) => m ?? [])]);
    }
    for (const [i, entry] of this.policy.approvers.entries()) {
      if (!entry.userGroup) continue;
      const found = await members(entry.userGroup);
      if (found === undefined) continue;
      replace(entry.users as string[], [...this.listedApprovers[i]!, ...found]);
    }
    this.logger.debug({ teams: this.teams }, 'teams and approvers read from Slack');
  }
}

/** Replaces the contents of `list` (the same array: whoever holds it sees the change). */
function replace(list: string[], next: readonly string[]): void {
  list.splice(0, list.length, ...new Set(next));
}
