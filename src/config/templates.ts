/**
 * Reads and validates the template catalogue (YAML) against one zod schema.
 * Every problem is collected with its place in the file and what to write
 * instead, so an admin can fix the file in one pass.
 *
 * Adding a field to templates: one line in `TemplateFields` below, with the
 * sentence shown when it is wrong (and the field in the core's `Template`).
 * Fields are strict: a field the schema does not know is a problem, with the
 * field it probably meant.
 */
import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { parseSchedule, type Schedule } from '../core/schedule/schedule.js';
import type { Template } from '../core/environment/template.js';
import { despiteInvalidParts, fields, filled, flag, formatPath, isMissing, list, messageOf, shownValue, text, uniqueNames, whenValid, whole, type Issue } from './validation.js';

const NAME = /^[a-z][a-z0-9-]{1,39}$/;
const STEP_NAME = /^[a-z][a-z0-9-]{0,39}$/;
const IMAGE = /^(ami-[0-9a-f]{8,17}|resolve:ssm:\/[\w/.-]+)$/;
const INSTANCE_TYPE = /^[a-z][a-z0-9-]*\d[a-z0-9-]*\.[a-z0-9]+$/;
const TAG_KEY = /^(?!aws:)[\w .:/=+\-@]{1,128}$/;
const RESERVED_TAG = /^(managed-by|Name|dormouse:)/;
const VOLUME_TYPES = ['gp3', 'gp2', 'io1', 'io2', 'st1', 'sc1', 'standard'] as const;

const Volume = fields(
  {
    device: text(/^\/dev\/[a-z0-9]+$/, 'a device name like /dev/xvda.'),
    sizeGiB: whole(1, 16384, 'a whole number of GiB from 1 to 16384.'),
    type: z.enum(VOLUME_TYPES, { error: `one of ${VOLUME_TYPES.join(', ')}.` }).default('gp3'),
  },
  'a volume { device, sizeGiB, type }, e.g. `{ device: /dev/xvda, sizeGiB: 20, type: gp3 }`.',
);

const Step = fields(
  {
    name: text(STEP_NAME, 'lowercase letters, digits and dashes, up to 40, starting with a letter.'),
    run: filled('the shell script to run, e.g. `run: |` followed by the commands, one a line.'),
    timeoutSeconds: whole(5, 172_800, 'a whole number of seconds from 5 to 172800 (48 hours).').default(600),
    sandbox: flag('true or false: whether the local sandbox may run this step on your machine.').default(false),
  },
  'a step { name, run, timeoutSeconds, sandbox }.',
);

const ServerCount = whole(1, 20, 'a whole number of servers from 1 to 20.');

/** A path inside the server's data directory: relative, no `..`, plain characters (it reaches a script, quoted). */
const DATA_PATH = /^(?:\.|(?!\.\.?(?:\/|$))[\w@+,=-][\w .@+,=-]*(?:\/(?!\.\.?(?:\/|$))[\w@+,=.-][\w .@+,=-]*)*)$/;
const DataPath = text(DATA_PATH, 'a path inside the data directory, like `.` (all of it), `pgdata` or `uploads/images`: relative, no `..`, letters, digits and . _ - @ + , = and spaces.').refine(
  (p) => p.length <= 200,
  { error: 'at most 200 characters.' },
);

const Data = fields(
  {
    paths: list(DataPath, 'a list of paths inside the data directory, e.g. `[.]` (all of it) or `[pgdata, uploads]`.').min(1, { error: 'at least one path; `[.]` keeps the whole data directory.' }).default(['.']),
    shared: flag('true or false: true keeps one copy, from server 1, and restores it on every server.').default(false),
    sleep: z.enum(['archive', 'stop'], { error: 'archive (data to S3, servers terminated; cheapest asleep) or stop (servers stopped with their volumes; faster wake).' }).default('archive'),
  },
  'what sleep keeps: { paths, shared, sleep }, e.g. `{ paths: [.], shared: false, sleep: archive }`.',
);

