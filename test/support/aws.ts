/** Clients pointed at the test run's moto_server, with throwaway credentials. */
import { inject } from 'vitest';

export const TEST_REGION = 'us-east-1';

export function motoClientConfig() {
  return {
    region: TEST_REGION,
    endpoint: inject('motoUrl'),
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
    maxAttempts: 2,
  };
}

let counter = 0;
/** A name no other test in this run uses. */
export function uniqueName(prefix = 'env'): string {
  counter += 1;
  return `${prefix}-${process.pid.toString(36)}-${Date.now().toString(36)}-${counter}`;
}
