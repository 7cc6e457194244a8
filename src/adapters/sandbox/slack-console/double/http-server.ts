/**
 * Serving the double over HTTP: `/api/<method>` (the Web API) and
 * `/response/<id>` (response URLs), either on a loopback server of its own
 * (`listen`) or mounted inside another server (the console) through
 * `handle`, which leaves any other path alone.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { ResponseUrls } from './response-urls.js';
import type { WebApi } from './web-api.js';
import type { Workspace } from './workspace.js';

export class DoubleHttp {
  private server: Server | undefined;

  constructor(
    private readonly ws: Workspace,
    private readonly webApi: WebApi,
    private readonly responseUrls: ResponseUrls,
  ) {}

  /** Resolves false (and leaves `res` alone) for a path that is not the double's. */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const url = new URL(req.url ?? '/', 'http://double.invalid');
    const isApi = url.pathname.startsWith('/api/');
    const isResponse = url.pathname.startsWith('/response/');
    if (!isApi && !isResponse) return false;
    try {
      if (isApi) await this.webApi.handle(url, req, res);
      else await this.responseUrls.handle(url.pathname.slice('/response/'.length), req, res);
    } catch (e) {
      this.ws.problem(`${url.pathname}: the double failed to handle the request: ${e instanceof Error ? e.message : String(e)}`);
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ok: false, error: 'internal_error' }));
    }
    return true;
  }

  /** Starts a server of its own; resolves with its base URL (which it also becomes the double's). */
  async listen(port: number, host: string): Promise<string> {
    if (this.server) throw new Error('SlackDouble is already listening');
    const server = createServer((req, res) => {
      void this.handle(req, res).then((handled) => {
        if (!handled) {
          res.writeHead(404, { 'content-type': 'text/plain' });
          res.end('not found');
        }
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    this.server = server;
    const address = server.address();
    const actualPort = typeof address === 'object' && address ? address.port : port;
    const shownHost = host.includes(':') ? `[${host}]` : host;
    this.ws.setBaseUrl(`http://${shownHost}:${actualPort}`);
    return this.ws.requireBase();
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
