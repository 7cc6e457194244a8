/** What every `/server` subcommand gets: the parsed words, the person, a way to answer. */
import type { SlashCommand } from '@slack/bolt';
import type { WebClient } from '@slack/web-api';
import { DomainError, ErrorCodes } from '../../../../../core/environment/errors.js';
import type { Logger } from '../../../../../core/ports/clock.port.js';
import type { Reply } from '../../../blocks/replies.js';
import type { ListenerDeps } from '../../deps.js';

export interface SubcommandContext {
  deps: ListenerDeps;
  command: SlashCommand;
  client: WebClient;
  log: Logger;
  /** The words after the subcommand, and the `--flags`. */
  args: string[];
  flags: Record<string, string>;
  /** Answers the person (ephemeral, through the response URL, retried). */
  reply(r: Reply): Promise<boolean>;
  /**
   * For a command that may change something: how to find out what really
   * happened if it fails on Dormouse's side (a write may have landed).
   */
  onFault(outcome: () => Promise<string>): void;
}

export type Subcommand = (ctx: SubcommandContext) => Promise<void>;

/** The one name a subcommand takes, or a sentence saying how to give it. */
export function oneName(args: readonly string[], usage: string): string {
  const name = args[0];
  if (!name) throw new DomainError(ErrorCodes.INPUT_INVALID, `Say which environment: \`${usage}\`.`);
  if (args.length > 1) throw new DomainError(ErrorCodes.INPUT_INVALID, `\`${usage}\` takes one name; got ${args.length} words.`);
  return name;
}
