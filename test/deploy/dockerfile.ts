/**
 * The Dockerfile as Docker reads it, shared by the deploy tests (dockerfile.test.ts,
 * production-build.test.ts): instructions, stages, COPY's flags and words, ENV and ARG.
 * Only what those tests need; no container engine runs here.
 */
export interface Instruction {
  line: number;
  keyword: string;
  args: string;
}
export interface Stage {
  name: string;
  image: string;
  instructions: Instruction[];
}

/**
 * Instructions as Docker reads them: comment lines dropped (inside a continuation too),
 * lines ending in a backslash joined to the next, the keyword upper-cased.
 */
export function instructions(text: string): Instruction[] {
  const out: Instruction[] = [];
  let pending: { line: number; text: string } | undefined;
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line.startsWith('#') || (!pending && line === '')) return;
    const continues = line.endsWith('\\');
    const part = continues ? line.slice(0, -1).trim() : line;
    pending = pending ? { line: pending.line, text: `${pending.text} ${part}` } : { line: i + 1, text: part };
    if (continues) return;
    const m = /^(\S+)\s*(.*)$/.exec(pending.text)!;
    out.push({ line: pending.line, keyword: m[1]!.toUpperCase(), args: m[2]!.trim() });
    pending = undefined;
  });
  return out;
}

/** The stages, each from its FROM (`FROM image [AS name]`) to the next. */
export function stages(text: string): Stage[] {
  const out: Stage[] = [];
  for (const ins of instructions(text)) {
    if (ins.keyword === 'FROM') {
      const words = ins.args.split(/\s+/).filter((w) => !w.startsWith('--'));
      out.push({ name: words[1]?.toLowerCase() === 'as' ? words[2]! : String(out.length), image: words[0]!, instructions: [] });
    } else {
      if (!out.length) throw new Error(`line ${ins.line}: ${ins.keyword} before any FROM`);
      out.at(-1)!.instructions.push(ins);
    }
  }
  return out;
}

/** `--flag=value` options, then the other words (COPY's sources and destination). */
export function flagsAndWords(args: string): { flags: Record<string, string>; words: string[] } {
  const words = args.startsWith('[') ? (JSON.parse(args) as string[]) : args.split(/\s+/);
  const flags: Record<string, string> = {};
  while (words[0]?.startsWith('--')) {
    const [k, v = ''] = words.shift()!.slice(2).split('=');
    flags[k!] = v;
  }
  return { flags, words };
}

/** ENV and ARG names: `ENV A=1 B=2`, the old `ENV A 1`, `ARG A` and `ARG A=1`. */
export function variableNames(ins: Instruction): string[] {
  if (!/=/.test(ins.args.split(/\s+/)[0]!)) return [ins.args.split(/\s+/)[0]!];
  return [...ins.args.matchAll(/(?:^|\s)([A-Za-z_][A-Za-z0-9_]*)=/g)].map((m) => m[1]!);
}

/** `ENV A=1 B="two words"`, or the old `ENV A 1`. */
export function envPairs(args: string): Array<[string, string]> {
  if (!/^[A-Za-z_][A-Za-z0-9_]*=/.test(args)) {
    const [name, ...rest] = args.split(/\s+/);
    return [[name!, rest.join(' ')]];
  }
  return [...args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("(?:[^"\\]|\\.)*"|'[^']*'|\S*)/g)].map((m) => [m[1]!, m[2]!.replace(/^(["'])(.*)\1$/, '$2')]);
}
