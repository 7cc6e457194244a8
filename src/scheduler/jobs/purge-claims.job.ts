import type { PurgeExpiredClaims } from '../../core/use-cases/purge-claims.use-case.js';

/** Deletes expired delivery claims (the store may have no TTL: dynalite has none). */
export const purgeClaimsJob = (purge: PurgeExpiredClaims) => ({
  name: 'purge-claims',
  run: () => purge.execute(),
});
