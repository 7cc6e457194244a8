/** A template for tests: two instance types, 1-3 servers, a safe step and a recorded one. */
import type { Template } from '../../src/core/environment/template.js';

export const testTemplate = (overrides: Partial<Template> = {}): Template => ({
  name: 'api',
  description: 'API for tests',
  image: 'resolve:ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64',
  instanceType: 't3.medium',
  instanceTypes: { 't3.small': 0.0208, 't3.medium': 0.0416 },
  servers: { min: 1, max: 3, default: 1 },
  subnets: [],
  securityGroups: [],
  volumes: [{ device: '/dev/xvda', sizeGiB: 12, type: 'gp3' }],
  tags: { team: 'tests' },
  bootstrap: [
    { name: 'prepare', run: 'echo prepare', timeoutSeconds: 60, sandboxSafe: true },
    { name: 'install', run: 'echo install', timeoutSeconds: 60, sandboxSafe: false },
  ],
  ...overrides,
});
