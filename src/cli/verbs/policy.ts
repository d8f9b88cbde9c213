/**
 * The daemon's bandwidth policy (docs/config.md): /policy shows what is in force now, /reload
 * makes bitsd re-read its config files (as SIGHUP does). bitsd's own verbs: bitsadmin.exe has
 * none, since Windows takes these policies from Group Policy.
 */
import { BitsError } from '../../shared/errors.js';
import { formatRate } from '../../policy/rate.js';
import { POLICY_PRIORITY_KEYS } from '../../policy/config.js';
import { formatFlags32, transferPolicyNames } from '../../job/transfer-policy.js';
import { isPolicyControl, type PolicyControl, type PolicyReport } from '../../policy/report.js';
import { formatTime, printable } from '../format.js';
import type { Outcome, VerbContext, VerbSpec } from '../types.js';

async function control(ctx: VerbContext, verb: string): Promise<PolicyControl> {
  const api = await ctx.api();
  if (!isPolicyControl(api)) throw new BitsError('E_NOTIMPL', `/${verb} talks to the bitsd daemon; this bitsadmin runs without one.`);
  return api;
}

function limit(rate: number | null): string {
  return rate === 0 ? '0 (jobs held)' : formatRate(rate);
}

function fileLines(report: PolicyReport): string[] {
  if (report.files.length === 0) return ['  none'];
  return report.files.map((f) => `  ${printable(f.path)} (${f.role}): ${f.found ? 'read' : 'not found'}`);
}

function concurrencyLine(report: PolicyReport): string {
  const { background, configured } = report.concurrency;
  return `BACKGROUND JOBS AT ONCE: ${background}${configured === background ? '' : ` (the config says ${configured}: takes effect at the next start of bitsd)`}`;
}

function networkLines(report: PolicyReport): string[] {
  const defaults = POLICY_PRIORITY_KEYS.filter((k) => report.network.transferPolicy[k] !== undefined).map((k) => {
    const flags = report.network.transferPolicy[k] as number;
    return `  ${k.toUpperCase()}: ${formatFlags32(flags)} ${transferPolicyNames(flags)}`;
  });
  return [
    `METERED: ${report.network.metered === 'auto' ? 'auto (as NetworkManager says)' : report.network.metered}`,
    `DEFAULT TRANSFER POLICY:${defaults.length === 0 ? " none (each job's own)" : ''}`,
    ...defaults,
    `PAUSE ON BATTERY: ${report.power.pauseOnBattery ? 'yes (background jobs)' : 'no'}`,
  ];
}

/** The /policy text. */
export function policyText(report: PolicyReport): string[] {
  const entry = report.entry === null ? 'none: the defaults' : `bandwidth.schedule[${report.entry.index}] (${report.entry.days} ${report.entry.from}-${report.entry.to})`;
  return [
    `BANDWIDTH POLICY AT ${formatTime(report.at)}`,
    `SCHEDULE ENTRY: ${entry}`,
    `NEXT CHANGE: ${report.nextChangeAt === null ? 'none within 8 days' : formatTime(report.nextChangeAt)}`,
    'LIMITS:',
    `  FOREGROUND: ${limit(report.limits.foreground)}`,
    `  HIGH: ${limit(report.limits.high)}`,
    `  NORMAL: ${limit(report.limits.normal)}`,
    `  LOW: ${limit(report.limits.low)}`,
    `  ALL BACKGROUND JOBS TOGETHER: ${limit(report.limits.background)}`,
    `YIELD TO OTHER TRAFFIC: ${report.yield ? 'yes' : 'no'}`,
    concurrencyLine(report),
    ...networkLines(report),
    'CONFIG FILES:',
    ...fileLines(report),
    `READ AT: ${formatTime(report.loadedAt)}`,
  ];
}

const policy: VerbSpec = {
  name: 'policy',
  usage: '',
  summary: "Show bitsd's bandwidth policy in force now: each priority's limit, the schedule entry, the next change, the config files.",
  arity: [0, 0],
  async run(ctx): Promise<Outcome> {
    const report = await (await control(ctx, 'policy')).getPolicy();
    return { text: policyText(report).join('\n'), json: report };
  },
};

const reload: VerbSpec = {
  name: 'reload',
  usage: '',
  summary: 'Make bitsd re-read its config files (as SIGHUP does). A bad file is refused and the policy in force stays.',
  arity: [0, 0],
  async run(ctx): Promise<Outcome> {
    const report = await (await control(ctx, 'reload')).reloadPolicy();
    const { background, configured } = report.concurrency;
    const text = [
      'Config reloaded.',
      'CONFIG FILES:',
      ...fileLines(report),
      ...(background === configured ? [] : [`concurrency.background ${configured} takes effect at the next start of bitsd (${background} in force).`]),
    ];
    return { text: text.join('\n'), json: { reloaded: true, policy: report } };
  },
};

export const policyVerbs: readonly VerbSpec[] = [policy, reload];
