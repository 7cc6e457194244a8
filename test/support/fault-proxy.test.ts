/**
 * The fault proxy in front of a tiny HTTP server: it passes, it refuses at
 * once, it hangs until the client gives up, and it comes back.
 */
import { Agent, createServer, request, type Server } from 'node:http';
import { connect, type Socket } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startFaultProxy, type FaultProxy } from './fault-proxy.js';

let server: Server;
let requests: string[];
let proxy: FaultProxy;

beforeEach(async () => {
  requests = [];
  server = createServer((req, res) => {
    requests.push(req.url ?? '');
    res.writeHead(200, { 'content-type': 'text/plain' }).end(`pong ${req.url}`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  proxy = await startFaultProxy({ target: `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}` });
});

afterEach(async () => {
  await proxy.close();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

/** The error code behind a failed fetch (undici wraps it in `cause`). */
async function fetchError(url: string, timeoutMs = 2000): Promise<{ name: string; code: string; ms: number }> {
  const started = Date.now();
  try {
    await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  } catch (e) {
    const err = e as Error & { cause?: { code?: string } };
    return { name: err.name, code: err.cause?.code ?? '', ms: Date.now() - started };
  }
  throw new Error(`${url} answered; it should have failed`);
}

/** One keep-alive connection, so a test knows the second request rides the first one's socket. */
function oneSocketAgent(): Agent {
  return new Agent({ keepAlive: true, maxSockets: 1 });
}

function get(agent: Agent, path: string, timeoutMs: number): Promise<{ status: number; body: string; socket: Socket }> {
  return new Promise((resolve, reject) => {
    const req = request(`${proxy.url}${path}`, { agent, signal: AbortSignal.timeout(timeoutMs) }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, socket: req.socket! }));
    });
    req.on('error', reject);
    req.end();
  });
}

function rawConnection(): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(proxy.port, '127.0.0.1', () => resolve(socket));
    socket.once('error', reject);
  });
}

const closed = (socket: Socket): Promise<void> => new Promise((resolve) => (socket.destroyed ? resolve() : socket.once('close', () => resolve())));

describe('pass', () => {
  it('forwards requests and answers both ways, with the target\'s scheme in its url', async () => {
    expect(proxy.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(proxy.mode).toBe('pass');
    const res = await fetch(`${proxy.url}/ping`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('pong /ping');
    expect(requests).toEqual(['/ping']);
  });

  it('forwards a body larger than a socket buffer intact', async () => {
    server.removeAllListeners('request');
    server.on('request', (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => res.end(Buffer.concat(chunks)));
    });
    const big = Buffer.alloc(4 * 1024 * 1024, 'dormouse ');
    const res = await fetch(`${proxy.url}/echo`, { method: 'POST', body: big });
    expect(Buffer.from(await res.arrayBuffer()).equals(big)).toBe(true);
  });
});

describe('refuse', () => {
  it('resets new connections at once: the client fails fast and the target sees nothing', async () => {
    proxy.setMode('refuse');
    const failure = await fetchError(`${proxy.url}/refused`);
    expect(failure.name).not.toBe('TimeoutError');
    expect(failure.code).toMatch(/^(ECONNRESET|ECONNREFUSED|EPIPE|UND_ERR_SOCKET)$/);
    expect(failure.ms).toBeLessThan(1000);
    expect(requests).toEqual([]);
  });

  it('resets connections already open when it is switched on', async () => {
    const socket = await rawConnection();
    const errors: string[] = [];
    socket.on('error', (e: Error & { code?: string }) => errors.push(e.code ?? e.message));
    await expect.poll(() => proxy.openConnections).toBe(1);
    proxy.setMode('refuse');
    await closed(socket);
    expect(errors).toEqual(['ECONNRESET']);
    expect(proxy.openConnections).toBe(0);
  });
});

describe('hang', () => {
  it('accepts a new connection and never answers: a fetch with a 300 ms timeout times out', async () => {
    proxy.setMode('hang');
    const failure = await fetchError(`${proxy.url}/hung`, 300);
    expect(failure.name).toBe('TimeoutError');
    expect(failure.ms).toBeGreaterThanOrEqual(290);
    expect(proxy.acceptedConnections).toBe(1);
    expect(requests).toEqual([]);
  });

  it('stops forwarding on a connection that was already open', async () => {
    const agent = oneSocketAgent();
    try {
      const first = await get(agent, '/first', 2000);
      expect(first.body).toBe('pong /first');
      proxy.setMode('hang');
      const started = Date.now();
      // node:http reports an aborted request as AbortError, whatever the signal's reason.
      await expect(get(agent, '/second', 300)).rejects.toMatchObject({ name: 'AbortError' });
      expect(Date.now() - started).toBeGreaterThanOrEqual(290);
      expect(proxy.acceptedConnections).toBe(1); // the second request went on the first's socket
      expect(requests).toEqual(['/first']);
    } finally {
      agent.destroy();
    }
  });

  it('delivers what waited once switched back to pass, as a resumed process would', async () => {
    proxy.setMode('hang');
    const socket = await rawConnection();
    let answer = '';
    socket.on('data', (d: Buffer) => (answer += d.toString()));
    socket.write('GET /waited HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    await new Promise((r) => setTimeout(r, 150));
    expect(answer).toBe('');
    expect(requests).toEqual([]);
    proxy.setMode('pass');
    await closed(socket);
    expect(answer).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\npong \/waited\r\n/);
  });
});

describe('switching back, and closing', () => {
  it('passes again after refuse and after hang', async () => {
    proxy.setMode('refuse');
    await fetchError(`${proxy.url}/a`);
    proxy.setMode('hang');
    await fetchError(`${proxy.url}/b`, 300);
    proxy.setMode('pass');
    const res = await fetch(`${proxy.url}/c`, { signal: AbortSignal.timeout(2000) });
    expect(await res.text()).toBe('pong /c');
  });

  it('close() ends hung connections at once, so nothing keeps a test waiting', async () => {
    proxy.setMode('hang');
    const socket = await rawConnection();
    socket.on('error', () => undefined);
    socket.write('GET /never HTTP/1.1\r\nHost: x\r\n\r\n');
    await expect.poll(() => proxy.openConnections).toBe(1);
    const started = Date.now();
    await proxy.close();
    await closed(socket);
    expect(Date.now() - started).toBeLessThan(1000);
    await expect(fetchError(`${proxy.url}/after-close`)).resolves.toMatchObject({ code: 'ECONNREFUSED' });
  });

  it('takes a target without a scheme, and refuses a target without a port', async () => {
    const address = server.address();
    const bare = await startFaultProxy({ target: `127.0.0.1:${typeof address === 'object' && address ? address.port : 0}` });
    try {
      expect(await (await fetch(`${bare.url}/bare`)).text()).toBe('pong /bare');
    } finally {
      await bare.close();
    }
    await expect(startFaultProxy({ target: 'http://127.0.0.1' })).rejects.toThrow(/no host and port/);
  });
});
