/**
 * Turns a verified body into what the receiver does with it: answer a
 * handshake, hand a well-formed delivery to Bolt, or answer it as malformed.
 * Nothing here throws, whatever the bytes.
 */
import { isObject, isTypedDelivery, missingField, type Body, type DeliveryType } from './delivery.shapes.js';

export type Parsed =
  | { kind: 'ssl_check' }
  | { kind: 'url_verification'; challenge: string }
  | { kind: 'delivery'; type: DeliveryType; body: Body }
  | { kind: 'unknown_type'; type: string }
  /** `type` when the body got as far as naming one; `body` when it is at least an object. */
  | { kind: 'malformed'; type: string | undefined; field: string; body: Body | undefined };

const FORM = 'application/x-www-form-urlencoded';
const JSON_TYPE = 'application/json';

export function parseDelivery(contentType: string | undefined, raw: Buffer): Parsed {
  const text = raw.toString('utf8');
  switch (mediaType(contentType)) {
    case FORM:
      return parseForm(new URLSearchParams(text));
    case JSON_TYPE:
      return classify(parseJson(text), 'body');
    default:
      return malformed(undefined, 'content-type');
  }
}

/** `application/json; charset=utf-8` → `application/json`. */
function mediaType(contentType: string | undefined): string {
  return (contentType ?? '').split(';')[0]!.trim().toLowerCase();
}

/** Interactivity sends JSON in a `payload` field; a slash command sends plain fields. */
function parseForm(form: URLSearchParams): Parsed {
  if (form.get('ssl_check') === '1') return { kind: 'ssl_check' };
  const payload = form.get('payload');
  if (payload === null) {
    const command: Body = { ...Object.fromEntries(form), text: form.get('text') ?? '' };
    return checked('slash_command', command);
  }
  return classify(parseJson(payload), 'payload');
}

/** undefined when the text is not JSON (JSON itself cannot say undefined). */
function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function classify(value: unknown, field: 'payload' | 'body'): Parsed {
  if (!isObject(value)) return malformed(undefined, field);
  const { type } = value;
  if (typeof type !== 'string') return malformed(undefined, 'type', value);
  if (type === 'url_verification') {
    return typeof value.challenge === 'string' ? { kind: 'url_verification', challenge: value.challenge } : malformed(type, 'challenge', value);
  }
  if (!isTypedDelivery(type)) return { kind: 'unknown_type', type };
  return checked(type, value);
}

function checked(type: DeliveryType, body: Body): Parsed {
  const field = missingField(type, body);
  return field ? malformed(type, field, body) : { kind: 'delivery', type, body };
}

function malformed(type: string | undefined, field: string, body?: Body): Parsed {
  return { kind: 'malformed', type, field, body };
}
