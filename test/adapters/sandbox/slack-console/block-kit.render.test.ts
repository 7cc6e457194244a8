/** Block Kit → HTML for the console: safe, faithful to mrkdwn, and nothing disappears. */
import { describe, expect, it } from 'vitest';
import { renderBlocks, renderMrkdwn, type RenderContext } from '../../../../src/adapters/sandbox/slack-console/block-kit.render.js';
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
    ['emoji shortcodes', ':white_check_mark: done', '✅ done'],
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
