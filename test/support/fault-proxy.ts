/**
 * A TCP proxy on a free loopback port in front of a real endpoint (dynalite,
 * moto, the Slack double), whose behaviour a test switches at any moment:
 *
 *  - `pass`: bytes go both ways, untouched.
 *  - `refuse`: the endpoint is unreachable. New connections are reset as soon
 *    as they are accepted, and switching to it resets every open one (clients
 *    see ECONNRESET / "other side closed" at once).
 *  - `hang`: the endpoint hangs, like a process stopped with SIGSTOP. New
 *    connections are accepted and nothing is answered; open ones stop moving
 *    bytes both ways. What was sent meanwhile waits, and is delivered if the
 *    test switches back to `pass` (as a resumed process would read it).
 *
 * Only a client's own timeout gets it out of `hang`: that is what the test
 * is about. `close()` destroys every socket, so nothing keeps a test waiting.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

export type FaultMode = 'pass' | 'refuse' | 'hang';

export interface FaultProxyOptions {
  /** Where the bytes go: `http://127.0.0.1:1234`, or `127.0.0.1:1234`. */
  target: string;
  /** The mode at start (default `pass`). */
  mode?: FaultMode;
}

export interface FaultProxy {
  /** The proxy's address, with the target's scheme: `http://127.0.0.1:<port>`. */
  readonly url: string;
  readonly port: number;
  readonly mode: FaultMode;
  /** Client connections open through the proxy now. */
  readonly openConnections: number;
  /** Client connections accepted since start, refused ones included. */
  readonly acceptedConnections: number;
  setMode(mode: FaultMode): void;
  /** Stops listening and destroys every socket. */
  close(): Promise<void>;
}

interface Pair {
  client: Socket;
  upstream: Socket;
  /** Chunks read just as the mode turned to `hang`, kept in order for when it passes again. */
  held: Array<{ to: Socket; chunk: Buffer }>;
}

function parseTarget(target: string): { scheme: string; host: string; port: number } {
  const url = new URL(target.includes('://') ? target : `tcp://${target}`);
  const port = Number(url.port);
  if (!url.hostname || !Number.isInteger(port) || port <= 0) throw new Error(`startFaultProxy: the target ${JSON.stringify(target)} has no host and port`);
  return { scheme: url.protocol === 'tcp:' ? 'http:' : url.protocol, host: url.hostname.replace(/^\[(.*)\]$/, '$1'), port };
}

/** Resets a socket (RST, so the peer sees ECONNRESET rather than a polite end), or destroys it when it cannot. */
function reset(socket: Socket): void {
  if (socket.destroyed) return;
  try {
    socket.resetAndDestroy();
  } catch {
    socket.destroy();
  }
}

export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const target = parseTarget(options.target);
  let mode: FaultMode = options.mode ?? 'pass';
  let accepted = 0;
  const pairs = new Set<Pair>();

  const forward = (pair: Pair, from: Socket, to: Socket): void => {
    from.on('data', (chunk: Buffer) => {
      if (mode !== 'pass') {
        pair.held.push({ to, chunk });
        from.pause();
        return;
      }
      if (!to.write(chunk)) from.pause();
    });
    to.on('drain', () => {
      if (mode === 'pass') from.resume();
    });
    // Half-closes travel through (after any held bytes: a paused socket reads no end).
    from.on('end', () => to.end());
  };

  const drop = (pair: Pair): void => {
    if (!pairs.delete(pair)) return;
    pair.client.destroy();
    pair.upstream.destroy();
  };

  const server: Server = createServer({ allowHalfOpen: true, pauseOnConnect: true }, (client) => {
    accepted += 1;
    if (mode === 'refuse') {
      reset(client);
      return;
    }
    const upstream = connect({ host: target.host, port: target.port, allowHalfOpen: true });
    const pair: Pair = { client, upstream, held: [] };
    pairs.add(pair);
    // The target being down looks, to the client, like the target refusing.
    upstream.on('error', () => {
      reset(client);
      drop(pair);
    });
    client.on('error', () => drop(pair));
    client.on('close', () => drop(pair));
    upstream.on('close', () => drop(pair));
    forward(pair, client, upstream);
    forward(pair, upstream, client);
    if (mode === 'pass') client.resume();
    else upstream.pause();
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;

  return {
    url: `${target.scheme}//127.0.0.1:${port}`,
    port,
    get mode() {
      return mode;
    },
    get openConnections() {
      return pairs.size;
    },
    get acceptedConnections() {
      return accepted;
    },
    setMode(next: FaultMode) {
      mode = next;
      for (const pair of [...pairs]) {
        if (next === 'refuse') {
          reset(pair.client);
          drop(pair);
        } else if (next === 'hang') {
          pair.client.pause();
          pair.upstream.pause();
        } else {
          const held = pair.held.splice(0);
          for (const { to, chunk } of held) to.write(chunk);
          pair.client.resume();
          pair.upstream.resume();
        }
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const pair of [...pairs]) drop(pair);
        server.close(() => resolve());
      }),
  };
}
