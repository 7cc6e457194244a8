import type { Reconciler } from '../../core/use-cases/drift.use-case.js';

/** Compares the records with the cloud and the data store: drift found, alerted once, resolved (the reconciler). */
export const reconcileJob = (reconciler: Pick<Reconciler, 'run'>, ran?: (outcome: 'done' | 'failed') => void) => ({
  name: 'reconcile',
  run: async () => {
    try {
      const summary = await reconciler.run();
      ran?.('done');
      return summary;
    } catch (err) {
      ran?.('failed');
      throw err;
    }
  },
});
