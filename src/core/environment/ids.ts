import { randomBytes } from 'node:crypto';

/** Crockford's base32: no I, L, O or U, so an id read aloud or copied by hand stays right. */
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/**
 * A new environment id in the ULID layout: 10 characters of milliseconds
 * since 1970, then 16 random ones (80 bits). Ids sort by creation time, are
 * unique without coordination, and stay unique when a name is reused.
 */
export function newEnvironmentId(now: Date, random: (bytes: number) => Uint8Array = randomBytes): string {
  let time = now.getTime();
  let head = '';
  for (let i = 0; i < 10; i++) {
    head = ALPHABET[time % 32] + head;
    time = Math.floor(time / 32);
  }
  const bytes = random(16);
  let tail = '';
  for (const b of bytes) tail += ALPHABET[b % 32];
  return head + tail;
}

export const ENVIRONMENT_ID = /^[0-9A-HJKMNP-TV-Z]{26}$/;
