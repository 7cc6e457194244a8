import { DomainError, ErrorCodes } from '../environment/errors.js';
import { assertValidName, clip } from '../environment/name.rules.js';
import { hourlyCost, type Template } from '../environment/template.js';

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
    const known = catalogue.map((t) => t.name);
    throw new DomainError(ErrorCodes.TEMPLATE_UNKNOWN, `There is no template called "${clip(input.template)}"; the templates are ${known.join(', ')}.`, {
      template: clip(input.template),
      known,
    });
  }
  const count = input.count ?? template.servers.default;
  if (!Number.isInteger(count) || count < template.servers.min || count > template.servers.max) {
    const range = template.servers.min === template.servers.max ? `exactly ${template.servers.min}` : `${template.servers.min} to ${template.servers.max}`;
    const asked = Number.isFinite(count) ? count : clip(String(input.count));
    throw new DomainError(ErrorCodes.COUNT_OUT_OF_RANGE, `Template ${template.name} has ${range} servers; asked for ${asked}.`, {
      template: template.name,
      count: asked,
      min: template.servers.min,
      max: template.servers.max,
    });
  }
  const instanceType = input.instanceType ?? template.instanceType;
  if (!(instanceType in template.instanceTypes)) {
    throw new DomainError(
      ErrorCodes.INSTANCE_TYPE_NOT_ALLOWED,
      `Template ${template.name} offers ${Object.keys(template.instanceTypes).join(', ')}; not ${clip(instanceType)}.`,
      { template: template.name, instanceType: clip(instanceType), allowed: { ...template.instanceTypes } },
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
    throw new DomainError(ErrorCodes.PURPOSE_INVALID, `The purpose is ${text.length} characters long; at most ${PURPOSE_MAX}.`, { length: text.length });
  }
  return text;
}

/** Whether a template takes this count and this instance type (either may be absent). */
export function templateAllows(template: Template, flags: { count?: number | undefined; instanceType?: string | undefined }): boolean {
  const { count, instanceType } = flags;
  return (count === undefined || (count >= template.servers.min && count <= template.servers.max)) && (instanceType === undefined || instanceType in template.instanceTypes);
}

/**
 * Options given without a template (the form will ask for it): refused at
 * once when no template takes them, rather than dropped by the form. Returns
 * the first template that takes them all, for the form to start from.
 */
export function templateForFlags(flags: { count?: number | undefined; instanceType?: string | undefined }, catalogue: readonly Template[]): Template | undefined {
  if (flags.count === undefined && flags.instanceType === undefined) return undefined;
  const fits = catalogue.find((t) => templateAllows(t, flags));
  if (fits) return fits;
  if (flags.count !== undefined && !catalogue.some((t) => templateAllows(t, { count: flags.count }))) {
    const min = Math.min(...catalogue.map((t) => t.servers.min));
    const max = Math.max(...catalogue.map((t) => t.servers.max));
    throw new DomainError(ErrorCodes.COUNT_OUT_OF_RANGE, `No template has ${flags.count} servers: they have ${min} to ${max}.`, { variant: 'no_template', count: flags.count, min, max });
  }
  if (flags.instanceType !== undefined && !catalogue.some((t) => templateAllows(t, { instanceType: flags.instanceType }))) {
    const types = [...new Set(catalogue.flatMap((t) => Object.keys(t.instanceTypes)))];
    throw new DomainError(ErrorCodes.INSTANCE_TYPE_NOT_ALLOWED, `No template offers ${clip(flags.instanceType)}; the types are ${types.join(', ')}.`, {
      variant: 'no_template',
      instanceType: clip(flags.instanceType),
      types,
    });
  }
  throw new DomainError(ErrorCodes.INPUT_INVALID, `No template takes ${flags.count} servers of ${clip(flags.instanceType ?? '')} together.`, {
    variant: 'no_template_for_both',
    count: flags.count,
    instanceType: clip(flags.instanceType ?? ''),
  });
}
