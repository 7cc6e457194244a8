/**
 * Parses the text after `/server`. Slack may turn `--` into an em or en dash
 * and straight quotes into curly ones; both are accepted. The result is data
 * only: nothing here (or anywhere) builds a shell command from it.
 */
export const MAX_COMMAND_TEXT = 2000;

export type ParsedCommand =
  | { ok: true; sub: string; args: string[]; flags: Record<string, string> }
  | { ok: false; problem: string };

const FLAG_NAMES = ['template', 'count', 'type', 'purpose', 'generation', 'wake-at'] as const;
export type FlagName = (typeof FLAG_NAMES)[number];

export function tokenize(text: string): string[] | { problem: string } {
  const normalised = text.replace(/[\u201c\u201d\u201e\u00ab\u00bb]/g, '"').replace(/[\u2018\u2019]/g, "'");
  const tokens: string[] = [];
  let current = '';
  let quote: string | undefined;
  let inToken = false;
  for (const ch of normalised) {
    if (quote) {
      if (ch === quote) quote = undefined;
      else current += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      inToken = true;
    } else if (/\s/.test(ch)) {
      if (inToken) tokens.push(current);
      current = '';
      inToken = false;
    } else {
      current += ch;
      inToken = true;
    }
  }
  if (quote) return { problem: `A quote (${quote}) is not closed. Put the purpose in matching quotes: --purpose "load tests".` };
  if (inToken) tokens.push(current);
  return tokens;
}

export function parseServerCommand(text: string): ParsedCommand {
  if (text.length > MAX_COMMAND_TEXT) {
    return { ok: false, problem: `That command is ${text.length} characters long; \`/server\` takes at most ${MAX_COMMAND_TEXT}.` };
  }
  const tokens = tokenize(text.trim());
  if (!Array.isArray(tokens)) return { ok: false, problem: tokens.problem };
  const [sub = 'help', ...rest] = tokens;
  const args: string[] = [];
  const flags: Record<string, string> = {};
  for (let i = 0; i < rest.length; i++) {
    const token = rest[i] as string;
    const m = /^(?:--|\u2014|\u2013)([a-z-]+)(?:=(.*))?$/s.exec(token);
    if (!m) {
      args.push(token);
      continue;
    }
    const flag = m[1] as string;
    if (!(FLAG_NAMES as readonly string[]).includes(flag)) {
      return { ok: false, problem: `Unknown option \`--${flag.slice(0, 30)}\`. Options: ${FLAG_NAMES.map((f) => `--${f}`).join(', ')}.` };
    }
    let value = m[2];
    if (value === undefined) {
      value = rest[i + 1];
      i++;
    }
    if (value === undefined || value === '') return { ok: false, problem: `\`--${flag}\` needs a value, e.g. \`--${flag} ${example(flag as FlagName)}\`.` };
    if (flag in flags) return { ok: false, problem: `\`--${flag}\` is given twice.` };
    flags[flag] = value;
  }
  return { ok: true, sub: sub.toLowerCase(), args, flags };
}

function example(flag: FlagName): string {
  return { template: 'api', count: '2', type: 't3.medium', purpose: '"load tests"', generation: '3', 'wake-at': '08:30' }[flag];
}
