/** The CloudFormation table is the table the code creates for development: same keys, same indexes. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { tableDefinition } from '../src/adapters/aws/dynamodb-environment.repository.js';

const cfnTags = ['!Ref', '!GetAtt', '!Sub'].map((tag) => ({ tag, resolve: (v: string) => `${tag} ${v}` }));
const template = parse(readFileSync(join(import.meta.dirname, '..', 'infra', 'dormouse.cfn.yml'), 'utf8'), { customTags: cfnTags });

const sortBy = <T>(xs: T[], key: (x: T) => string) => [...xs].sort((a, b) => key(a).localeCompare(key(b)));

describe('infra/dormouse.cfn.yml', () => {
  it('declares the same table as tableDefinition()', () => {
    const cfn = template.Resources.Table.Properties;
    const code = tableDefinition('x');
    expect(cfn.KeySchema).toEqual(code.KeySchema);
    expect(sortBy(cfn.AttributeDefinitions, (a: { AttributeName: string }) => a.AttributeName)).toEqual(
      sortBy(code.AttributeDefinitions ?? [], (a) => a.AttributeName ?? ''),
    );
    const indexes = (xs: Array<{ IndexName?: string; KeySchema?: unknown }>) => sortBy(xs.map((i) => ({ IndexName: i.IndexName, KeySchema: i.KeySchema })), (i) => i.IndexName ?? '');
    expect(indexes(cfn.GlobalSecondaryIndexes)).toEqual(indexes(code.GlobalSecondaryIndexes ?? []));
  });

  it('gives every Resource "*" a comment saying why', () => {
    const text = readFileSync(join(import.meta.dirname, '..', 'infra', 'dormouse.cfn.yml'), 'utf8').split('\n');
    text.forEach((line, i) => {
      if (line.includes('Resource: "*"')) expect(text[i - 1]?.trim().startsWith('#'), `line ${i + 1}`).toBe(true);
    });
  });
});
