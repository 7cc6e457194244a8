/** Block Kit → HTML for the console: safe, faithful to mrkdwn, and nothing disappears. */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderBlocks, renderMrkdwn, renderPlain, type RenderContext } from '../../../../src/adapters/sandbox/slack-console/block-kit.render.js';
import type { Block } from '../../../../src/adapters/sandbox/slack-console/slack-double.types.js';

const ctx: RenderContext = {
  userName: (id) => ({ U0DEV: 'dana' })[id],
  channelName: (id) => ({ C0OPS: 'ops' })[id],
  users: [{ id: 'U0DEV', name: 'dana' }],
  channels: [{ id: 'C0OPS', name: 'ops' }],
};

describe('mrkdwn', () => {
  const cases: [string, string, string][] = [
    ['bold', '*ready*', '<b>ready</b>'],
    ['italic', 'is _asleep_ now', 'is <i>asleep</i> now'],
    ['strike', '~gone~', '<s>gone</s>'],
    ['inline code, not formatted inside', '`rm *.log`', '<code class="mk-code">rm *.log</code>'],
    ['pre block', '```line 1\n*x*```', '<pre class="mk-pre">line 1\n*x*</pre>'],
    ['a user mention by name', 'owner <@U0DEV>', 'owner <span class="mention" data-user="U0DEV">@dana</span>'],
    ['a channel mention by name', 'see <#C0OPS>', 'see <span class="mention mention-channel" data-channel="C0OPS">#ops</span>'],
    ['a labelled link', '<https://example.com/a?b=1&amp;c=2|the docs>', '<a href="https://example.com/a?b=1&amp;c=2" target="_blank" rel="noopener noreferrer">the docs</a>'],
    ['Slack escapes undone then HTML-escaped', '5 &lt; 6 &amp;&amp; 7 &gt; 3', '5 &lt; 6 &amp;&amp; 7 &gt; 3'],
    ['newlines', 'a\nb', 'a<br>b'],
    ['emoji shortcodes, as marks', ':white_check_mark: done', '<span class="mark mark-ok" role="img" aria-label="white check mark" title=":white_check_mark:">✓</span> done'],
    ['a shortcode with no mark, as typed', ':llama: hi', ':llama: hi'],
    ['a quote', '&gt; quoted\nnot', '<blockquote>quoted</blockquote>not'],
    ['@here', '<!here> look', '<span class="mention mention-broadcast">@here</span> look'],
  ];
  it.each(cases)('%s', (_name, input, html) => {
    expect(renderMrkdwn(input, ctx)).toBe(html);
  });

  it('never lets the bot inject markup or script URLs', () => {
    const html = renderMrkdwn('<script>alert(1)</script> <javascript:alert(1)|click> "q" \'s\'', ctx);
    expect(html).not.toMatch(/<script|href="javascript/);
    expect(html).toContain('&lt;script&gt;');
    expect(html).toContain('&quot;q&quot;');
  });

  it('keeps underscores and stars inside links and mentions intact', () => {
    expect(renderMrkdwn('*<https://example.com/a_b_c|my_env>*', ctx)).toBe(
      '<b><a href="https://example.com/a_b_c" target="_blank" rel="noopener noreferrer">my_env</a></b>',
    );
  });
});

describe('blocks', () => {
  it('draws every block the bot uses, with stable hooks for clicks', () => {
    const blocks: Block[] = [
      { type: 'header', block_id: 'h', text: { type: 'plain_text', text: 'demo <ready>' } },
      { type: 'section', block_id: 's', text: { type: 'mrkdwn', text: '*x*' }, fields: [{ type: 'mrkdwn', text: '*State*\nready' }], accessory: { type: 'button', action_id: 'more', text: { type: 'plain_text', text: 'More' } } },
      { type: 'context', block_id: 'c', elements: [{ type: 'mrkdwn', text: '2 min ago' }] },
      { type: 'divider', block_id: 'd' },
      {
        type: 'actions',
        block_id: 'a',
        elements: [
          { type: 'button', action_id: 'destroy', style: 'danger', text: { type: 'plain_text', text: 'Destroy' }, confirm: { title: { type: 'plain_text', text: 'Sure?' } } },
          { type: 'static_select', action_id: 'pick', placeholder: { type: 'plain_text', text: 'Template' }, options: [{ text: { type: 'plain_text', text: 'Small' }, value: 'small' }] },
        ],
      },
      { type: 'image', block_id: 'i', image_url: 'https://example.com/x.png', alt_text: 'a graph' },
    ];
    const html = renderBlocks(blocks, ctx);
    expect(html).toContain('<div class="bk bk-header" role="heading" aria-level="3" data-block-id="h">demo &lt;ready&gt;</div>');
    expect(html).toContain('<div class="bk-field"><b>State</b><br>ready</div>');
    expect(html).toMatch(/<button type="button" class="bk-button bk-button-danger" data-testid="button" data-block-id="a" data-action-id="destroy" data-el="button" data-confirm="\{&quot;title&quot;/);
    expect(html).toContain('data-action-id="more"');
    expect(html).toContain('<option value="small">Small</option>');
    expect(html).toContain('role="img" aria-label="a graph"');
    expect(html).not.toContain('https://example.com/x.png'); // no network: a placeholder, not the image
  });

  it('shows a block it cannot draw as a visible placeholder', () => {
    const html = renderBlocks([{ type: 'video', block_id: 'v' }, { type: 'table', block_id: 't' }], ctx);
    expect(html).toContain('Unsupported block: video');
    expect(html).toContain('Unsupported block: table');
  });

  it('draws modal inputs with labels, entered values and errors', () => {
    const html = renderBlocks(
      [
        { type: 'input', block_id: 'name', label: { type: 'plain_text', text: 'Name' }, element: { type: 'plain_text_input', action_id: 'v', initial_value: 'x' } },
        { type: 'input', block_id: 'count', label: { type: 'plain_text', text: 'Servers' }, element: { type: 'number_input', action_id: 'n', is_decimal_allowed: false } },
        { type: 'input', block_id: 'why', optional: true, label: { type: 'plain_text', text: 'Why' }, element: { type: 'plain_text_input', action_id: 't', multiline: true } },
        { type: 'input', block_id: 'opts', label: { type: 'plain_text', text: 'Options' }, element: { type: 'checkboxes', action_id: 'c', options: [{ text: { type: 'mrkdwn', text: '*keep*' }, value: 'keep' }] } },
      ],
      { ...ctx, values: { name: { v: { type: 'plain_text_input', value: 'typed "here"' } } }, errors: { count: 'At most 5' } },
    );
    expect(html).toContain('<label class="bk-label" for="ctl-name">Name</label><input type="text" class="bk-input-control" id="ctl-name"');
    expect(html).toContain('value="typed &quot;here&quot;"');
    expect(html).toContain('<div class="bk-error" role="alert" data-testid="input-error">At most 5</div>');
    expect(html).toContain('type="number"');
    expect(html).toContain('<textarea');
    expect(html).toContain('(optional)');
    expect(html).toContain('<input type="checkbox" name="opts::c" value="keep"><span><b>keep</b></span>');
  });
});

/** Every `:shortcode:` the bot's Slack layer writes (in strings, not in `resolve:ssm:/…` or `dm:failed:…` keys). */
function shortcodesTheBotWrites(): string[] {
  const dir = join(import.meta.dirname, '..', '..', '..', '..', 'src', 'adapters', 'slack');
  const names = new Set<string>();
  for (const file of readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'))) {
    for (const m of readFileSync(join(dir, file), 'utf8').matchAll(/(?<![\w:/$]):([a-z0-9_+-]+):(?![\w/$])/g)) names.add(m[1]!);
  }
  return [...names].sort();
}

describe('status marks without an emoji font', () => {
  // A character Slack's clients draw from a colour emoji font: a box where there is none.
  const EMOJI = /\p{Emoji_Presentation}|\uFE0F/u;
  const names = shortcodesTheBotWrites();

  it('finds the marks the bot uses (the scan itself works)', () => {
    expect(names).toEqual(expect.arrayContaining(['white_check_mark', 'x', 'warning', 'hourglass_flowing_sand', 'gear', 'rocket', 'large_green_circle', 'red_circle']));
  });

  it.each(names)(':%s: is a text mark, in mrkdwn and in plain text', (name) => {
    for (const html of [renderMrkdwn(`:${name}: state`, ctx), renderPlain(`:${name}: state`)]) {
      expect(html).toMatch(new RegExp(`^<span class="mark mark-(ok|bad|warn|busy|muted)" role="img" aria-label="${name.replace(/_/g, ' ').replace(/\+/g, '\\+')}" title=":${name.replace(/\+/g, '\\+')}:">[^<]{1,2}</span> state$`));
      expect(html).not.toMatch(EMOJI);
    }
  });

  it('says done, failed and warning with different symbols and colours', () => {
    const mark = (name: string): string => renderMrkdwn(`:${name}:`, ctx);
    expect(mark('white_check_mark')).toContain('mark-ok" role="img" aria-label="white check mark" title=":white_check_mark:">✓<');
    expect(mark('x')).toContain('mark-bad" role="img" aria-label="x" title=":x:">✗<');
    expect(mark('warning')).toContain('mark-warn" role="img" aria-label="warning" title=":warning:">⚠<');
  });

  it('draws a rich text emoji as a mark too, never as the emoji character', () => {
    const html = renderBlocks([{ type: 'rich_text', block_id: 'r', elements: [{ type: 'rich_text_section', elements: [{ type: 'emoji', name: 'rocket', unicode: '1f680' }, { type: 'emoji', name: 'llama', unicode: '1f999' }] }] }], ctx);
    expect(html).toContain('title=":rocket:">↑</span>');
    expect(html).toContain(':llama:');
    expect(html).not.toMatch(EMOJI);
  });
});

describe('confirm dialogs', () => {
  it('carry their text rendered like a message (mrkdwn formatted, escaped), for the page to place', () => {
    const html = renderBlocks(
      [
        {
          type: 'actions',
          block_id: 'a',
          elements: [
            {
              type: 'button',
              action_id: 'destroy',
              text: { type: 'plain_text', text: 'Destroy' },
              confirm: {
                title: { type: 'plain_text', text: 'Destroy environment?' },
                text: { type: 'mrkdwn', text: 'Every server of `demo` will be *terminated* <script>' },
                confirm: { type: 'plain_text', text: 'Destroy' },
                deny: { type: 'plain_text', text: 'Keep it' },
                style: 'danger',
              },
            },
          ],
        },
      ],
      ctx,
    );
    const attr = /data-confirm="([^"]*)"/.exec(html)?.[1] ?? '';
    const confirm = JSON.parse(attr.replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&#39;/g, "'").replace(/&amp;/g, '&')) as Record<string, string>;
    expect(confirm).toEqual({
      title: 'Destroy environment?',
      text: 'Every server of <code class="mk-code">demo</code> will be <b>terminated</b> &lt;script&gt;',
      confirm: 'Destroy',
      deny: 'Keep it',
      style: 'danger',
    });
  });
});
