/** What people are told about requests Dormouse cannot act on: old buttons and forms, unreadable requests. */
import { code } from './errors.text.js';

export const notices = {
  oldButton: (name: string | undefined): string =>
    `This button is from an older Dormouse message and does nothing now. ${code(`/server status ${name ?? '<name>'}`)} shows where the environment is.`,
  oldForm: 'This form is from an older version of Dormouse. Close it and run the command again.',
  couldNotRead: (ref: string): string => `Dormouse could not read that request (ref ${ref}). Try again; if it keeps happening, tell ops and quote the ref.`,
};
