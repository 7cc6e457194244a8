/**
 * What people read when something they asked cannot be done: the one place
 * that turns the core's error codes and parameters into Slack sentences
 * (mentions, `code`, the commands to type). The console, DMs, the Home tab
 * and answers all take their words from here. A code without a sentence here
 * is shown as the core's own plain message, escaped.
 */
import type { DomainError } from '../../../core/environment/errors.js';
import { describeState, STATES, type EnvironmentState } from '../../../core/environment/lifecycle.js';
import { NAME_MAX, NAME_MIN } from '../../../core/environment/name.rules.js';
import { formatUsd } from '../../../core/environment/template.js';
import { PURPOSE_MAX } from '../../../core/policies/request.policy.js';
import { quotaUsd } from '../../../core/policies/quota.policy.js';
import { SCHEDULE_EXAMPLES, when } from '../blocks/schedule.blocks.js';
import { esc } from '../blocks/text.js';

type Params = Record<string, unknown>;

/** A value shown as `code`: escaped, and unable to close the code span. */
export const code = (value: unknown): string => `\`${esc(String(value)).replace(/`/g, "'")}\``;
const mention = (user: unknown): string => (typeof user === 'string' && /^[UW][A-Z0-9]+$/.test(user) ? `<@${user}>` : 'someone');
const list = (values: unknown): string[] => (Array.isArray(values) ? values.map(String) : []);
const state = (s: unknown): string => (typeof s === 'string' && isState(s) ? describeState(s) : String(s ?? 'in an unknown state'));
const isState = (s: string): s is EnvironmentState => (STATES as readonly string[]).includes(s);

const NAME_RULES: Record<string, (p: Params) => string> = {
  empty: () => `Give the environment a name, for example ${code('/server new api-staging')}.`,
  too_short: (p) => `The name ${code(p.name)} is too short: use ${NAME_MIN} to ${NAME_MAX} characters.`,
  too_long: (p) => `The name is ${String(p.length)} characters long: use at most ${NAME_MAX}.`,
  first_letter: (p) => `The name ${code(p.name)} must start with a lowercase letter.`,
  alphabet: (p) => `The name ${code(p.name)} may contain only lowercase letters, digits and dashes (no spaces, capitals, quotes or other symbols).`,
  trailing_dash: (p) => `The name ${code(p.name)} must not end with a dash.`,
  double_dash: (p) => `The name ${code(p.name)} must not contain two dashes in a row.`,
};

