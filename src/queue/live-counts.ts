/**
 * Live (not final) jobs per owner, for the per-user and per-machine quotas: counted from the
 * database at open and after a batch of writes was rolled back, then kept up to date in memory.
 */
import { BitsError } from '../shared/errors.js';
import type { Quotas } from '../job/types.js';

export class LiveCounts {
  readonly #counts = new Map<string, number>();
  readonly #load: () => Map<string, number>;

  constructor(load: () => Map<string, number>) {
    this.#load = load;
    this.recount();
  }

  recount(): void {
    this.#counts.clear();
    for (const [owner, n] of this.#load()) this.#counts.set(owner, n);
  }

  /** One owner's live jobs, or everyone's. */
  count(owner?: string): number {
    if (owner !== undefined) return this.#counts.get(owner) ?? 0;
    let n = 0;
    for (const v of this.#counts.values()) n += v;
    return n;
  }

  /** Refuses a new job for `owner` when the per-user or per-machine quota is used up. */
  checkRoomFor(owner: string, quotas: Quotas): void {
    const userCount = this.count(owner);
    if (userCount >= quotas.jobsPerUser) {
      throw new BitsError('BG_E_TOO_MANY_JOBS_PER_USER', `${owner} already has ${userCount} jobs; the limit per user is ${quotas.jobsPerUser}. Complete or cancel some jobs first.`);
    }
    const machineCount = this.count();
    if (machineCount >= quotas.jobsPerMachine) {
      throw new BitsError('BG_E_TOO_MANY_JOBS_PER_MACHINE', `The queue already holds ${machineCount} jobs; the limit is ${quotas.jobsPerMachine}.`);
    }
  }

  added(owner: string): void {
    this.#counts.set(owner, this.count(owner) + 1);
  }

  left(owner: string): void {
    this.#counts.set(owner, Math.max(0, this.count(owner) - 1));
  }
}
