/**
 * What a person is told after a fault on Dormouse's side is what the store
 * says happened, with a reference ops can find in the logs, and never the
 * internal text of the error.
 */
import { describe, expect, it } from 'vitest';
import { replyForError } from '../../../../src/adapters/slack/listeners/deps.js';
import { requestTruthfully, stateNow } from '../../../../src/adapters/slack/listeners/truth.js';
import { DomainError, ErrorCodes } from '../../../../src/core/environment/errors.js';
import type { Logger } from '../../../../src/core/ports/clock.port.js';
import { CoreWorld } from '../../../support/fakes/core-world.js';

function recordingLogger() {
  const lines: Array<{ level: string; obj: Record<string, unknown>; msg?: string }> = [];
  const make = (): Logger => ({
    info: (obj, msg) => void lines.push({ level: 'info', obj: obj as Record<string, unknown>, ...(msg ? { msg } : {}) }),
    warn: (obj, msg) => void lines.push({ level: 'warn', obj: obj as Record<string, unknown>, ...(msg ? { msg } : {}) }),
    error: (obj, msg) => void lines.push({ level: 'error', obj: obj as Record<string, unknown>, ...(msg ? { msg } : {}) }),
    debug: () => undefined,
    child: () => make(),
  });
  return { logger: make(), lines };
}

const request = { name: 'truth-one', template: 'api', count: 1, owner: 'U0DEV', requestId: 'cmd:t1' };

describe('answers after a fault', () => {
  it('a request whose record landed before the store timed out is told it is on its way, not "nothing changed"', async () => {
    const w = new CoreWorld();
    const a = w.replica();
    a.link.failAfterNext('create');
    const { logger } = recordingLogger();
    const reply = await requestTruthfully({ useCases: a.useCases, clock: w.clock, logger }, request, logger);
    expect(reply.text).toMatch(/`truth-one` is on its way/);
    expect((await w.env('truth-one'))?.requestId).toBe('cmd:t1');
  });

  it('a request that did not land says so, and says nothing was created', async () => {
    const w = new CoreWorld();
    const a = w.replica();
    a.link.setMode('down');
    const { logger, lines } = recordingLogger();
    const errorsBefore = lines.length;
    // The store is down for the write and for the check: nobody can tell yet, and the answer says so.
    const unknown = await requestTruthfully({ useCases: a.useCases, clock: w.clock, logger }, request, logger);
    expect(unknown.text).toMatch(/cannot tell yet whether `truth-one` was created/);
    expect(unknown.text).toMatch(/ref `[A-Z0-9]{8}`/);
    expect(lines.length).toBeGreaterThan(errorsBefore);
    // The store answers the check but had refused the write: nothing was created, ask again.
    a.link.setMode('up');
    const refused = new DomainError(ErrorCodes.STORE_ERROR, 'Dormouse could not reach its database just now.', { sdkError: 'ECONNRESET' }, true);
    const failing = { ...a.useCases, request: { ...a.useCases.request, execute: async () => Promise.reject(refused) } } as unknown as typeof a.useCases;
    const none = await requestTruthfully({ useCases: failing, clock: w.clock, logger }, request, logger);
    expect(none.text).toMatch(/Nothing was created\. Ask again/);
  });

  it('what the store says of an environment now', async () => {
    const w = new CoreWorld();
    const a = w.replica();
    const deps = { useCases: a.useCases, clock: w.clock, logger: recordingLogger().logger };
    expect(await stateNow(deps, 'nobody')).toMatch(/There is no `nobody` now/);
    await a.useCases.request.execute(request);
    await w.until('truth-one', 'ready');
    expect(await stateNow(deps, 'truth-one')).toMatch(/`truth-one` is ready now/);
  });
});

describe('replyForError', () => {
  it('a fault on our side: a sentence and a reference; the internal text only in the log, under that reference', () => {
    const { logger, lines } = recordingLogger();
    const cause = Object.assign(new Error('socket hang up'), { name: 'TimeoutError' });
    const error = new DomainError(ErrorCodes.STORE_ERROR, 'Dormouse could not reach its database just now.', { sdkError: 'TimeoutError', sdkMessage: 'socket hang up' }, true, { cause });
    const reply = replyForError(error, logger, 'Nothing was changed.');
    const ref = /ref `([A-Z0-9]{8})`/.exec(reply.text)?.[1];
    expect(ref).toBeDefined();
    expect(reply.text).toMatch(/could not reach its database[\s\S]*Nothing was changed\.[\s\S]*quote the ref/);
    expect(reply.text).not.toMatch(/socket|TimeoutError|hang up|listByOwner|STORE\.ERROR/);
    expect(lines.find((l) => l.level === 'error')?.obj).toMatchObject({ ref, code: 'STORE.ERROR', err: error });
  });

  it('a bug: the same, never its message', () => {
    const { logger } = recordingLogger();
    const reply = replyForError(new TypeError("Cannot read properties of undefined (reading 'servers')"), logger);
    expect(reply.text).toMatch(/Something went wrong inside Dormouse \(ref `[A-Z0-9]{8}`\)/);
    expect(reply.text).not.toMatch(/Cannot read|undefined|servers/);
  });

  it('a problem with what the person asked is its own sentence, without a reference', () => {
    const { logger, lines } = recordingLogger();
    const reply = replyForError(new DomainError(ErrorCodes.NAME_TAKEN, 'The name "x" is taken.', { name: 'x', owner: 'U1', state: 'ready' }), logger);
    expect(reply.text).toBe(':warning: `x` is already taken by <@U1> (it is ready). Pick another name, or ask them to destroy it.');
    expect(lines).toHaveLength(0);
  });
});