const SENTENCES: Record<string, (p: Params) => string | undefined> = {
  'ENVIRONMENT.NAME_INVALID': (p) => NAME_RULES[String(p.rule)]?.(p),
  'ENVIRONMENT.NAME_TAKEN': (p) => `${code(p.name)} is already taken by ${mention(p.owner)} (it is ${state(p.state)}). Pick another name, or ask them to destroy it.`,
  'DRIFT.SETTLED': (p) => {
    const done = p.note ? ` (${esc(String(p.note))}${typeof p.by === 'string' && /^[UW][A-Z0-9]+$/.test(p.by) ? `, ${mention(p.by)}` : ''})` : '';
    const at = (iso: unknown) => (typeof iso === 'string' ? `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC` : '');
    switch (p.variant) {
      case 'unknown':
        return 'This finding is no longer tracked: it was resolved more than a week ago. Nothing changed.';
      case 'resolved':
        return `This was already resolved${done} at ${at(p.at)}. Nothing changed.`;
      case 'acting':
        return `This is already being dealt with${done}. Nothing changed.`;
      case 'raced':
        return `Someone acted on this first${done}. Nothing changed.`;
      case 'not-an-orphan':
        return 'Only an orphan is terminated from its alert; a lost server is repaired. Nothing changed.';
      case 'owned':
        return `${String(p.instanceId)} belongs to ${code(p.name)} now (it is ${state(p.state)}): it was not terminated.`;
      case 'no-environment':
        return 'There is no live environment to adopt this instance into: terminate it instead. Nothing changed.';
      case 'not-ready':
        return `${code(p.name)} is ${p.state ? state(p.state) : 'gone'}: only a ready environment adopts a server in place of a lost one. Nothing changed.`;
      case 'nothing-lost':
        return `${code(p.name)} has its server ${String(p.server)}${p.running ? ` (${String(p.running)})` : ''} running: there is nothing to adopt ${String(p.instanceId)} in place of. Terminate it instead.`;
      case 'as-recorded':
        return `Server ${String(p.server)} of ${code(p.name)} is as recorded again: there is nothing to repair, and it was left alone. Nothing changed.`;
      case 'not-repairable':
        return 'This finding is not repaired from its alert: ignore it, or see the README (Drift). Nothing changed.';
      default:
        return 'Nothing changed.';
    }
  },
  'ENVIRONMENT.NOT_FOUND': (p) => `There is no environment called ${code(p.name)}. ${code('/server list all')} shows every environment.`,
  'ENVIRONMENT.NOT_AUTHORIZED': (p) => {
    const people = (users: unknown) => list(users).map(mention).join(', ');
    if (p.variant === 'needs-approval') {
      return `That schedule for ${code(p.name)} would need approval (${list(p.rules).map(esc).join('; ')}), so ${list(p.approvers).length ? people(p.approvers) : 'an admin'} set${list(p.approvers).length === 1 ? 's' : ''} it: ask them. Nothing changed.`;
    }
    if (p.variant === 'drift') {
      const who = [...new Set([...list(p.ops), ...list(p.admins)])];
      return `Only ops or an admin can act on drift alerts${who.length ? `: ${who.map(mention).join(', ')}` : ''}. Nothing changed.`;
    }
    if (p.variant === 'own-request') return `Nobody approves or rejects their own request: ${list(p.approvers).length ? `${people(p.approvers)} can decide on ${code(p.name)}` : `an admin decides on ${code(p.name)}`}.`;
    if (p.variant === 'not-an-approver') return `Only ${list(p.approvers).length ? people(p.approvers) : 'an admin'} can ${String(p.verb)} ${code(p.name)}: they approve for <@${String(p.owner)}>'s team.`;
    const who = [
      `${mention(p.owner)} (the owner)`,
      list(p.leads).length ? `a lead of their team (${people(p.leads)})` : '',
      list(p.admins).length ? `an admin (${people(p.admins)})` : 'an admin',
      list(p.ops).length ? `ops (${people(p.ops)}), from the alert` : '',
    ].filter(Boolean);
    return `Only ${who.length > 1 ? `${who.slice(0, -1).join(', ')} or ${who[who.length - 1]!}` : who[0]!} can ${String(p.verb)} ${code(p.name)}. Ask them in a thread.`;
  },
  'APPROVAL.DECIDED': (p) => {
    const at = typeof p.at === 'string' ? ` at ${p.at.slice(11, 16)} UTC` : '';
    switch (p.outcome) {
      case 'approved':
        return `${code(p.name)} was already approved by ${mention(p.by)}${at}; it is ${state(p.state)}.`;
      case 'rejected':
        return `${code(p.name)} was already rejected by ${mention(p.by)}${at}${typeof p.reason === 'string' ? `: ${esc(p.reason)}` : '.'}`;
      case 'cancelled':
        return `${code(p.name)} was cancelled by ${mention(p.by)}${at}: there is nothing left to decide.`;
      case 'expired':
        return `${code(p.name)} expired${at}: nobody answered in time, so there is nothing left to decide.`;
      default:
        return `${code(p.name)} is not waiting for approval (it is ${state(p.state)}): there is nothing to decide.`;
    }
  },
  'APPROVAL.REASON_REQUIRED': (p) =>
    p.variant === 'too_long'
      ? `Keep the reason to ${String(p.max)} characters (it has ${String(p.length)}).`
      : 'Say why it is rejected (a sentence is enough), so the requester knows what would get it approved.',
  'QUOTA.EXCEEDED': (p) => {
    const whose = p.scope === 'team' ? `your team ${code(p.team)}` : 'you';
    const usd = (n: unknown) => quotaUsd(Number(n));
    const figures =
      p.what === 'servers'
        ? `${whose} ${p.scope === 'team' ? 'holds' : 'hold'} ${String(p.usage)} of ${String(p.limit)} servers, and ${code(p.name)} asks for ${String(p.requested)}`
        : `${whose} ${p.scope === 'team' ? 'spends' : 'spend'} ${usd(p.usage)} of ${usd(p.limit)} a day, and ${code(p.name)} would add ${usd(p.requested)}`;
    const raise = list(p.raisedBy).length ? `${list(p.raisedBy).map(mention).join(' or ')} can raise the quota` : 'an admin can raise the quota (in the policy file)';
    if (p.variant === 'at_approval') {
      return `${code(p.name)} cannot be approved now: ${figures.replace(/^your team/, 'the team').replace(/^you (hold|spend)/, 'its requester $1s')}. It still waits: reject it with that reason, or ${raise.replace(/ can raise the quota.*/, '')} can raise the quota first.`;
    }
    return `${code(p.name)} was not created: ${figures}. Destroy something you no longer need, ask for fewer or smaller servers, or ask: ${raise}. Nothing was launched.`;
  },
  'ENVIRONMENT.STALE_ACTION': (p) =>
    `That button belongs to an earlier environment called ${code(p.name)}, which has ended; it does nothing to the one that has the name now. ${code(`/server status ${String(p.name)}`)} shows it.`,
  'ENVIRONMENT.INVALID_TRANSITION': (p) => {
    switch (p.variant) {
      case 'already_retried':
        return `${code(p.name)} is already being retried (${p.state === 'failed' ? 'it failed again' : `it is ${state(p.state)}`}); its message shows the progress.`;
      case 'already_saving':
        return `${code(p.name)} is already saving its data; its message shows the progress.`;
      case 'save_not_ready':
        return `${code(p.name)} is ${state(p.state)}: only a ready environment's data is saved${p.state === 'failed' ? `. Retry it first (${code(`/server retry ${String(p.name)}`)}), or destroy it` : ''}.`;
      case 'wake_not_asleep':
        return `${code(p.name)} is ${state(p.state)}, not asleep: there is nothing to wake${p.state === 'failed' ? `. Retry it (${code(`/server retry ${String(p.name)}`)}) or destroy it` : ''}.`;
      case 'not_destroyed':
        return `${code(p.name)} is ${state(p.state)}: ${code('/server restore')} brings back a destroyed environment (${code(`/server wake ${String(p.name)}`)} wakes a sleeping one).`;
      case 'already_waking':
        return `${code(p.name)} is already waking up; its message shows the progress.`;
      case 'already_repairing':
        return `${code(p.name)} is already replacing a lost server; its message shows the progress.`;
      case 'nothing_to_repair':
        return `${code(p.name)} has every server it should, running: there is nothing to repair (it may have been repaired already). Nothing changed.`;
      case 'repair_not_ready':
        return `${code(p.name)} is ${state(p.state)}: only a ready environment's lost servers are replaced${p.state === 'asleep' ? ' (it wakes on fresh servers anyway)' : ''}.`;
      case 'not_retryable':
        return p.state === 'failed'
          ? `${code(p.name)} cannot be retried from where it failed; destroy it, or ask ops.`
          : `${code(p.name)} is ${state(p.state)}, not failed: there is nothing to retry.`;
      default: {
        const allowed = list(p.allowed);
        const next = allowed.length ? `From here it can be: ${allowed.join(', ')}.` : 'It cannot change any more.';
        return `${code(p.name)} is ${state(p.from)}, so it cannot become ${String(p.to).replace('_', ' ')}. ${next}`;
      }
    }
  },
  'REQUEST.TEMPLATE_UNKNOWN': (p) =>
    p.variant === 'removed'
      ? `The template ${code(p.template)} of ${code(p.name)} is no longer in the catalogue; an admin must restore it, or destroy the environment.`
      : `There is no template called ${code(p.template)}. Pick one of: ${list(p.known).map(code).join(', ')} (${code('/server templates')} describes them).`,
  'REQUEST.COUNT_OUT_OF_RANGE': (p) => {
    if (p.variant === 'not_a_number') return `${code('--count')} takes a whole number of servers; ${code(p.value)} is not one.`;
    if (p.variant === 'no_template') return `No template has ${String(p.count)} servers: they have ${String(p.min)} to ${String(p.max)}. ${code('/server templates')} shows each one's range.`;
    const range = p.min === p.max ? `exactly ${String(p.min)}` : `${String(p.min)} to ${String(p.max)}`;
    return `${code(p.template)} environments have ${range} server${p.max === 1 ? '' : 's'}; you asked for ${String(p.count)}.`;
  },
  'REQUEST.INSTANCE_TYPE_NOT_ALLOWED': (p) => {
    if (p.variant === 'no_template') return `No template offers ${code(p.instanceType)}; the types are ${list(p.types).map(code).join(', ')}.`;
    const allowed = Object.entries((p.allowed ?? {}) as Record<string, number>).map(([t, c]) => `${code(t)} (${formatUsd(c)}/h)`).join(', ');
    return `${code(p.template)} servers can be ${allowed}; ${code(p.instanceType)} is not one of them.`;
  },
  'REQUEST.INPUT_INVALID': (p) =>
    p.variant === 'stopped_no_generation'
      ? `${code(p.name)} sleeps stopped, its data on its volumes: ${code(`/server wake ${String(p.name)}`)} starts it as it was, without ${code('--generation')}.`
      : p.variant === 'no_template_for_both'
      ? `No template takes ${String(p.count)} servers of ${code(p.instanceType)} together. ${code('/server templates')} shows what each one takes.`
      : p.variant === 'no_data_store'
        ? `Sleep, wake and saved data are not set up here: ops must name a data bucket (${code('DORMOUSE_DATA_BUCKET')}).`
        : undefined,
  'REQUEST.PURPOSE_INVALID': (p) => `The purpose is ${String(p.length)} characters long; keep it under ${PURPOSE_MAX} (a sentence is plenty).`,
  'COMMAND.TIMED_OUT': (p) => `Server ${String(p.server)} (${code(p.instanceId)}): step ${code(p.step)} did not finish within ${String(p.timeoutSeconds)} s.`,
  'COMMAND.FAILED': (p) =>
    `Server ${String(p.server)} (${code(p.instanceId)}): step ${code(p.step)} ${p.cancelled ? 'was cancelled' : `exited with code ${String(p.exitCode ?? '?')}`}.`,
  'DATA.PART_MISSING': (p) =>
    `${p.server !== undefined ? `Server ${String(p.server)}: ` : ''}the data store does not hold every part of the save${list(p.missing).length ? ` (missing parts ${list(p.missing).join(', ')})` : ''}. Nothing was terminated; Retry saves again.`,
  'DATA.SIZE_MISMATCH': (p) =>
    `${p.server !== undefined ? `Server ${String(p.server)}: ` : ''}the data store holds ${String(p.stored ?? '?')} bytes where the server sent ${String(p.reported ?? '?')}. Nothing was terminated; Retry saves again.`,
  'DATA.CHECKSUM_MISMATCH': (p) =>
    `Server ${String(p.server ?? '?')}: what was read back differs from what was saved (SHA-256 ${code(String(p.expected ?? '').slice(0, 12))}… expected, ${code(String(p.got ?? '').slice(0, 12))}… found). Retry reads it again; if it fails again, ask ops.`,
  'DATA.NO_REPORT': (p) => `Server ${String(p.server ?? '?')} finished its ${String(p.script ?? 'data')} script without saying what it did, so nothing is taken for done. Retry, or ask ops to look at the server.`,
  'DATA.NO_GENERATION': (p) =>
    p.variant === 'nothing_kept'
      ? `${code(p.name)} kept no data when it was destroyed, so there is nothing to restore.`
      : p.variant === 'expired'
        ? `The data of ${code(p.name)} was kept until ${String(p.keptUntil).slice(0, 10)} and is gone now.`
        : p.variant === 'gone'
          ? `Generation ${String(p.generation)} of ${code(p.name)} is no longer in the data store; ask ops.`
          : list(p.known).length
      ? `${code(p.name)} has no generation ${String(p.generation)}. It has: ${list(p.known).join(', ')} (${code(`/server data ${String(p.name)}`)}).`
      : `${code(p.name)} has no saved data to wake from.`,
  'DATA.COUNT_MISMATCH': (p) =>
    p.name !== undefined
      ? `Generation ${String(p.generation)} was taken from ${String(p.serverCount)} server${p.serverCount === 1 ? '' : 's'}; ${code(p.name)} has ${String(p.count)}, and its template's data is not shared, so each server would miss its part. Wake from a generation with ${String(p.count)} servers (${code(`/server data ${String(p.name)}`)}).`
      : `Generation ${String(p.generation)} has no part for server ${String(p.server)}.`,
  'DATA.NOT_IN_STEP': (p) => `The shared data differs between servers after the restore (${list(p.servers).join(', ')}). Retry restores it again.`,
  'DATA.STORE_ERROR': () => 'The data store (S3) refused or failed a request. Nothing was terminated; Retry, or ask ops.',
  'SCHEDULE.INVALID': (p) =>
    p.problem === 'skip not allowed'
      ? `Skipping a night is not allowed here: use *Extend 1 h* or *Extend until* instead.`
      : p.problem === 'no later sleep'
        ? `${code(p.name)} has no later sleep to move to: its schedule is ${code('off')}.`
        : p.problem === 'no data store'
          ? 'Nothing can sleep here: ops must name a data bucket (DORMOUSE_DATA_BUCKET).'
          : `That schedule cannot be read: ${esc(String(p.problem))}. Nothing was changed. For example:\n${SCHEDULE_EXAMPLES.replaceAll('NAME', String(p.name ?? 'NAME'))}`,
  'SCHEDULE.MOMENT_PASSED': (p) => {
    const at = typeof p.at === 'string' ? when(p.at, typeof p.zone === 'string' ? p.zone : 'UTC') : undefined;
    switch (p.variant) {
      case 'asleep':
        return `Too late for that: ${code(p.name)} already went to sleep${at ? ` at ${at}` : ''}, its data saved. ${code(`/server wake ${String(p.name)}`)} brings it back.`;
      case 'saving':
        return `Too late for that: ${code(p.name)} is going to sleep right now (its data is being saved). ${code(`/server wake ${String(p.name)}`)} brings it back once it is asleep.`;
      case 'moved':
        return `That reminder is out of date: the sleep of ${code(p.name)} was moved to ${at ?? 'another time'}. ${code(`/server schedule ${String(p.name)}`)} shows it.`;
      case 'no_sleep':
        return `That reminder is out of date: ${code(p.name)} no longer sleeps on schedule. ${code(`/server schedule ${String(p.name)}`)} shows why.`;
      default:
        return `That reminder is out of date: ${code(p.name)} is ${state(p.state)}.`;
    }
  },
  'COMPUTE.INSTANCE_LOST': (p) => (p.variant === 'kept_disappearing' ? 'Its servers kept disappearing while they were set up. Retry, or ask ops to look at the account.' : undefined),
};

/** The sentence for an error the person can act on (a problem with what they asked, or where it got to). */
export function errorSentence(error: DomainError): string {
  return sentenceFor(error.code, error.details) ?? esc(error.message);
}

/** The sentence for a code and its parameters (a failure record keeps both), if there is one. */
export function sentenceFor(errorCode: string, params: Params = {}): string | undefined {
  return SENTENCES[errorCode]?.(params);
}

/** Why an environment failed, from its failure record: the sentence for its code, or its plain reason; and the reference ops search the logs for. */
export function failureSentence(f: { code: string; params?: Params | undefined; reason: string; ref?: string | undefined }): string {
  // A failure recorded before failures kept their parameters (or without any) is told in its own words.
  const sentence = (f.params && Object.keys(f.params).length ? sentenceFor(f.code, f.params) : undefined) ?? esc(f.reason);
  return f.ref ? `${sentence} (ref ${code(f.ref)})` : sentence;
}

/** Form errors are plain text: the sentence without Slack's marks. */
export function plainSentence(error: DomainError): string {
  return errorSentence(error)
    .replace(/`/g, '')
    .replace(/<@([UW][A-Z0-9]+)>/g, '@$1')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

