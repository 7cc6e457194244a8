/** What a bootstrap script prints reaches Slack: what looks like a secret is hidden first. */
import { describe, expect, it } from 'vitest';
import { scrubSecrets } from '../../../src/core/policies/secrets.policy.js';

describe('scrubSecrets', () => {
  it.each([
    ['aws access key id', 'using AKIAIOSFODNN7EXAMPLE now', 'using [hidden] now'],
    ['a secret in name=value', 'AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', 'AWS_SECRET_ACCESS_KEY=[hidden]'],
    ['a password in name: value', 'db password: hunter2!', 'db password: [hidden]'],
    ['a quoted token', 'api_key="abc def 123"', 'api_key=[hidden]'],
    ['credentials in a URL', 'cloning https://deploy:s3cr3t@git.example.com/app.git', 'cloning https://deploy:[hidden]@git.example.com/app.git'],
    ['a postgres URL', 'DATABASE_URL=postgres://app:pw@db:5432/app', 'DATABASE_URL=postgres://app:[hidden]@db:5432/app'],
    ['a Slack token', 'token xoxb-1234567890-abcdefghij', 'token [hidden]'],
    ['a GitHub token', 'ghp_abcdefghijklmnopqrstuvwxyz0123456789', '[hidden]'],
    ['a bearer header', 'Authorization: Bearer abc.def.ghi-123', 'Authorization: Bearer [hidden]'],
    ['a JWT', 'jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.abcdefghijk', 'jwt [hidden]'],
    ['a private key', 'x\n-----BEGIN RSA PRIVATE KEY-----\nMIIEow\nabc\n-----END RSA PRIVATE KEY-----\ny', 'x\n[hidden]\ny'],
  ])('hides %s', (_what, input, expected) => {
    expect(scrubSecrets(input)).toBe(expected);
  });

  it('leaves ordinary output alone', () => {
    const text = 'E: package postgresql15 not found\ninstalling 3 packages (12 MB)\nhttps://example.com/docs\nexit 2';
    expect(scrubSecrets(text)).toBe(text);
  });
});
