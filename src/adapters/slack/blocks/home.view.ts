/** The App Home tab: the person's environments. Pure. */
import type { types } from '@slack/bolt';
import type { Environment } from '../../../core/environment/environment.js';
import type { Block } from './environment.message.js';
import { age, md, plain, serverCount, stateEmoji, stateLabel, truncate } from './text.js';

const MAX = 40;

export function homeView(envs: readonly Environment[], now: Date): types.HomeView {
  const lines = envs.slice(0, MAX).map((e) => `${stateEmoji(e.state)} *${e.name}* · ${stateLabel(e.state)} · ${serverCount(e)} · \`${e.template}\` · ${age(e.createdAt, now)}`);
  const blocks: Block[] = [
    { type: 'header', text: plain('Your environments', 150) },
    envs.length
      ? { type: 'section', text: md(truncate(lines.join('\n') + (envs.length > MAX ? `\n…and ${envs.length - MAX} more.` : ''), 3000)) }
      : { type: 'section', text: md('You have no environments. Start one with `/server new <name>` in any channel.') },
    { type: 'context', elements: [md('`/server status <name>` for details · `/server help` for everything Dormouse does')] },
  ];
  return { type: 'home', blocks };
}
