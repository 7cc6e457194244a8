/** What the chat tool knows of people that the core needs: their time zone, and who is in a user group. */
export interface PeoplePort {
  /** An IANA zone, or undefined when the profile has none or cannot be read now. */
  timeZoneOf(user: string): Promise<string | undefined>;
  /** The members of a user group (Slack's `usergroups.users.list`); undefined when it cannot be read now. */
  membersOf?(group: string): Promise<string[] | undefined>;
}
