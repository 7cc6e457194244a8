/**
 * Channels' messages and threads on disk, so the console shows the same
 * channels after the sandbox restarts and the bot's chat.update calls still
 * find their messages. One JSON file in the data folder, written atomically
 * (a temporary file, then a rename) a moment after a change, so a burst of
 * updates costs one write. Ephemerals and modals are not kept: Slack drops
 * them on reload too.
 */
import { mkdirSync, readFileSync, renameSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { z } from 'zod';
import type { SlackMessage } from '../slack-double.types.js';
import type { ChannelMessages } from './conversations.js';

export const MESSAGES_FILE = 'messages.json';
/** How long after a change the file is written: updates in between are written together. */
const SAVE_DELAY_MS = 200;

/** What the file holds: the messages, and the last ts sequence so a restart never reuses a ts. */
export interface SavedConversations {
  seq: number;
  channels: ChannelMessages;
}

const block = z.looseObject({ type: z.string(), block_id: z.string().optional() });
const message: z.ZodType<SlackMessage> = z.lazy(() =>
  z.object({
    ts: z.string(),
    channel: z.string(),
    user: z.string(),
    text: z.string(),
    blocks: z.array(block),
    threadTs: z.string().optional(),
    replies: z.array(message),
    edited: z.number(),
    broadcast: z.boolean().optional(),
  }),
);
const fileSchema = z.object({ version: z.literal(1), seq: z.number().int().nonnegative(), channels: z.record(z.string(), z.array(message)) });

export type LoadResult = { saved: SavedConversations | undefined; problem?: string };

export class ConversationFile {
  readonly path: string;
  private timer: NodeJS.Timeout | undefined;
  private dirty = false;
  private writing: Promise<void> = Promise.resolve();

  constructor(
    private readonly dir: string,
    /** What to write: read at write time, so the file has the latest state. */
    private readonly current: () => SavedConversations,
    /** Told when the file cannot be written (the console shows it). */
    private readonly onError: (text: string) => void,
  ) {
    this.path = join(dir, MESSAGES_FILE);
  }

  /**
   * What an earlier run kept, read at start (synchronously, before anything
   * is served). A file that cannot be read is moved aside, not overwritten,
   * and the double starts with empty channels.
   */
  load(): LoadResult {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { saved: undefined };
      return { saved: undefined, problem: `The Slack double could not read ${this.path} (${(e as Error).message}): the console starts with empty channels` };
    }
    const parsed = fileSchema.safeParse(safeJson(text));
    if (parsed.success) return { saved: { seq: parsed.data.seq, channels: parsed.data.channels } };
    const aside = `${this.path}.unreadable-${new Date().toISOString().replace(/[:.]/g, '-')}`;
    try {
      mkdirSync(this.dir, { recursive: true });
      renameSync(this.path, aside);
    } catch {
      // Left where it is: the next save replaces it, which is all that can be done.
    }
    return { saved: undefined, problem: `The Slack double could not use ${this.path} (not a messages file it wrote): the console starts with empty channels; the old file is kept as ${basename(aside)}` };
  }

  /** A change happened: write it soon. */
  changed(): void {
    this.dirty = true;
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, SAVE_DELAY_MS);
    // A pending save must not keep the process alive: stopping flushes it.
    this.timer.unref();
  }

  /** Writes what changed now (the bot is stopping); resolves once it is on disk. */
  flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    // One write at a time, in order: the last one always holds the latest state.
    this.writing = this.writing.then(() => this.writeIfChanged());
    return this.writing;
  }

  private async writeIfChanged(): Promise<void> {
    if (!this.dirty) return;
    this.dirty = false;
    const { seq, channels } = this.current();
    const json = JSON.stringify({ version: 1, seq, channels });
    const temporary = `${this.path}.${process.pid}.tmp`;
    try {
      await mkdir(this.dir, { recursive: true });
      await writeFile(temporary, json, 'utf8');
      await rename(temporary, this.path);
    } catch (e) {
      this.dirty = true;
      this.onError(`The Slack double could not keep its messages in ${this.path}: ${(e as Error).message}`);
    }
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
