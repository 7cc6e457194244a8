import { DomainError, ErrorCodes } from './errors.js';
import { describeState, type EnvironmentState } from './lifecycle.js';

export const NAME_MIN = 3;
export const NAME_MAX = 40;

/** Which rule a name breaks. */
export type NameRule = 'empty' | 'too_short' | 'too_long' | 'first_letter' | 'alphabet' | 'trailing_dash' | 'double_dash';

/**
 * Environment names become EC2 tags, DynamoDB keys, S3 prefixes and parts of
 * shell environment variables on servers, so they are kept to a small, safe
 * alphabet. Returns the first rule broken, or undefined.
 */
export function nameProblem(name: string): NameRule | undefined {
  if (name.length === 0) return 'empty';
  if (name.length < NAME_MIN) return 'too_short';
  if (name.length > NAME_MAX) return 'too_long';
  if (!/^[a-z]/.test(name)) return 'first_letter';
  if (!/^[a-z0-9-]+$/.test(name)) return 'alphabet';
  if (name.endsWith('-')) return 'trailing_dash';
  if (name.includes('--')) return 'double_dash';
  return undefined;
}

/** The rule in plain words (for logs; people read the chat tool's own sentence, made from the rule). */
const RULE_TEXT: Record<NameRule, string> = {
  empty: 'the name is empty',
  too_short: `the name is shorter than ${NAME_MIN} characters`,
  too_long: `the name is longer than ${NAME_MAX} characters`,
  first_letter: 'the name does not start with a lowercase letter',
  alphabet: 'the name has characters other than lowercase letters, digits and dashes',
  trailing_dash: 'the name ends with a dash',
  double_dash: 'the name has two dashes in a row',
};

export function assertValidName(name: string): void {
  const rule = nameProblem(name);
  if (rule) throw new DomainError(ErrorCodes.NAME_INVALID, `Invalid name: ${RULE_TEXT[rule]}.`, { rule, name: clip(name), length: name.length });
}

/** Shortens user text before it is echoed back, on one line. Escaping for a chat tool is that tool's adapter's job. */
export function clip(text: string, max = 40): string {
  const short = text.length > max ? `${text.slice(0, max)}…` : text;
  return short.replace(/[\r\n\t]/g, ' ');
}

/** The name is held by a live environment of someone (else). */
export function nameTaken(name: string, holder: { owner: string; state: EnvironmentState }): DomainError {
  return new DomainError(
    ErrorCodes.NAME_TAKEN,
    `The name "${name}" is already taken by ${holder.owner} (it is ${describeState(holder.state)}).`,
    { name, owner: holder.owner, state: holder.state },
  );
}
