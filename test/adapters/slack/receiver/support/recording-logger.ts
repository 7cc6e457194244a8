/** A Logger (the core's port) that keeps every line, with its child bindings, for assertions. */
import type { Logger } from '../../../../../src/core/ports/notifier.port.js';

export interface LogLine {
  level: 'debug' | 'info' | 'warn' | 'error';
  msg: string | undefined;
  [key: string]: unknown;
}

export class RecordingLogger implements Logger {
  constructor(
    readonly lines: LogLine[] = [],
    private readonly bindings: Record<string, unknown> = {},
  ) {}

  debug(obj: object, msg?: string): void {
    this.add('debug', obj, msg);
  }
  info(obj: object, msg?: string): void {
    this.add('info', obj, msg);
  }
  warn(obj: object, msg?: string): void {
    this.add('warn', obj, msg);
  }
  error(obj: object, msg?: string): void {
    this.add('error', obj, msg);
  }
  child(bindings: Record<string, unknown>): Logger {
    return new RecordingLogger(this.lines, { ...this.bindings, ...bindings });
  }

  /** Lines logged after `mark` (a length of `lines` taken earlier). */
  since(mark: number): LogLine[] {
    return this.lines.slice(mark);
  }

  private add(level: LogLine['level'], obj: object, msg: string | undefined): void {
    this.lines.push({ ...this.bindings, ...obj, level, msg });
  }
}
