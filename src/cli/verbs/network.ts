/**
 * A job's transfer policy (BITS_JOB_PROPERTY_ID_COST_FLAGS): the network costs in which it may
 * transfer. bitsadmin.exe has no verbs for it (PowerShell's -TransferPolicy does it on Windows):
 * these take the same names, or the flags in hex.
 */
import { BitsError } from '../../shared/errors.js';
import { formatFlags32, parseTransferPolicy, TRANSFER_POLICY_SYNTAX, transferPolicyNames } from '../../job/transfer-policy.js';
import { UsageError } from '../errors.js';
import type { VerbSpec } from '../types.js';
import { getter, setter } from './define.js';

const USAGE = 'FLAGS|NAME[,NAME...]';

function policyJson(flags: number): Record<string, unknown> {
  return { transferPolicy: { flags: flags >>> 0, hex: formatFlags32(flags), names: transferPolicyNames(flags) } };
}

const set = setter({
  name: 'settransferpolicy',
  usage: USAGE,
  summary: `Set when the job may transfer by network cost: ${TRANSFER_POLICY_SYNTAX}.`,
  arity: [1, 1],
  parse: (rest): number => {
    try {
      return parseTransferPolicy(rest[0] ?? '');
    } catch (err) {
      if (err instanceof BitsError) throw new UsageError(err.message, `/settransferpolicy JOB ${USAGE}`);
      throw err;
    }
  },
  apply: async (job, flags) => {
    await job.setProperty('COST_FLAGS', flags);
    return flags;
  },
  text: (flags) => `Transfer policy set to ${transferPolicyNames(flags)} (${formatFlags32(flags)}).`,
  json: policyJson,
});

const get = getter<number>({
  name: 'gettransferpolicy',
  summary: "Print the job's transfer policy: its flags in hex and their names (the config's default for its priority unless one was set).",
  key: 'transferPolicy',
  read: async (job) => Number(await job.getProperty('COST_FLAGS')) >>> 0,
  text: (flags) => `${formatFlags32(flags)} ${transferPolicyNames(flags)}`,
  json: (flags) => policyJson(flags).transferPolicy,
});

export const networkVerbs: readonly VerbSpec[] = [set, get];
