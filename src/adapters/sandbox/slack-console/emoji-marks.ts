/**
 * Slack emoji shortcodes drawn without an emoji font. A browser with no
 * colour emoji font (many Linux desktops and containers) shows every emoji
 * as an empty box, and the bot's status marks carry meaning (done, failed,
 * running). So each shortcode the bot uses becomes a small coloured label
 * holding a symbol every basic font has (DejaVu Sans, Segoe UI Symbol,
 * Apple Symbols): ✓ on green for done, ✗ on red for failed, and so on. The
 * symbols chosen have no emoji presentation, so a browser that does have an
 * emoji font draws them the same way.
 */
/** What a mark means, which decides its colour. */
export type MarkTone = 'ok' | 'bad' | 'warn' | 'busy' | 'muted';

interface Mark {
  glyph: string;
  tone: MarkTone;
}

const m = (glyph: string, tone: MarkTone): Mark => ({ glyph, tone });

const MARKS: Record<string, Mark> = {
  // done, ready
  white_check_mark: m('✓', 'ok'), heavy_check_mark: m('✓', 'ok'), ballot_box_with_check: m('✓', 'ok'),
  large_green_circle: m('●', 'ok'), green_circle: m('●', 'ok'), tada: m('★', 'ok'), star: m('★', 'ok'), thumbsup: m('✓', 'ok'), '+1': m('✓', 'ok'),
  // failed, refused
  x: m('✗', 'bad'), heavy_multiplication_x: m('✗', 'bad'), negative_squared_cross_mark: m('✗', 'bad'), skull: m('✗', 'bad'), thumbsdown: m('✗', 'bad'),
  red_circle: m('●', 'bad'), large_red_circle: m('●', 'bad'), no_entry_sign: m('⊘', 'bad'), no_entry: m('⊘', 'bad'), stop_sign: m('⊘', 'bad'),
  rotating_light: m('!', 'bad'), boom: m('!', 'bad'), fire: m('!', 'bad'),
  // look at this
  warning: m('⚠', 'warn'), exclamation: m('!', 'warn'), heavy_exclamation_mark: m('!', 'warn'), question: m('?', 'warn'),
  large_yellow_circle: m('●', 'warn'), yellow_circle: m('●', 'warn'), moneybag: m('$', 'warn'), money_with_wings: m('$', 'warn'), dollar: m('$', 'warn'),
  // under way
  hourglass: m('◷', 'busy'), hourglass_flowing_sand: m('◷', 'busy'), hourglass_done: m('◷', 'busy'), stopwatch: m('◷', 'busy'), alarm_clock: m('◷', 'busy'),
  gear: m('⚙', 'busy'), wrench: m('⚙', 'busy'), hammer_and_wrench: m('⚙', 'busy'), construction: m('⚙', 'busy'), rocket: m('↑', 'busy'),
  arrows_counterclockwise: m('↻', 'busy'), arrows_clockwise: m('↻', 'busy'), repeat: m('↻', 'busy'), floppy_disk: m('↓', 'busy'), inbox_tray: m('↓', 'busy'),
  large_blue_circle: m('●', 'busy'), blue_circle: m('●', 'busy'), sunrise: m('☀', 'busy'), sunny: m('☀', 'busy'), information_source: m('i', 'busy'),
  // asleep, gone, skipped, waiting
  zzz: m('☾', 'muted'), sleeping: m('☾', 'muted'), crescent_moon: m('☾', 'muted'), white_circle: m('○', 'muted'), black_circle: m('●', 'muted'),
  white_small_square: m('▫', 'muted'), fast_forward: m('»', 'muted'), wastebasket: m('✕', 'muted'),
  memo: m('✎', 'muted'), pencil2: m('✎', 'muted'), link: m('↗', 'muted'), eyes: m('◉', 'muted'), bulb: m('i', 'muted'), mouse: m('D', 'muted'),
};

/** The mark for a shortcode's name (`white_check_mark`), or undefined when it has none. */
export function emojiMark(name: string): string | undefined {
  const mark = MARKS[name];
  if (!mark) return undefined;
  // Names are [a-z0-9_+-] (the pattern below), so they need no escaping in an attribute.
  return `<span class="mark mark-${mark.tone}" role="img" aria-label="${name.replace(/_/g, ' ')}" title=":${name}:">${mark.glyph}</span>`;
}

/**
 * Shortcodes in already escaped text drawn as marks. One without a mark
 * stays as typed (`:name:`), which a person can still read.
 */
export function drawEmojiMarks(escaped: string): string {
  return escaped.replace(/:([a-z0-9_+-]+):/g, (whole, name: string) => emojiMark(name) ?? whole);
}
