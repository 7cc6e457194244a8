/**
 * Building blocks shared by the environment and the template schemas (zod).
 *
 * Every block takes the sentence a person reads when the value is wrong, and
 * uses it for every way the value can be wrong (wrong type, bad format, out of
 * range), so no issue falls through to zod's generic English. A schema is then
 * a list of `field: block(…, 'what to do')` lines.
 *
 * Avoid zod's checks that abort the whole parse (z.int() and .int(),
 * z.stringbool()): after one of their issues, zod skips every rule across
 * fields, anywhere in the document, and those problems would only show on the
 * next start. test/config/ checks that rules still run next to bad values.
 */
import { z } from 'zod';

export type Issue = z.core.$ZodIssue;

/** A string matching `pattern`. */
export const text = (pattern: RegExp, say: string) => z.string({ error: say }).regex(pattern, { error: say });

/** A non-blank string, kept as written (a script keeps its indentation and its final newline). */
export const filled = (say: string) => z.string({ error: say }).refine((s) => s.trim() !== '', { error: say });

/**
 * A whole number in [min, max], as YAML gives it (a number, not a string).
 * Not z.int(): its issue stops every later rule in the file, even rules
 * elsewhere (zod marks it as aborting), and those problems would go unreported.
 */
export const whole = (min: number, max: number, say = `a whole number from ${min} to ${max}.`) =>
  z.number({ error: say }).refine((n) => Number.isInteger(n) && n >= min && n <= max, { error: say });

export const flag = (say = 'true or false.') => z.boolean({ error: say });

export const list = <T extends z.ZodType>(item: T, say: string) => z.array(item, { error: say });

/**
 * A mapping with exactly these fields: a field it does not know (a typo like
 * `instanceTyp`) is a problem, named with the field it probably meant.
 */
export const fields = <S extends z.ZodRawShape>(shape: S, say: string) =>
  z.strictObject(shape, {
    error: (iss) => (iss.code === 'unrecognized_keys' ? unknownFields(iss.keys, Object.keys(shape)) : say),
  });

/**
 * A rule across several fields of one mapping. It runs as soon as the mapping
 * and the fields it `reads` are valid, even when other fields are not, so its
 * problem is reported together with theirs instead of on the next start.
 */
export const whenValid = (...reads: string[]) => ({
  when: (payload: z.core.ParsePayload) =>
    !payload.issues.some((i) => {
      const path = i.path ?? [];
      // At the mapping itself: wrong type (blocks the rule) or unknown fields (does not).
      return path.length === 0 ? i.code !== 'unrecognized_keys' : reads.includes(String(path[0]));
    }),
});

/**
 * Runs whatever the state of the parts, as long as the value itself has the
 * right type (for rules that read what they can, such as unique names).
 */
export const despiteInvalidParts = whenValid();

/**
 * Flags the items of a list whose `name` repeats an earlier one. `list` is the
 * list's name in the file, to point at the first use.
 */
export function uniqueNames(list: string, what: string) {
  return (items: readonly unknown[], ctx: z.core.$RefinementCtx<readonly unknown[]>): void => {
    const first = new Map<string, number>();
    items.forEach((item, i) => {
      const name = typeof item === 'object' && item !== null ? (item as { name?: unknown }).name : undefined;
      if (typeof name !== 'string') return;
      const at = first.get(name);
      if (at === undefined) first.set(name, i);
      else ctx.addIssue({ code: 'custom', path: [i, 'name'], input: name, message: `\`${name}\` is used twice (also ${list}[${at}]); give each ${what} its own name.` });
    });
  };
}

export function unknownFields(keys: readonly string[], known: readonly string[]): string {
  const each = keys.map((k) => {
    const near = closest(k, known);
    return near ? `\`${k}\` (did you mean \`${near}\`?)` : `\`${k}\``;
  });
  return `unknown field${keys.length > 1 ? 's' : ''} ${each.join(', ')}: rename or remove ${keys.length > 1 ? 'them' : 'it'}; the fields are ${known.join(', ')}.`;
}

/** The known name a typo most likely meant: one edit away, two for longer names; case aside. */
function closest(word: string, known: readonly string[]): string | undefined {
  let best: { name: string; d: number } | undefined;
  for (const name of known) {
    const d = distance(word.toLowerCase(), name.toLowerCase());
    if (d <= (name.length > 6 ? 2 : 1) && (!best || d < best.d)) best = { name, d };
  }
  return best?.name;
}

/** Edits (insert, delete, replace, swap two neighbours) that turn a into b. */
function distance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  const at = (i: number, j: number): number => d[i]?.[j] ?? Infinity;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      let v = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, at(i - 2, j - 2) + 1);
      (d[i] as number[])[j] = v;
    }
  }
  return at(a.length, b.length);
}

/** `templates[0].servers.max` */
export function formatPath(path: readonly PropertyKey[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i === 0 ? '' : '.'}${String(p)}`)).join('');
}

/** A field that is absent (as opposed to present with a wrong value). */
export const isMissing = (iss: Issue): boolean => iss.code === 'invalid_type' && iss.input === undefined;

/**
 * The offending value as it is shown after its place (`servers.max = "three"`),
 * when it is short and the message does not quote it already (in backticks).
 * Mappings and lists are not echoed.
 */
export function shownValue(iss: Issue): string | undefined {
  const v = iss.input;
  if (!(['string', 'number', 'boolean'].includes(typeof v) || v === null)) return undefined;
  if (messageOf(iss).includes(`\`${String(v)}\``)) return undefined;
  return typeof v === 'string' ? JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v) : String(v);
}

/** The issue's own message; a record's bad key carries it one level down. */
export function messageOf(iss: Issue): string {
  if (iss.code === 'invalid_key' && iss.issues[0]) return iss.issues[0].message;
  return iss.message;
}
