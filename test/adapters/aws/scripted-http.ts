/**
 * An HTTP request handler for an SDK client that answers from a script
 * instead of the network. Unlike aws-sdk-client-mock, which replaces
 * `client.send` and so skips the client's middleware, every call goes through
 * the whole stack: serialization, signing, deserialization of AWS's error
 * bodies, and the SDK's retry strategy. That is what the throttling tests
 * need to see: the SDK retrying, and the adapter not retrying on top of it.
 *
 * Answers are given per operation and used in order; the last one repeats.
 */
import { ConfiguredRetryStrategy } from '@smithy/core/retry';

export interface ScriptedAnswer {
  status: number;
  body: string;
  headers?: Record<string, string>;
}

export interface ScriptedCall {
  operation: string;
  /** The request body as sent (EC2: form-encoded; SSM: JSON). */
  body: string;
}

interface SdkRequest {
  headers: Record<string, string>;
  body?: unknown;
}

export class ScriptedHttp {
  readonly calls: ScriptedCall[] = [];
  private readonly script = new Map<string, ScriptedAnswer[]>();

  /** What `operation` answers, call after call (the last answer repeats). */
  on(operation: string, ...answers: ScriptedAnswer[]): this {
    this.script.set(operation, answers);
    return this;
  }

  callsOf(operation: string): ScriptedCall[] {
    return this.calls.filter((c) => c.operation === operation);
  }

  // The SDK's HttpHandler interface.
  async handle(request: SdkRequest): Promise<{ response: { statusCode: number; headers: Record<string, string>; body: Uint8Array } }> {
    const body = bodyText(request.body);
    const operation = operationOf(request.headers, body);
    const answers = this.script.get(operation);
    if (!answers || answers.length === 0) throw new Error(`ScriptedHttp: nothing scripted for ${operation}`);
    const seen = this.callsOf(operation).length;
    this.calls.push({ operation, body });
    const answer = answers[Math.min(seen, answers.length - 1)]!;
    return {
      response: { statusCode: answer.status, headers: answer.headers ?? {}, body: new TextEncoder().encode(answer.body) },
    };
  }

  updateHttpClientConfig(): void {}

  httpHandlerConfigs(): Record<string, never> {
    return {};
  }
}

/**
 * The SDK's own retry strategy (standard mode: which errors to retry, how many
 * tries, the retry quota) with its waits cut to 1 ms: its throttling backoff
 * starts at 1 s, which a test need not sit through.
 */
export function sdkRetries(maxAttempts: number) {
  return { maxAttempts, retryStrategy: new ConfiguredRetryStrategy(maxAttempts, 1) };
}

/** A client's throwaway identity, with no network behind it. */
export const OFFLINE = { region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } } as const;

function bodyText(body: unknown): string {
  if (typeof body === 'string') return body;
  if (body instanceof Uint8Array) return new TextDecoder().decode(body);
  return '';
}

/** JSON protocols name the operation in X-Amz-Target (`AmazonSSM.ListCommands`); EC2's query protocol in `Action=`. */
function operationOf(headers: Record<string, string>, body: string): string {
  const target = Object.entries(headers).find(([k]) => k.toLowerCase() === 'x-amz-target')?.[1];
  if (target) return target.slice(target.lastIndexOf('.') + 1);
  return new URLSearchParams(body).get('Action') ?? 'unknown';
}

// ── EC2 (query protocol, XML) ────────────────────────────────────────────────

const EC2_XMLNS = 'http://ec2.amazonaws.com/doc/2016-11-15/';

export function ec2Ok(operation: string, inner: string): ScriptedAnswer {
  return {
    status: 200,
    headers: { 'content-type': 'text/xml;charset=UTF-8' },
    body: `<?xml version="1.0" encoding="UTF-8"?><${operation}Response xmlns="${EC2_XMLNS}"><requestId>req-1</requestId>${inner}</${operation}Response>`,
  };
}

/** EC2 answers RequestLimitExceeded with HTTP 503. */
export function ec2Error(code: string, message: string, status = 400): ScriptedAnswer {
  return {
    status,
    headers: { 'content-type': 'text/xml;charset=UTF-8' },
    body: `<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>${code}</Code><Message>${message}</Message></Error></Errors><RequestID>req-1</RequestID></Response>`,
  };
}

export const ec2Throttled = (): ScriptedAnswer => ec2Error('RequestLimitExceeded', 'Request limit exceeded.', 503);

export function ec2InstancesXml(instances: Array<{ id: string; index: number; state: string; privateIp?: string }>): string {
  return instances
    .map(
      (i) =>
        `<item><instanceId>${i.id}</instanceId><amiLaunchIndex>${i.index}</amiLaunchIndex>` +
        `<instanceState><code>0</code><name>${i.state}</name></instanceState>` +
        (i.privateIp ? `<privateIpAddress>${i.privateIp}</privateIpAddress>` : '') +
        '</item>',
    )
    .join('');
}

// ── SSM (JSON 1.1) ───────────────────────────────────────────────────────────

const JSON_11 = { 'content-type': 'application/x-amz-json-1.1' };

export function ssmOk(output: Record<string, unknown>): ScriptedAnswer {
  return { status: 200, headers: JSON_11, body: JSON.stringify(output) };
}

export function ssmError(type: string, message: string, status = 400): ScriptedAnswer {
  return { status, headers: JSON_11, body: JSON.stringify({ __type: type, message }) };
}

export const ssmThrottled = (): ScriptedAnswer => ssmError('ThrottlingException', 'Rate exceeded');
