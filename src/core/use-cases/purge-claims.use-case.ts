import type { DeliveryClaims } from '../ports/delivery-claims.port.js';

/** Deletes delivery claims that have expired: the store keeps only what still dedupes something, TTL or not. */
export class PurgeExpiredClaims {
  constructor(private readonly deps: { claims: Pick<DeliveryClaims, 'purgeExpired'> }) {}

  execute(limit = 500): Promise<number> {
    return this.deps.claims.purgeExpired(limit);
  }
}
