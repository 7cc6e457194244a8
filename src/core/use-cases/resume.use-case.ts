import type { WorkflowRunner } from '../workflow/runner.js';

/**
 * On start and on every sweep of the leader: environments left in a state a
 * flow works in by a worker that stopped (its lease lapsed or was given back)
 * are resumed, never abandoned. Which states those are comes from the
 * transition table, through the flows the runner has.
 */
export class ResumeStuckEnvironments {
  constructor(private readonly deps: { runner: Pick<WorkflowRunner, 'resumeLapsed'> }) {}

  execute(): Promise<string[]> {
    return this.deps.runner.resumeLapsed();
  }
}