const InstanceTypes = z
  .record(
    z.string().regex(INSTANCE_TYPE, { error: (iss) => `\`${String(iss.input)}\` is not an instance type like t3.medium.` }),
    z.number({ error: 'the $ per hour per server, a number ≥ 0.' }).min(0, { error: 'the $ per hour per server, a number ≥ 0.' }),
    { error: 'a mapping of the instance types a requester may pick to their $ per hour, e.g. `t3.medium: 0.0416`.' },
  )
  .refine((types) => Object.keys(types).length > 0, {
    error: 'a mapping of the instance types a requester may pick to their $ per hour, e.g. `t3.medium: 0.0416`.',
  });

const Tags = z.record(
  z.string().refine((k) => TAG_KEY.test(k) && !RESERVED_TAG.test(k), {
    error: (iss) =>
      RESERVED_TAG.test(String(iss.input))
        ? `\`${String(iss.input)}\` is reserved (managed-by, Name and dormouse:* are Dormouse's own tags); use another key.`
        : `\`${String(iss.input)}\` is not a valid tag key: 1-128 letters, digits, spaces or _ . : / = + - @, not starting with aws:.`,
  }),
  z.string({ error: 'a string of at most 256 characters (quote numbers: "42").' }).max(256, { error: 'a string of at most 256 characters.' }),
  { error: 'a mapping of tag keys to values.' },
);

/** One line per field: the schema of the value, with what to write when it is wrong. */
const TemplateFields = {
  name: text(NAME, 'lowercase letters, digits and dashes, 2-40 characters, starting with a letter.'),
  description: z
    .string({ error: 'say in a sentence what this template is for.' })
    .trim()
    .min(1, { error: 'say in a sentence what this template is for.' })
    .max(150, { error: 'keep it under 150 characters (it is shown in a select).' }),
  image: text(IMAGE, 'an AMI id (ami-0123456789abcdef0) or an SSM parameter (resolve:ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64).'),
  instanceTypes: InstanceTypes,
  /** The default type; the first of instanceTypes when absent (checked against them below). */
  instanceType: z.string({ error: 'the default instance type, one of instanceTypes.' }).optional(),
  servers: fields(
    { min: ServerCount.default(1), max: ServerCount.optional(), default: ServerCount.optional() },
    'servers per environment, e.g. `{ min: 1, max: 3, default: 1 }`.',
  ).default({ min: 1 }),
  subnets: list(text(/^subnet-[0-9a-f]+$/, 'a subnet id (subnet-…).'), 'a list of subnet ids (subnet-…); leave it out for the default VPC.').default([]),
  securityGroups: list(text(/^sg-[0-9a-f]+$/, 'a security group id (sg-…).'), "a list of security group ids (sg-…); leave it out for the VPC's default group.").default([]),
  instanceProfile: text(/^[\w+=,.@-]{1,128}$/, 'the name of an IAM instance profile.').optional(),
  volumes: list(Volume, 'a list of volumes { device, sizeGiB, type }.').default([]),
  tags: Tags.default({}),
  bootstrap: list(Step, 'a list of steps { name, run, timeoutSeconds, sandbox }.').superRefine(uniqueNames('bootstrap', 'step'), despiteInvalidParts).default([]),
  data: Data.default({ paths: ['.'], shared: false, sleep: 'archive' }),
  schedule: z
    .string({ error: 'a schedule, like `weekdays 08:00-18:30`, `every day 07:00-23:00 Europe/Paris` or `off`.' })
    .transform((value, ctx): Schedule => {
      const parsed = parseSchedule(value, { now: new Date(0) });
      if (parsed.ok && parsed.schedule.kind === 'off' && parsed.schedule.until) delete parsed.schedule.until;
      if (parsed.ok) return parsed.schedule;
      ctx.addIssue({ code: 'custom', input: value, message: `${parsed.problem}. For example \`weekdays 08:00-18:30\` or \`every day 07:00-23:00 Europe/Paris\`.` });
      return z.NEVER;
    })
    .optional(),
  repair: z
    .enum(['auto', 'manual'], { error: '`auto` (a lost server is replaced as soon as it is found) or `manual` (ops press Repair on the alert).' })
    .default('manual'),
};

