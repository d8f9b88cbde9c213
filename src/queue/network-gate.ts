/**
 * The network gate: whether a job may transfer now, given its server's reachability, the
 * network's cost against the job's transfer policy, and the battery (policy/network.ts decides;
 * docs/network.md). A job that may not waits in TRANSIENT_ERROR with the blocker's error (BLOCK:
 * no error counted, no retry armed), so it holds no transfer slot, and goes back to QUEUED when the
 * blocker goes (UNBLOCK). The gate looks at a job when it is about to be dispatched, when its
 * transfer fails with a transport error, when its cost flags or priority change, and at every
 * job that is queued, running or blocked when the network or the config changes.
 */
import type { FailureInfo } from '../job/machine.js';
import type { JobRecord } from '../job/records.js';
import type { Priority } from '../job/types.js';
import { formatFlags32, transferPolicyNames } from '../job/transfer-policy.js';
import { type BitsdConfig, type BlockReason, blockerFor, type NetworkSnapshot, type NetworkSource, online, type PolicySource } from '../policy/index.js';
import type { JobStore } from '../store/job-store.js';
import type { JobFunnel } from './funnel.js';

/** Jobs re-checked per macrotask when the network changes: the event loop keeps serving between. */
const CHUNK = 500;

export interface NetworkGateDeps {
  readonly store: Pick<JobStore, 'getJob' | 'getFiles' | 'jobIds' | 'activeJobIds'>;
  readonly funnel: Pick<JobFunnel, 'tryApply'>;
  readonly policy: PolicySource;
  /** What watches the network (the daemon's watchers); null: nothing does (in-process default). */
  readonly network: NetworkSource | null;
}

export class NetworkGate {
  readonly #deps: NetworkGateDeps;
  readonly #unsubscribe: Array<() => void> = [];
  #wasOnline: boolean;
  /** Bumped by every full re-check: a newer one supersedes the chunks of an older one. */
  #generation = 0;
  #scheduled = false;
  #stopped = false;

  constructor(deps: NetworkGateDeps) {
    this.#deps = deps;
    this.#wasOnline = this.#snapshot() === null || online(this.#snapshot() as NetworkSnapshot);
    if (deps.network) this.#unsubscribe.push(deps.network.onChange(() => this.recheckAll()));
    this.#unsubscribe.push(deps.policy.onChange(() => this.recheckAll()));
  }

  stop(): void {
    this.#stopped = true;
    this.#generation++;
    for (const off of this.#unsubscribe.splice(0)) off();
  }

  /** The transfer policy in force for the job: its own, or the config's default for its priority. */
  costFlagsOf(job: JobRecord): number {
    if (job.costFlagsSet) return job.costFlags;
    return this.#config().network.transferPolicy[priorityKey(job.priority)] ?? job.costFlags;
  }

  /** What keeps the job from transferring now, as the error it waits with; null when nothing does. */
  blockerOf(job: JobRecord): FailureInfo | null {
    const config = this.#config();
    const host = hostOf(job, this.#deps.store.getFiles(job.id));
    const costFlags = this.costFlagsOf(job);
    const reason = blockerFor({ host, foreground: job.priority === 'FOREGROUND', costFlags }, this.#snapshot(), {
      metered: config.network.metered,
      pauseOnBattery: config.power.pauseOnBattery,
    });
    return reason === null ? null : failureFor(reason, host, costFlags);
  }

  /** Blocks the job if something keeps it from transferring; true when it is (now) blocked. */
  block(jobId: string): boolean {
    const job = this.#deps.store.getJob(jobId);
    if (!job) return false;
    const blocker = this.blockerOf(job);
    if (blocker === null) return false;
    return this.#deps.funnel.tryApply(jobId, { type: 'BLOCK', error: blocker }) !== null;
  }

  /**
   * A transfer failed with a transport error: looks at the network afresh (it may have just gone)
   * and blocks the job if it is offline, so the failure counts no error and arms no retry.
   */
  async blockAfterFailure(jobId: string): Promise<boolean> {
    await this.#deps.network?.refresh?.();
    return this.block(jobId);
  }

  /** One job's transfer policy or priority changed: block or release it now. */
  recheck(jobId: string): void {
    const job = this.#deps.store.getJob(jobId);
    if (job) this.#settle(job);
  }

  /** The network or the config changed: every queued, running and blocked job is looked at again. */
  recheckAll(): void {
    if (this.#scheduled || this.#stopped) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      if (!this.#stopped) void this.#sweep();
    });
  }

