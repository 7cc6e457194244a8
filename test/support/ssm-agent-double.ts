/**
 * A test double of the servers' SSM agents, in front of moto, so that a test
 * on moto really runs Dormouse's data scripts (save.sh, restore.sh).
 *
 * moto answers SendCommand but runs nothing: every invocation is `Success`
 * with empty output. This HTTP server forwards every request to moto
 * unchanged (method, path, headers, body) and answers moto's response back,
 * except:
 *
 *  - SSM `SendCommand` (`x-amz-target: AmazonSSM.SendCommand`): forwarded to
 *    moto (for a real CommandId, and so ListCommands still finds it); then,
 *    when the document is AWS-RunShellScript and the script
 *    (`Parameters.commands` joined by newlines) is one of the data scripts,
 *    it is run for real once per instance id: `bash <file>` in
 *    `<root>/<instanceId>/`, with only PATH, HOME and LANG=C.UTF-8 in its
 *    environment, in its own process group. A data script is recognised by
 *    its report line, `dormouse-save v1` or `dormouse-restore v1`, appearing
 *    in its text (the scripts carry no dedicated marker line). Every other
 *    script (bootstrap steps: `dnf install`, …) is not run and keeps moto's
 *    behaviour.
 *  - SSM `GetCommandInvocation` of a command the double runs: answered here,
 *    in SSM's shape (InProgress with ResponseCode -1 while it runs; then
 *    Success, Failed with the exit code, TimedOut or Cancelled; output cut to
 *    its first 24,000 characters, as SSM does).
 *  - SSM `CancelCommand` of a command the double runs (moto does not
 *    implement it): its processes are killed, it ends Cancelled.
 *
 * The execution timeout is SSM's: `Parameters.executionTimeout` (what the
 * adapter sets to the step's timeout); without it, `TimeoutSeconds` (which
 * for SSM is really the delivery timeout), else SSM's default of 3600 s. On
 * timeout the process group is killed and the invocation is TimedOut
 * (StatusDetails ExecutionTimedOut).
 *
 * ListCommands / ListCommandInvocations are forwarded: moto lists every
 * command under every instance of it, and says Success while a run here may
 * still be going on; the adapter only reads CommandId and Comment there.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { join, resolve } from 'node:path';

export type InvocationStatus = 'InProgress' | 'Success' | 'Failed' | 'TimedOut' | 'Cancelled';

/** One data script run by the double on one instance (updated in place as it goes). */
export interface AgentRun {
  instanceId: string;
  commandId: string;
  /** The script as SSM received it, before the data folder was mapped. */
  script: string;
  /** The command's Comment (the adapter's key hash and step name). */
  comment: string;
  status: InvocationStatus;
  /** Exit code; -1 while running, timed out or cancelled. */
  responseCode: number;
  stdout: string;
  stderr: string;
  startedAt: Date;
  endedAt?: Date;
  /** Settles when the run is over. */
  done: Promise<void>;
}

export interface SsmAgentDoubleOptions {
  /** moto's URL, `http://127.0.0.1:<port>`. */
  target: string;
  /** Where the instances' folders live: `<root>/<instanceId>/`, their data in `…/data`. */
  root: string;
}

export interface SsmAgentDouble {
  /** The double's address, `http://127.0.0.1:<port>`: give it to the SDK clients as endpoint. */
  readonly url: string;
  /** Every data script run, in the order they were sent. */
  readonly runs: AgentRun[];
  /** The folder that plays an instance's data directory. */
  dataDir(instanceId: string): string;
  /** Kills what still runs, stops listening. */
  close(): Promise<void>;
}

/** SSM keeps this many characters of each output stream in GetCommandInvocation. */
export const SSM_OUTPUT_LIMIT = 24_000;
/** SSM's executionTimeout default for AWS-RunShellScript. */
const DEFAULT_EXECUTION_TIMEOUT_SECONDS = 3600;
const RUN_SHELL_SCRIPT = 'AWS-RunShellScript';
const DATA_SCRIPT_MARKERS = ['dormouse-save v1', 'dormouse-restore v1'];
const DATA_DIR_EXPORT = /^export DORMOUSE_DATA_DIR=.*$/m;
const JSON_TYPE = 'application/x-amz-json-1.1';

/** The folder that plays the data directory of `instanceId`. */
export function instanceDataDir(root: string, instanceId: string): string {
  return join(instanceFolder(root, instanceId), 'data');
}

function instanceFolder(root: string, instanceId: string): string {
  // Instance ids come from the request: keep them to one plain folder name.
  if (!/^[A-Za-z0-9_-]+$/.test(instanceId)) throw new Error(`ssm-agent-double: unexpected instance id ${JSON.stringify(instanceId)}`);
  return join(resolve(root), instanceId);
}

/** Whether a script is one of Dormouse's data scripts (save.sh, restore.sh): they name their report line. */
export function isDataScript(script: string): boolean {
  return DATA_SCRIPT_MARKERS.some((m) => script.includes(m));
}

