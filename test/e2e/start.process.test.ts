/** `npm start` as a new user meets it: a port already taken is said in a sentence, with what to do, not a stack trace. */
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let busy: Server;
let port: number;

beforeAll(async () => {
  busy = createServer();
  await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
  port = (busy.address() as { port: number }).port;
});
afterAll(() => new Promise<void>((r) => busy.close(() => r())));

describe('npm start', () => {
  it('on a busy port: one sentence naming the port and how to choose another, exit code 1', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      cwd: join(import.meta.dirname, '..', '..'),
      env: { PATH: process.env.PATH, HOME: process.env.HOME, PORT: String(port), DORMOUSE_SANDBOX_DIR: join(import.meta.dirname, '..', '..', 'test-output', `busy-${process.pid}`), LOG_LEVEL: 'silent' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((r) => child.on('exit', r));
    expect(code).toBe(1);
    expect(stderr.trim()).toBe(`Dormouse cannot start: port ${port} is already in use (another Dormouse, or another program). Stop that, or choose another port, e.g. PORT=${port + 1} npm start.`);
  });
});
