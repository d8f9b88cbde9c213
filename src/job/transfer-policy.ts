/**
 * A job's transfer policy: BITS_JOB_PROPERTY_ID_COST_FLAGS, the cost states in which it may
 * transfer (bits5_0.h), by number or by PowerShell's -TransferPolicy names (Start-BitsTransfer's
 * CostStates), alone or combined. Pure.
 */
import { BitsError } from '../shared/errors.js';

/** PowerShell's names, each with its value; composites first, so formatting prefers them. */
const NAMES: ReadonlyArray<readonly [string, number]> = [
  ['Always', 0x800000ff],
  ['NotRoaming', 0x8000007f],
  ['NoSurcharge', 0x8000006f],
  ['Standard', 0x80000067],
  ['PolicyUnrestricted', 0x80000021],
  ['IgnoreCongestion', 0x80000000],
  ['Roaming', 0x80],
  ['UsageBased', 0x40],
  ['OverCapThrottled', 0x20],
  ['OverCapCharged', 0x10],
  ['NearCap', 0x8],
  ['BelowCap', 0x4],
  ['Capped', 0x2],
  ['Unrestricted', 0x1],
  ['None', 0],
];

const BY_NAME = new Map(NAMES.map(([name, value]) => [name.toLowerCase(), value]));

export const TRANSFER_POLICY_NAMES: readonly string[] = NAMES.map(([name]) => name);

export const TRANSFER_POLICY_SYNTAX =
  `a hex DWORD (0x80000067) or names from ${TRANSFER_POLICY_NAMES.join(', ')}, combined with "," or "+" (BelowCap,NearCap)`;

/**
 * The flags `text` names: hex ("0x80000067" or "80000067", as bitsadmin takes numbers), a name,
 * or names joined by "," or "+" (their union). Names are case-insensitive. A bad value is
 * E_INVALIDARG naming what is allowed.
 */
export function parseTransferPolicy(text: string, what = 'The transfer policy'): number {
  const trimmed = text.trim();
  if (/^(0x)?[0-9a-f]{1,8}$/i.test(trimmed) && !BY_NAME.has(trimmed.toLowerCase())) return parseInt(trimmed.replace(/^0x/i, ''), 16) >>> 0;
  const parts = trimmed.split(/[,+]/).map((p) => p.trim());
  let flags = 0;
  for (const part of parts) {
    const value = BY_NAME.get(part.toLowerCase());
    if (value === undefined) {
      throw new BitsError('E_INVALIDARG', `${what} ${JSON.stringify(text)} is not valid: ${part === '' ? 'an empty name' : `unknown name ${JSON.stringify(part)}`}; use ${TRANSFER_POLICY_SYNTAX}.`);
    }
    flags = (flags | value) >>> 0;
  }
  return flags;
}

/** "Standard", "BelowCap,NearCap", "None", or the names that cover the flags, and what is left in hex. */
export function transferPolicyNames(flags: number): string {
  let left = flags >>> 0;
  const exact = NAMES.find(([, value]) => value === left);
  if (exact) return exact[0];
  const names: string[] = [];
  for (const [name, value] of NAMES) {
    if (value !== 0 && (left & value) >>> 0 === value) {
      names.push(name);
      left = (left & ~value) >>> 0;
    }
  }
  if (left !== 0) names.push(`0x${left.toString(16).toUpperCase().padStart(8, '0')}`);
  return names.join(',');
}

/** "0x80000067": how bitsadmin prints a DWORD of flags. */
export function formatFlags32(flags: number): string {
  return `0x${(flags >>> 0).toString(16).toUpperCase().padStart(8, '0')}`;
}
