/** Sleep, wake, save and data need a data store; without one they say so, and change nothing. */
import { DomainError, ErrorCodes } from '../../../../../core/environment/errors.js';
import type { UseCases } from '../../../../../core/use-cases/index.js';

export function dataUseCases(useCases: UseCases): NonNullable<UseCases['data']> {
  if (useCases.data) return useCases.data;
  throw new DomainError(ErrorCodes.INPUT_INVALID, 'Sleep, wake and saved data are not set up here: ops must name a data bucket (DORMOUSE_DATA_BUCKET).', { variant: 'no_data_store' });
}
