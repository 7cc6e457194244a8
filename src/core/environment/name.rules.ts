import { DomainError, ErrorCodes } from './errors.js';
import { describeState, type EnvironmentState } from './lifecycle.js';

export const NAME_MIN = 3;
export const NAME_MAX = 40;

/**
 * Environment names become EC2 tags, DynamoDB keys, S3 prefixes and parts of
 * shell environment variables on servers, so they are kept to a small, safe
 * alphabet. Returns the first rule broken, as a sentence, or undefined.
 */
export function nameProblem(raw: string): string | undefined {
  const name = raw;
  if (name.length === 0) return 'Give the environment a name, for example `/server new api-staging`.';
  if (name.length < NAME_MIN) return `The name \`${clip(name)}\` is too short: use ${NAME_MIN} to ${NAME_MAX} characters.`;
  if (name.length > NAME_MAX) return `The name is ${name.length} characters long: use at most ${NAME_MAX}.`;
  if (!/^[a-z]/.test(name)) return `The name \`${clip(name)}\` must start with a lowercase letter.`;
  if (!/^[a-z0-9-]+$/.test(name)) {
    return `The name \`${clip(name)}\` may contain only lowercase letters, digits and dashes (no spaces, capitals, quotes or other symbols).`;
  }
  if (name.endsWith('-')) return `The name \`${name}\` must not end with a dash.`;
  if (name.includes('--')) return `The name \`${name}\` must not contain two dashes in a row.`;
  return undefined;
}

export function assertValidName(name: string): void {
  const problem = nameProblem(name);
  if (problem) throw new DomainError(ErrorCodes.NAME_INVALID, problem, { name: clip(name) });
}

/** Shortens and neutralises user text before it is echoed back. */
export function clip(text: string, max = 40): string {
  const short = text.length > max ? `${text.slice(0, max)}…` : text;
  // No backticks or line breaks (it is shown inside `code`), no <…> (it could become a mention or link).
  return short.replace(/[`\r\n\t]/g, ' ').replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** The name is held by a live environment of someone (else). */
export function nameTaken(name: string, holder: { owner: string; state: EnvironmentState }): DomainError {
  return new DomainError(
    ErrorCodes.NAME_TAKEN,
    `\`${name}\` is already taken by <@${holder.owner}> (it is ${describeState(holder.state)}). Pick another name, or ask them to destroy it.`,
    { name, owner: holder.owner },
  );
}
