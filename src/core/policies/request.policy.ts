import { DomainError, ErrorCodes } from '../environment/errors.js';
import { assertValidName, clip } from '../environment/name.rules.js';
import { formatUsd, hourlyCost, type Template } from '../environment/template.js';

export const PURPOSE_MAX = 300;

export interface RequestInput {
  name: string;
  template: string;
  count?: number | undefined;
  instanceType?: string | undefined;
  purpose?: string | undefined;
}

export interface ValidRequest {
  name: string;
  template: Template;
  count: number;
  instanceType: string;
  purpose: string;
  hourlyCostUsd: number;
}

/** Checks a request against the rules and the catalogue; the first problem is thrown as a DomainError. */
export function validateRequest(input: RequestInput, catalogue: readonly Template[]): ValidRequest {
  assertValidName(input.name);
  return { name: input.name, ...validateChoice(input, catalogue) };
}

/** Everything but the name: template, count, instance type, purpose. */
export function validateChoice(input: Omit<RequestInput, 'name'>, catalogue: readonly Template[]): Omit<ValidRequest, 'name'> {
  const template = catalogue.find((t) => t.name === input.template);
  if (!template) {
    const known = catalogue.map((t) => `\`${t.name}\``).join(', ');
    throw new DomainError(
      ErrorCodes.TEMPLATE_UNKNOWN,
      `There is no template called \`${clip(input.template)}\`. Pick one of: ${known} (\`/server templates\` describes them).`,
      { template: clip(input.template) },
    );
  }
  const count = input.count ?? template.servers.default;
  if (!Number.isInteger(count) || count < template.servers.min || count > template.servers.max) {
    const range = template.servers.min === template.servers.max ? `exactly ${template.servers.min}` : `${template.servers.min} to ${template.servers.max}`;
    throw new DomainError(
      ErrorCodes.COUNT_OUT_OF_RANGE,
      `\`${template.name}\` environments have ${range} server${template.servers.max === 1 ? '' : 's'}; you asked for ${Number.isFinite(count) ? count : clip(String(input.count))}.`,
      { count, min: template.servers.min, max: template.servers.max },
    );
  }
  const instanceType = input.instanceType ?? template.instanceType;
  if (!(instanceType in template.instanceTypes)) {
    const allowed = Object.entries(template.instanceTypes).map(([t, c]) => `\`${t}\` (${formatUsd(c)}/h)`).join(', ');
    throw new DomainError(
      ErrorCodes.INSTANCE_TYPE_NOT_ALLOWED,
      `\`${template.name}\` servers can be ${allowed}; \`${clip(instanceType)}\` is not one of them.`,
      { instanceType: clip(instanceType) },
    );
  }
  const purpose = normalisePurpose(input.purpose ?? '');
  return { template, count, instanceType, purpose, hourlyCostUsd: hourlyCost(template, instanceType, count) };
}

/** Free text, kept as text: trimmed, control characters removed, length capped with a clear error. */
export function normalisePurpose(raw: string): string {
  // eslint-disable-next-line no-control-regex
  const text = raw.replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, '').trim();
  if (text.length > PURPOSE_MAX) {
    throw new DomainError(
      ErrorCodes.PURPOSE_INVALID,
      `The purpose is ${text.length} characters long; keep it under ${PURPOSE_MAX} (a sentence is plenty).`,
      { length: text.length },
    );
  }
  return text;
}