  async #sweep(): Promise<void> {
    const generation = ++this.#generation;
    const snapshot = this.#snapshot();
    const isOnline = snapshot === null || online(snapshot);
    const cameBack = isOnline && !this.#wasOnline;
    this.#wasOnline = isOnline;
    const { store } = this.#deps;
    // Blocked jobs first (those the change releases go back in line in their order), then those
    // running, queued, or waiting out a retry (whose server may now be out of reach). On
    // reconnection, jobs waiting out a retry after a transport failure are retried at once, as
    // Windows does, instead of a retry delay later.
    const retryNow = cameBack ? store.jobIds('transport-failures') : [];
    const ids = [...store.jobIds('blocked'), ...store.activeJobIds(), ...store.jobIds('queued'), ...(cameBack ? [] : store.jobIds('retrying'))];
    for (let i = 0; i < ids.length; i += CHUNK) {
      if (generation !== this.#generation) return;
      for (const id of ids.slice(i, i + CHUNK)) {
        const job = store.getJob(id);
        if (job) this.#settle(job);
      }
      if (i + CHUNK < ids.length) await new Promise((resolve) => setImmediate(resolve));
    }
    for (const id of retryNow) this.#deps.funnel.tryApply(id, { type: 'RETRY_DUE' });
  }

  #settle(job: JobRecord): void {
    const blocker = this.blockerOf(job);
    // The machine refuses BLOCK in states it does not apply to (a refusal is no error here).
    if (blocker !== null) this.#deps.funnel.tryApply(job.id, { type: 'BLOCK', error: blocker });
    else if (job.blockedSince !== null && job.state === 'TRANSIENT_ERROR') {
      this.#deps.funnel.tryApply(job.id, { type: 'UNBLOCK' });
    }
  }

  #snapshot(): NetworkSnapshot | null {
    return this.#deps.network?.current() ?? null;
  }

  #config(): BitsdConfig {
    return this.#deps.policy.current();
  }
}

function priorityKey(priority: Priority): 'foreground' | 'high' | 'normal' | 'low' {
  return priority.toLowerCase() as 'foreground' | 'high' | 'normal' | 'low';
}

/**
 * The host the job talks to next: its first file not yet transferred (an upload-reply job that
 * has sent its file fetches the reply from the same server). Null when that is a local file.
 */
export function hostOf(job: JobRecord, files: readonly { readonly remoteName: string; readonly transferred: boolean }[]): string | null {
  const file = files.find((f) => !f.transferred) ?? files[0];
  const remote = file?.remoteName ?? job.replyUrl;
  if (!remote) return null;
  try {
    const url = new URL(remote);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.hostname : null;
  } catch {
    return null;
  }
}

function failureFor(reason: BlockReason, host: string | null, costFlags: number): FailureInfo {
  switch (reason) {
    case 'OFFLINE':
      return {
        hresult: 0x80200010,
        code: 'BG_E_NETWORK_DISCONNECTED',
        context: 'GENERAL_TRANSPORT',
        message: `No network connection reaches ${host ?? 'the server'}; the job goes on by itself when one does.`,
        fileIndex: null,
      };
    case 'COST_POLICY':
      return {
        hresult: 0x80200059,
        code: 'BG_E_BLOCKED_BY_COST_TRANSFER_POLICY',
        context: 'GENERAL_QUEUE_MANAGER',
        message: `The network is metered and the job's transfer policy (${transferPolicyNames(costFlags)}, ${formatFlags32(costFlags)}) does not allow it; the job goes on by itself when the network's cost changes, or after /settransferpolicy.`,
        fileIndex: null,
      };
    case 'BATTERY':
      return {
        hresult: 0x80200068,
        code: 'BG_E_BLOCKED_BY_BATTERY_SAVER',
        context: 'GENERAL_QUEUE_MANAGER',
        message: 'The machine runs on battery and power.pauseOnBattery holds background jobs; the job goes on by itself on mains power.',
        fileIndex: null,
      };
  }
}
