/**
 * What every RemoteCommandPort must do, whatever runs the commands (SSM, the
 * sandbox's local cloud): one suite, run against each adapter by
 * remote-command.contract.test.ts. What only one adapter can show (a failing
 * step through the local cloud's faults; AGENT_OFFLINE and throttling through
 * a mocked SSM client) stays in that adapter's own tests.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RemoteCommandPort, RemoteStep, RunOptions } from '../../src/core/ports/remote-command.port.js';

export interface RemoteCommandHarness {
  remote: RemoteCommandPort;
  /** Another adapter on the same cloud, as a second bot process would have (nothing shared in memory). */
  another(): RemoteCommandPort;
  /** A server that accepts commands (its agent online, or coming online within `agentTimeoutMs`). */
  server(): Promise<string>;
  /** How many commands with this key were sent to the server: seen in the cloud's records, not through the adapter. */
  commandsSent(instanceId: string, key: string): Promise<number>;
  agentTimeoutMs: number;
  close?(): Promise<void>;
}

let keys = 0;
/** A step with a key no other test uses (the core builds one per environment, attempt, retry, server and step). */
export function contractStep(overrides: Partial<RemoteStep> = {}): RemoteStep {
  keys += 1;
  return {
    name: 'contract-step',
    key: `01JD3Q8Z6KX7W8Y9A0B1C2D3E4/1.0/0/contract-step#${process.pid}.${Date.now()}.${keys}`,
    script: 'echo contract',
    timeoutSeconds: 60,
    sandboxSafe: false,
    env: { DORMOUSE_ENVIRONMENT: 'contract' },
    ...overrides,
  };
}

export function remoteCommandContract(name: string, setUp: () => Promise<RemoteCommandHarness>): void {
  describe(`RemoteCommandPort contract: ${name}`, () => {
    let h: RemoteCommandHarness;
    let instanceId: string;
    let options: RunOptions;

    beforeEach(async () => {
      h = await setUp();
      instanceId = await h.server();
      options = { agentTimeoutMs: h.agentTimeoutMs };
    });
    afterEach(async () => {
      await h.close?.();
    });

    it('runs a step and reports its success, exit code and duration, after saying once that it was accepted', async () => {
      const step = contractStep();
      let accepted = 0;

      const result = await h.remote.run(instanceId, step, { ...options, onAccepted: () => (accepted += 1) });

      expect(result).toMatchObject({ status: 'Success', exitCode: 0 });
      expect(result.durationMs).toBeGreaterThanOrEqual(0);
      expect(typeof result.stdoutTail).toBe('string');
      expect(accepted).toBe(1);
      expect(await h.commandsSent(instanceId, step.key)).toBe(1);
    });

    it('sends one command for two runs of the same key at once: both get its result', async () => {
      const step = contractStep();
      let accepted = 0;
      const onAccepted = () => (accepted += 1);

      const [a, b] = await Promise.all([
        h.remote.run(instanceId, step, { ...options, onAccepted }),
        h.remote.run(instanceId, step, { ...options, onAccepted }),
      ]);

      expect([a.status, b.status]).toEqual(['Success', 'Success']);
      expect(accepted).toBe(2);
      expect(await h.commandsSent(instanceId, step.key)).toBe(1);
    });

    it('sends nothing for a key sent before, by this adapter or by another process: it attaches to the command', async () => {
      const step = contractStep();
      const first = await h.remote.run(instanceId, step, options);
      let accepted = 0;

      const again = await h.remote.run(instanceId, step, { ...options, onAccepted: () => (accepted += 1) });
      const fromAnother = await h.another().run(instanceId, step, options);

      expect([first.status, again.status, fromAnother.status]).toEqual(['Success', 'Success', 'Success']);
      expect(again.exitCode).toBe(first.exitCode);
      expect(accepted).toBe(1);
      expect(await h.commandsSent(instanceId, step.key)).toBe(1);
    });

    it('sends another command for another key', async () => {
      const step = contractStep();
      const next = contractStep({ name: step.name, script: step.script });

      await h.remote.run(instanceId, step, options);
      await h.remote.run(instanceId, next, options);

      expect(await h.commandsSent(instanceId, step.key)).toBe(1);
      expect(await h.commandsSent(instanceId, next.key)).toBe(1);
    });

    it('stops waiting, with the signal\'s reason, when the signal is aborted; the command is not sent again', async () => {
      const reason = new Error('the flow lost its lease');
      const before = contractStep();
      await expect(h.remote.run(instanceId, before, { ...options, signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
      expect(await h.commandsSent(instanceId, before.key)).toBe(0);

      // Aborted once sent: the wait stops, the command goes on, and the next run attaches to it.
      const step = contractStep();
      const stop = new AbortController();
      await expect(
        h.remote.run(instanceId, step, { ...options, signal: stop.signal, onAccepted: () => stop.abort(reason) }),
      ).rejects.toBe(reason);
      const resumed = await h.remote.run(instanceId, step, options);
      expect(resumed.status).toBe('Success');
      expect(await h.commandsSent(instanceId, step.key)).toBe(1);
    });
  });
}