function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

interface SendCommandInput {
  InstanceIds?: string[];
  Comment?: string;
  DocumentName?: string;
  TimeoutSeconds?: number;
  Parameters?: Record<string, string[] | undefined>;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolveBody, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.once('end', () => resolveBody(Buffer.concat(chunks)));
    req.once('error', reject);
  });
}

function parseJson<T>(body: Buffer): T | undefined {
  try {
    return JSON.parse(body.toString('utf8')) as T;
  } catch {
    return undefined;
  }
}

function answerJson(res: ServerResponse, status: number, payload: unknown): void {
  const body = JSON.stringify(payload);
  res.writeHead(status, {
    'content-type': JSON_TYPE,
    'content-length': Buffer.byteLength(body),
    'x-amzn-requestid': randomUUID(),
  });
  res.end(body);
}

function executionTimeoutSeconds(input: SendCommandInput): number {
  const fromParameters = Number(input.Parameters?.executionTimeout?.[0]);
  if (Number.isFinite(fromParameters) && fromParameters > 0) return fromParameters;
  if (typeof input.TimeoutSeconds === 'number' && input.TimeoutSeconds > 0) return input.TimeoutSeconds;
  return DEFAULT_EXECUTION_TIMEOUT_SECONDS;
}

export async function startSsmAgentDouble(options: SsmAgentDoubleOptions): Promise<SsmAgentDouble> {
  const target = new URL(options.target);
  const root = resolve(options.root);
  const runs: AgentRun[] = [];
  /** By `<commandId> <instanceId>`. */
  const byInvocation = new Map<string, AgentRun>();
  const children = new Map<AgentRun, ChildProcess>();
  /** Ends a run that is still going: kill its group, record why. */
  const stoppers = new Map<AgentRun, (status: 'TimedOut' | 'Cancelled') => void>();

  const forward = (req: IncomingMessage, res: ServerResponse, body?: Buffer): Promise<{ status: number; body: Buffer } | undefined> =>
    new Promise((done, fail) => {
      const upstream = httpRequest(
        {
          protocol: target.protocol,
          hostname: target.hostname,
          port: target.port,
          method: req.method,
          path: req.url,
          headers: req.headers,
        },
        (answer) => {
          if (body === undefined) {
            // Streamed both ways (S3 parts may go through here).
            res.writeHead(answer.statusCode ?? 502, answer.rawHeaders);
            answer.pipe(res);
            answer.once('end', () => done(undefined));
            answer.once('error', fail);
            return;
          }
          readBody(answer).then((answerBody) => {
            res.writeHead(answer.statusCode ?? 502, answer.rawHeaders);
            res.end(answerBody);
            done({ status: answer.statusCode ?? 502, body: answerBody });
          }, fail);
        },
      );
      upstream.once('error', fail);
      if (body === undefined) req.pipe(upstream);
      else upstream.end(body);
    });

  const startRun = (instanceId: string, commandId: string, input: SendCommandInput): void => {
    const script = (input.Parameters?.commands ?? []).join('\n');
    const timeoutSeconds = executionTimeoutSeconds(input);
    let settle!: () => void;
    const run: AgentRun = {
      instanceId,
      commandId,
      script,
      comment: input.Comment ?? '',
      status: 'InProgress',
      responseCode: -1,
      stdout: '',
      stderr: '',
      startedAt: new Date(),
      done: new Promise<void>((r) => (settle = r)),
    };
    runs.push(run);
    byInvocation.set(`${commandId} ${instanceId}`, run);

    const finish = (status: InvocationStatus, code: number): void => {
      if (run.endedAt) return;
      run.status = status;
      run.responseCode = code;
      run.endedAt = new Date();
      children.delete(run);
      stoppers.delete(run);
      settle();
    };
    let stoppedAs: 'TimedOut' | 'Cancelled' | undefined;
    const stop = (status: 'TimedOut' | 'Cancelled'): void => {
      if (run.endedAt || stoppedAs) return;
      stoppedAs = status;
      const child = children.get(run);
      if (child?.pid) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          // ESRCH: the group is gone already.
        }
      } else {
        finish(status, -1);
      }
    };
    stoppers.set(run, stop);
    const timer = setTimeout(() => stop('TimedOut'), timeoutSeconds * 1000);
    timer.unref();

    void (async () => {
      const folder = instanceFolder(root, instanceId);
      const dataDir = instanceDataDir(root, instanceId);
      // The double maps the server's data directory (/var/lib/dormouse/data on
      // a real server) to a folder per instance: the script's own export of
      // DORMOUSE_DATA_DIR is rewritten to point there. A script without that
      // export is left as is (it then fails as it would on a server).
      const mapped = script.replace(DATA_DIR_EXPORT, () => `export DORMOUSE_DATA_DIR=${shellQuote(dataDir)}`);
      const scriptDir = join(folder, 'orchestration', commandId);
      const file = join(scriptDir, '_script.sh');
      await mkdir(scriptDir, { recursive: true });
      await writeFile(file, mapped, { mode: 0o700 });
      if (stoppedAs) return finish(stoppedAs, -1);
      const child = spawn('bash', [file], {
        cwd: folder,
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? folder, LANG: 'C.UTF-8' },
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true,
      });
      children.set(run, child);
      child.stdout.setEncoding('utf8');
      child.stderr.setEncoding('utf8');
      child.stdout.on('data', (s: string) => {
        if (run.stdout.length < SSM_OUTPUT_LIMIT) run.stdout = (run.stdout + s).slice(0, SSM_OUTPUT_LIMIT);
      });
      child.stderr.on('data', (s: string) => {
        if (run.stderr.length < SSM_OUTPUT_LIMIT) run.stderr = (run.stderr + s).slice(0, SSM_OUTPUT_LIMIT);
      });
      child.once('error', (error) => {
        run.stderr += `ssm-agent-double: could not start bash: ${error.message}`;
        clearTimeout(timer);
        finish('Failed', 1);
      });
      child.once('close', (code) => {
        clearTimeout(timer);
        if (stoppedAs) finish(stoppedAs, -1);
        else finish(code === 0 ? 'Success' : 'Failed', code ?? -1);
      });
    })().catch((error: unknown) => {
      clearTimeout(timer);
      run.stderr += `ssm-agent-double: ${error instanceof Error ? error.message : String(error)}`;
      finish('Failed', 1);
    });
  };

  const invocationOf = (run: AgentRun): Record<string, unknown> => ({
    CommandId: run.commandId,
    InstanceId: run.instanceId,
    Comment: run.comment,
    DocumentName: RUN_SHELL_SCRIPT,
    DocumentVersion: '$DEFAULT',
    PluginName: 'aws:runShellScript',
    ResponseCode: run.responseCode,
    ExecutionStartDateTime: run.startedAt.toISOString(),
    ExecutionElapsedTime: '',
    ExecutionEndDateTime: run.endedAt?.toISOString() ?? '',
    Status: run.status,
    StatusDetails: run.status === 'TimedOut' ? 'ExecutionTimedOut' : run.status,
    StandardOutputContent: run.stdout.slice(0, SSM_OUTPUT_LIMIT),
    StandardOutputUrl: '',
    StandardErrorContent: run.stderr.slice(0, SSM_OUTPUT_LIMIT),
    StandardErrorUrl: '',
    CloudWatchOutputConfig: { CloudWatchLogGroupName: '', CloudWatchOutputEnabled: false },
  });

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const operation = String(req.headers['x-amz-target'] ?? '');
    if (operation === 'AmazonSSM.SendCommand') {
      const body = await readBody(req);
      const answer = await forward(req, res, body);
      const input = parseJson<SendCommandInput>(body);
      if (!answer || answer.status !== 200 || !input) return;
      const commandId = parseJson<{ Command?: { CommandId?: string } }>(answer.body)?.Command?.CommandId;
      const script = (input.Parameters?.commands ?? []).join('\n');
      if (!commandId || input.DocumentName !== RUN_SHELL_SCRIPT || !isDataScript(script)) return;
      for (const instanceId of input.InstanceIds ?? []) startRun(instanceId, commandId, input);
      return;
    }
    if (operation === 'AmazonSSM.GetCommandInvocation' || operation === 'AmazonSSM.CancelCommand') {
      const body = await readBody(req);
      const input = parseJson<{ CommandId?: string; InstanceId?: string; InstanceIds?: string[] }>(body);
      if (operation === 'AmazonSSM.GetCommandInvocation') {
        const run = byInvocation.get(`${input?.CommandId} ${input?.InstanceId}`);
        if (run) return answerJson(res, 200, invocationOf(run));
      } else {
        const ours = runs.filter((r) => r.commandId === input?.CommandId && (!input?.InstanceIds?.length || input.InstanceIds.includes(r.instanceId)));
        if (ours.length > 0) {
          for (const r of ours) stoppers.get(r)?.('Cancelled');
          return answerJson(res, 200, {});
        }
      }
      await forward(req, res, body);
      return;
    }
    await forward(req, res);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      answerJson(res, 502, { __type: 'SsmAgentDoubleError', message: error instanceof Error ? error.message : String(error) });
    });
  });

  await new Promise<void>((ready, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      ready();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;

  return {
    url: `http://127.0.0.1:${port}`,
    runs,
    dataDir: (instanceId) => instanceDataDir(root, instanceId),
    close: async () => {
      for (const run of runs) stoppers.get(run)?.('Cancelled');
      await Promise.all(runs.map((r) => r.done));
      server.closeAllConnections();
      await new Promise<void>((done) => server.close(() => done()));
    },
  };
}