const TemplateSchema = fields(TemplateFields, 'a template: a mapping with name, description, image and instanceTypes.')
  .superRefine(({ instanceType, instanceTypes }, ctx) => {
    const types = Object.keys(instanceTypes);
    if (instanceType !== undefined && !types.includes(instanceType)) {
      ctx.addIssue({ code: 'custom', path: ['instanceType'], input: instanceType, message: `the default type must be one of instanceTypes (${types.join(', ')}), not \`${instanceType}\`.` });
    }
  }, whenValid('instanceType', 'instanceTypes'))
  .superRefine(({ servers }, ctx) => {
    const { min, max = min, default: dflt = min } = servers;
    if (!(min <= dflt && dflt <= max)) {
      ctx.addIssue({ code: 'custom', path: ['servers'], input: servers, message: `needs 1 ≤ min ≤ default ≤ max ≤ 20; got min ${min}, default ${dflt}, max ${max}.` });
    }
  }, whenValid('servers'))
  // Defaults that depend on other fields; every other field passes through as parsed.
  .transform(({ description, instanceType, instanceTypes, servers, bootstrap, ...rest }): Template => ({
    ...rest,
    description,
    instanceType: instanceType ?? (Object.keys(instanceTypes)[0] as string),
    instanceTypes,
    servers: { min: servers.min, max: servers.max ?? servers.min, default: servers.default ?? servers.min },
    bootstrap: bootstrap.map(({ sandbox, ...step }) => ({ ...step, sandboxSafe: sandbox })),
  }));

const CATALOGUE = 'expected a top-level `templates:` list with at least one template.';

/** Keys other than `templates` at the top are left alone (room for YAML anchors). */
const CatalogueSchema = z.object(
  {
    templates: list(TemplateSchema, CATALOGUE).min(1, { error: CATALOGUE }).superRefine(uniqueNames('templates', 'template'), despiteInvalidParts),
  },
  { error: CATALOGUE },
);

export function loadTemplates(path: string): { templates: Template[]; problems: string[] } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? String(e);
    return { templates: [], problems: [`DORMOUSE_TEMPLATES: cannot read ${path} (${code}); point it at the template catalogue, or unset it for infra/templates.yml.`] };
  }
  const doc = parseDocument(text);
  if (doc.errors.length) {
    return { templates: [], problems: doc.errors.map((e) => `${path}: not valid YAML: ${(e.message.split('\n')[0] ?? '').replace(/:$/, '.')}`) };
  }
  return parseTemplates(doc.toJS(), path);
}

export function parseTemplates(doc: unknown, source = 'templates'): { templates: Template[]; problems: string[] } {
  const result = CatalogueSchema.safeParse(doc, { reportInput: true });
  if (result.success) return { templates: result.data.templates, problems: [] };
  // Grouped by template, in file order (zod lists a mapping's own problems, and rules, after its fields').
  const templateIndex = (iss: Issue) => (typeof iss.path[1] === 'number' ? iss.path[1] : -1);
  const issues = [...result.error.issues].sort((a, b) => templateIndex(a) - templateIndex(b));
  return { templates: [], problems: [...new Set(issues.map((iss) => describe(iss, doc, source)))] };
}

/**
 * `infra/templates.yml: template "api", at templates[0].servers.max = "three": a whole number…`
 * `infra/templates.yml: template "api", step "install", at templates[0].bootstrap[1].run is missing: the shell script…`
 * The template's (and step's) name, when it has one, comes first: that is what an admin searches the file for.
 */
function describe(iss: Issue, doc: unknown, source: string): string {
  if (iss.path.length === 0) return `${source}: ${iss.message}`;
  const where = `${names(iss.path, doc)}${formatPath(iss.path)}`;
  if (isMissing(iss)) return `${source}: ${where} is missing: ${iss.message}`;
  const value = shownValue(iss);
  return `${source}: ${where}${value === undefined ? '' : ` = ${value}`}: ${messageOf(iss)}`;
}

const LABELS: Record<string, string> = { templates: 'template', bootstrap: 'step' };

function names(path: readonly PropertyKey[], doc: unknown): string {
  const labels: string[] = [];
  let node = doc;
  path.forEach((key, i) => {
    node = typeof node === 'object' && node !== null ? (node as Record<PropertyKey, unknown>)[key] : undefined;
    const label = LABELS[String(path[i - 1])];
    const name = typeof node === 'object' && node !== null ? (node as { name?: unknown }).name : undefined;
    if (label && typeof key === 'number' && typeof name === 'string' && name) labels.push(`${label} ${JSON.stringify(name)}`);
  });
  return labels.length ? `${labels.join(', ')}, at ` : '';
}
