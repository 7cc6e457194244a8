/**
 * The `ack` Bolt hands to listeners, over one HTTP response. The first ack
 * writes the answer; a later one is ignored. When no listener acks in time
 * the receiver answers an empty 200 itself, so Slack never shows the person
 * an error for a request that was received.
 */
import type { ServerResponse } from 'node:http';
import type { Logger } from '../../../core/ports/notifier.port.js';
import { answer, type AnswerBody } from './http-answer.js';

export class DeliveryAck {
  private done = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly res: ServerResponse,
    private readonly log: Logger,
  ) {}

  /** Bolt's `ack(response?)`: an object is answered as JSON, a string as text, nothing as an empty 200. */
  readonly ack = async (response?: AnswerBody): Promise<void> => {
    if (this.done) {
      this.log.debug({}, 'a second ack was ignored');
      return;
    }
    this.finish(response);
  };

  /** Answers an empty 200 after `ms` unless something has answered by then; `onLate` is told when it had to. */
  deadline(ms: number, onLate: () => void): void {
    this.timer = setTimeout(() => {
      if (this.done) return;
      this.finish(undefined);
      onLate();
    }, Math.max(0, ms));
  }

  /** Answers an empty 200 now unless something already has; true when it had to. */
  answerIfUnanswered(): boolean {
    if (this.done) return false;
    this.finish(undefined);
    return true;
  }

  private finish(body: AnswerBody): void {
    this.done = true;
    clearTimeout(this.timer);
    answer(this.res, 200, body);
  }
}
