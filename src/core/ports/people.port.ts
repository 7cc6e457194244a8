/** What the chat tool knows of a person that the core needs: their time zone (Slack's `users.info` `tz`). */
export interface PeoplePort {
  /** An IANA zone, or undefined when the profile has none or cannot be read now. */
  timeZoneOf(user: string): Promise<string | undefined>;
}
