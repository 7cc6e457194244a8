/**
 * CloudFormation's YAML for the infra tests: its short-form functions read the way
 * CloudFormation reads them (`!Ref x` kept as text; list functions as `{ 'Fn::If': [...] }`),
 * and an IAM statement's shape.
 */
export const cfnTags = [
  ...['!Ref', '!GetAtt', '!Sub', '!ImportValue', '!GetAZs', '!Base64'].map((tag) => ({ tag, resolve: (v: string) => `${tag} ${v}` })),
  // Condition functions take a list: kept as { 'Fn::If': [...] }, as CloudFormation reads them.
  ...['!If', '!Not', '!Equals', '!And', '!Or', '!Join', '!Select', '!Split'].map((tag) => ({
    tag,
    collection: 'seq' as const,
    resolve: (seq: { toJSON(): unknown }) => ({ [`Fn::${tag.slice(1)}`]: seq.toJSON() }),
  })),
];

export type Statement = {
  Sid?: string;
  Effect?: string;
  Action?: string | string[];
  NotAction?: string | string[];
  Resource?: string | string[];
  NotResource?: string | string[];
  Condition?: Record<string, Record<string, unknown>>;
};
