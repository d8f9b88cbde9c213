/**
 * Every verb bitsadmin understands, and the bitsadmin verbs bitsd deliberately leaves out (with
 * the reason, so the error says more than "unknown verb").
 */
import type { VerbSpec } from '../types.js';
import { fileVerbs } from './files.js';
import { httpVerbs } from './http.js';
import { infoVerbs } from './info.js';
import { lifecycleVerbs } from './lifecycle.js';
import { networkVerbs } from './network.js';
import { policyVerbs } from './policy.js';
import { propertyVerbs } from './properties.js';
import { replyVerbs } from './reply.js';
import { transfer } from './transfer.js';

export const VERBS: readonly VerbSpec[] = [...lifecycleVerbs, transfer, ...fileVerbs, ...infoVerbs, ...propertyVerbs, ...httpVerbs, ...replyVerbs, ...policyVerbs, ...networkVerbs];

const byName = new Map(VERBS.map((v) => [v.name, v]));

export function findVerb(name: string): VerbSpec | undefined {
  return byName.get(name);
}

const NO_ACL = 'bitsd does not copy file ownership or ACLs';
const NO_PEERS = 'bitsd has no peer caching (BranchCache)';
const NO_TOKENS = 'bitsd has no helper tokens: jobs run as their owner';

export const UNSUPPORTED: ReadonlyMap<string, string> = new Map([
  ['getaclflags', NO_ACL],
  ['setaclflags', NO_ACL],
  ['takeownership', 'ownership follows the Unix user that created the job'],
  ['getnotifyinterface', 'a command-line client cannot register a callback; use /getnotifycmdline'],
  ['setclientcertificatebyid', 'client certificates are PEM files: use /setclientcertificatebyname JOB CERT_PEM [KEY_PEM]'],
  ['setvalidationstate', 'bitsd downloads from the origin server only, so there is no content to validate'],
  ['getvalidationstate', 'bitsd downloads from the origin server only, so there is no content to validate'],
  ['setpeercachingflags', NO_PEERS],
  ['getpeercachingflags', NO_PEERS],
  ['getpeerstats', NO_PEERS],
  ['peercaching', NO_PEERS],
  ['peers', NO_PEERS],
  ['cache', NO_PEERS],
  ['sethelpertoken', NO_TOKENS],
  ['gethelpertokensid', NO_TOKENS],
  ['sethelpertokenflags', NO_TOKENS],
  ['gethelpertokenflags', NO_TOKENS],
  ['util', 'the /util commands manage the Windows service and Internet Explorer proxy settings'],
]);
