/** The `/server` subcommands, one file each (sleep and save share one), by the word that names them. */
import { dataSubcommand } from './data.subcommand.js';
import { destroySubcommand } from './destroy.subcommand.js';
import { helpSubcommand } from './help.subcommand.js';
import { historySubcommand } from './history.subcommand.js';
import { listSubcommand } from './list.subcommand.js';
import { newSubcommand } from './new.subcommand.js';
import { restoreSubcommand } from './restore.subcommand.js';
import { retrySubcommand } from './retry.subcommand.js';
import { saveSubcommand, sleepSubcommand } from './save.subcommand.js';
import { savingsSubcommand } from './savings.subcommand.js';
import { scheduleSubcommand } from './schedule.subcommand.js';
import { statusSubcommand } from './status.subcommand.js';
import type { Subcommand } from './subcommand.js';
import { templatesSubcommand } from './templates.subcommand.js';
import { wakeSubcommand } from './wake.subcommand.js';

export const SUBCOMMANDS: Readonly<Record<string, Subcommand>> = {
  new: newSubcommand,
  list: listSubcommand,
  status: statusSubcommand,
  history: historySubcommand,
  destroy: destroySubcommand,
  retry: retrySubcommand,
  sleep: sleepSubcommand,
  wake: wakeSubcommand,
  save: saveSubcommand,
  data: dataSubcommand,
  restore: restoreSubcommand,
  schedule: scheduleSubcommand,
  savings: savingsSubcommand,
  templates: templatesSubcommand,
  help: helpSubcommand,
};
