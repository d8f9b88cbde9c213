/**
 * Transfer policies by name and number (src/job/transfer-policy.ts): PowerShell's CostStates
 * names, combinations, hex, and the names a value reads back as.
 */
import { describe, expect, it } from 'vitest';
import { formatFlags32, parseTransferPolicy, transferPolicyNames } from '../../../src/job/transfer-policy.js';

describe('transfer policies', () => {
  it('names (any case), combinations with , or +, and hex with or without 0x', () => {
    expect(parseTransferPolicy('Standard')).toBe(0x80000067);
    expect(parseTransferPolicy('policyunrestricted')).toBe(0x80000021);
    expect(parseTransferPolicy('Unrestricted')).toBe(0x1);
    expect(parseTransferPolicy('BelowCap,NearCap')).toBe(0xc);
    expect(parseTransferPolicy('UsageBased + IgnoreCongestion')).toBe(0x80000040);
    expect(parseTransferPolicy('None')).toBe(0);
    expect(parseTransferPolicy('0x800000FF')).toBe(0x800000ff);
    expect(parseTransferPolicy('21')).toBe(0x21);
  });

  it('refuses unknown and empty names, listing what is allowed', () => {
    expect(() => parseTransferPolicy('Cheap')).toThrow(/unknown name "Cheap"; use a hex DWORD \(0x80000067\) or names from Always, NotRoaming, NoSurcharge, Standard/);
    expect(() => parseTransferPolicy('Standard,')).toThrow(/an empty name/);
    expect(() => parseTransferPolicy('0x1FFFFFFFF')).toThrow(/E_INVALIDARG|not valid/);
  });

  it('reads back as the composite name, else the single names that cover it and any bits left in hex', () => {
    expect(transferPolicyNames(0x80000067)).toBe('Standard');
    expect(transferPolicyNames(0x8000007f)).toBe('NotRoaming');
    expect(transferPolicyNames(0xc)).toBe('NearCap,BelowCap');
    expect(transferPolicyNames(0x40000001)).toBe('Unrestricted,0x40000000');
    expect(transferPolicyNames(0)).toBe('None');
    expect(formatFlags32(0x21)).toBe('0x00000021');
  });
});
