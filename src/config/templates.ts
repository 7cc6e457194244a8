/**
 * Reads and validates the template catalogue (YAML). Every problem is
 * collected with its path so an admin can fix the file in one pass.
 */
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import type { BootstrapStep, Template, VolumeSpec } from '../core/environment/template.js';

const NAME = /^[a-z][a-z0-9-]{1,39}$/;
const INSTANCE_TYPE = /^[a-z][a-z0-9-]*\d[a-z0-9-]*\.[a-z0-9]+$/;
const TAG_KEY = /^(?!aws:)[\w .:/=+\-@]{1,128}$/;
const RESERVED_TAG = /^(managed-by|Name|dormouse:)/;

type Raw = Record<string, unknown>;

const isObject = (v: unknown): v is Raw => typeof v === 'object' && v !== null && !Array.isArray(v);

export function loadTemplates(path: string): { templates: Template[]; problems: string[] } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    return { templates: [], problems: [`DORMOUSE_TEMPLATES: cannot read ${path} (${(e as NodeJS.ErrnoException).code ?? String(e)}).`] };
  }
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (e) {
    return { templates: [], problems: [`${path}: not valid YAML: ${(e as Error).message.split('\n')[0]}`] };
  }
  return parseTemplates(doc, path);
}

export function parseTemplates(doc: unknown, source = 'templates'): { templates: Template[]; problems: string[] } {
  const problems: string[] = [];
  const list = isObject(doc) ? doc.templates : undefined;
  if (!Array.isArray(list) || list.length === 0) {
    return { templates: [], problems: [`${source}: expected a top-level \`templates:\` list with at least one template.`] };
  }
  const templates: Template[] = [];
  const seen = new Set<string>();
  list.forEach((raw, i) => {
    const at = `${source}: templates[${i}]`;
    const p = (msg: string) => problems.push(`${at}${msg}`);
    if (!isObject(raw)) return p(': must be a mapping.');
    const name = raw.name;
    if (typeof name !== 'string' || !NAME.test(name)) p('.name: lowercase letters, digits and dashes, 2-40 characters, starting with a letter.');
    else if (seen.has(name)) p(`.name: \`${name}\` is used twice.`);
    else seen.add(name);

    const description = typeof raw.description === 'string' ? raw.description.trim() : '';
    if (!description) p('.description: say in a sentence what this template is for.');
    else if (description.length > 150) p('.description: keep it under 150 characters (it is shown in a select).');

    const image = raw.image;
    if (typeof image !== 'string' || !/^(ami-[0-9a-f]{8,17}|resolve:ssm:\/[\w/.-]+)$/.test(image)) {
      p('.image: an AMI id (ami-0123456789abcdef0) or an SSM parameter (resolve:ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64).');
    }

    const instanceTypes: Record<string, number> = {};
    if (!isObject(raw.instanceTypes) || Object.keys(raw.instanceTypes).length === 0) {
      p('.instanceTypes: a mapping of the instance types a requester may pick to their $ per hour, e.g. `t3.medium: 0.0416`.');
    } else {
      for (const [type, cost] of Object.entries(raw.instanceTypes)) {
        if (!INSTANCE_TYPE.test(type)) p(`.instanceTypes: \`${type}\` is not an instance type like t3.medium.`);
        else if (typeof cost !== 'number' || !(cost >= 0)) p(`.instanceTypes.${type}: the $ per hour must be a number ≥ 0.`);
        else instanceTypes[type] = cost;
      }
    }
    const instanceType = raw.instanceType ?? Object.keys(instanceTypes)[0];
    if (typeof instanceType !== 'string' || !(instanceType in instanceTypes)) {
      p(`.instanceType: the default type must be one of instanceTypes (${Object.keys(instanceTypes).join(', ') || 'none'}).`);
    }

    const servers = isObject(raw.servers) ? raw.servers : { min: 1, max: 1, default: 1 };
    const min = servers.min ?? 1;
    const max = servers.max ?? min;
    const dflt = servers.default ?? min;
    if (![min, max, dflt].every((n) => Number.isInteger(n)) || (min as number) < 1 || (max as number) > 20 || (min as number) > (max as number) || (dflt as number) < (min as number) || (dflt as number) > (max as number)) {
      p('.servers: integers with 1 ≤ min ≤ default ≤ max ≤ 20.');
    }

    const strings = (key: string, pattern: RegExp, hint: string): string[] => {
      const v = raw[key] ?? [];
      if (!Array.isArray(v) || !v.every((s) => typeof s === 'string' && pattern.test(s))) {
        p(`.${key}: a list of ${hint}.`);
        return [];
      }
      return v as string[];
    };
    const subnets = strings('subnets', /^subnet-[0-9a-f]+$/, 'subnet ids (subnet-…)');
    const securityGroups = strings('securityGroups', /^sg-[0-9a-f]+$/, 'security group ids (sg-…)');

    const instanceProfile = raw.instanceProfile;
    if (instanceProfile !== undefined && (typeof instanceProfile !== 'string' || !/^[\w+=,.@-]{1,128}$/.test(instanceProfile))) {
      p('.instanceProfile: the name of an IAM instance profile.');
    }

    const volumes: VolumeSpec[] = [];
    const rawVolumes = raw.volumes ?? [];
    if (!Array.isArray(rawVolumes)) p('.volumes: a list of { device, sizeGiB, type }.');
    else {
      rawVolumes.forEach((v, j) => {
        if (!isObject(v) || typeof v.device !== 'string' || !/^\/dev\/[a-z0-9]+$/.test(v.device) || !Number.isInteger(v.sizeGiB) || (v.sizeGiB as number) < 1 || (v.sizeGiB as number) > 16384) {
          p(`.volumes[${j}]: needs device (/dev/xvda) and sizeGiB (1-16384).`);
          return;
        }
        const type = v.type ?? 'gp3';
        if (typeof type !== 'string' || !['gp2', 'gp3', 'io1', 'io2', 'st1', 'sc1', 'standard'].includes(type)) {
          p(`.volumes[${j}].type: one of gp3, gp2, io1, io2, st1, sc1, standard.`);
          return;
        }
        volumes.push({ device: v.device, sizeGiB: v.sizeGiB as number, type });
      });
    }

    const tags: Record<string, string> = {};
    if (raw.tags !== undefined) {
      if (!isObject(raw.tags)) p('.tags: a mapping of tag keys to values.');
      else {
        for (const [k, v] of Object.entries(raw.tags)) {
          if (!TAG_KEY.test(k) || RESERVED_TAG.test(k)) p(`.tags: \`${k}\` is not allowed (reserved or invalid key).`);
          else if (typeof v !== 'string' || v.length > 256) p(`.tags.${k}: a string of at most 256 characters.`);
          else tags[k] = v;
        }
      }
    }

    const bootstrap: BootstrapStep[] = [];
    const rawSteps = raw.bootstrap ?? [];
    if (!Array.isArray(rawSteps)) p('.bootstrap: a list of steps { name, run, timeoutSeconds }.');
    else {
      const stepNames = new Set<string>();
      rawSteps.forEach((s, j) => {
        const sp = (msg: string) => p(`.bootstrap[${j}]${msg}`);
        if (!isObject(s)) return sp(': must be a mapping.');
        if (typeof s.name !== 'string' || !/^[a-z][a-z0-9-]{0,39}$/.test(s.name)) return sp('.name: lowercase letters, digits and dashes.');
        if (stepNames.has(s.name)) return sp(`.name: \`${s.name}\` is used twice.`);
        stepNames.add(s.name);
        if (typeof s.run !== 'string' || !s.run.trim()) return sp('.run: the shell script to run.');
        const timeout = s.timeoutSeconds ?? 600;
        if (!Number.isInteger(timeout) || (timeout as number) < 5 || (timeout as number) > 172800) return sp('.timeoutSeconds: an integer from 5 to 172800.');
        const sandbox = s.sandbox ?? false;
        if (typeof sandbox !== 'boolean') return sp('.sandbox: true or false.');
        bootstrap.push({ name: s.name, run: s.run, timeoutSeconds: timeout as number, sandboxSafe: sandbox });
      });
    }

    if (problems.some((x) => x.startsWith(at))) return;
    templates.push({
      name: name as string,
      description,
      image: image as string,
      instanceType: instanceType as string,
      instanceTypes,
      servers: { min: min as number, max: max as number, default: dflt as number },
      subnets,
      securityGroups,
      ...(typeof instanceProfile === 'string' ? { instanceProfile } : {}),
      volumes,
      tags,
      bootstrap,
    });
  });
  return { templates, problems };
}
