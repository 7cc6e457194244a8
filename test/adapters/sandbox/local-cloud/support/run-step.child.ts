/**
 * A bot process reduced to one call, for tests that kill or pause it: runs
 * one sandbox-safe step on a shared local cloud folder and says on stdout
 * when the step was accepted and when its result came back.
 *
 * Usage: node --import tsx run-step.child.ts <rootDir> <instanceId> <key> <script>
 */
import { FAST_SANDBOX_DELAYS, LocalCloud } from '../../../../../src/adapters/sandbox/local-cloud/local-cloud.js';
import { systemClock } from '../../../../../src/core/ports/clock.port.js';

const [rootDir = '', instanceId = '', key = '', script = ''] = process.argv.slice(2);
const cloud = new LocalCloud({ rootDir, clock: systemClock, delays: FAST_SANDBOX_DELAYS });
const result = await cloud.run(
  instanceId,
  { name: 'survive', key, script, timeoutSeconds: 30, sandboxSafe: true, env: {} },
  { agentTimeoutMs: 10_000, onAccepted: () => process.stdout.write('accepted\n') },
);
process.stdout.write(`result ${JSON.stringify(result)}\n`);
