import { randomBytes } from 'node:crypto';

/** Crockford's base32 alphabet: no I, L, O or U to misread. */
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/**
 * A short reference for one incident: what a person is shown instead of
 * internal text, and what ops search the logs for. 8 characters, 40 random
 * bits (256 is a multiple of 32, so the low 5 bits of a byte are uniform).
 */
export function newReference(): string {
  return [...randomBytes(8)].map((byte) => ALPHABET[byte & 31]).join('');
}
