/**
 * The daemon's config in force: read at start-up, re-read on SIGHUP or daemon.reload, shown by
 * daemon.policy. A reload reads and checks every file before it changes anything, and reloads run
 * one at a time, so a bad file leaves the policy in force exactly as it was.
 *
 * concurrency.background is read at start-up only (the queue is opened with it); a reload that
 * changes it is accepted, logged, and takes effect at the next start (/policy shows both values).
 */
import type { Logger } from '../shared/logger.js';
import type { BitsdConfig } from '../policy/config.js';
import { PolicyHolder, type PolicySource } from '../policy/holder.js';
import { policyReport, type PolicyReport } from '../policy/report.js';
import type { ConfigFileSpec } from './config.js';
import { ConfigFileError, type LoadedConfig, loadConfigFiles } from './config-file.js';

export class DaemonPolicy {
  readonly #specs: readonly ConfigFileSpec[];
  readonly #log: Logger;
  readonly #holder: PolicyHolder;
  readonly #backgroundInForce: number;
  #loaded: LoadedConfig;
  #reloading: Promise<unknown> = Promise.resolve();

  private constructor(specs: readonly ConfigFileSpec[], log: Logger, loaded: LoadedConfig) {
    this.#specs = specs;
    this.#log = log;
    this.#loaded = loaded;
    this.#holder = new PolicyHolder(loaded.config);
    this.#backgroundInForce = loaded.config.concurrency.background;
  }

  /** Reads the files; throws ConfigFileError (bitsd then refuses to start). */
  static async load(specs: readonly ConfigFileSpec[], log: Logger): Promise<DaemonPolicy> {
    const loaded = await loadConfigFiles(specs);
    log.info('config loaded', { files: describeFiles(loaded) });
    return new DaemonPolicy(specs, log, loaded);
  }

  /** What the queue and the limiter read (and listen to). */
  get source(): PolicySource {
    return this.#holder;
  }

  /** The config as read at start-up, for the manager's options. */
  get config(): BitsdConfig {
    return this.#holder.current();
  }

  report(now: Date = new Date()): PolicyReport {
    return policyReport({ config: this.#holder.current(), now, files: this.#loaded.files, loadedAt: this.#loaded.loadedAt, backgroundInForce: this.#backgroundInForce });
  }

  /**
   * Re-reads the files. A bad one is refused (the ConfigFileError is thrown; nothing changes);
   * a good one replaces the config in force. Concurrent calls run one after another.
   */
  reload(reason: string): Promise<PolicyReport> {
    const run = this.#reloading.then(() => this.#reload(reason));
    this.#reloading = run.catch(() => undefined);
    return run;
  }

  async #reload(reason: string): Promise<PolicyReport> {
    let loaded: LoadedConfig;
    try {
      loaded = await loadConfigFiles(this.#specs);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      this.#log.warn('config reload refused; the policy in force stays', { reason, error: message, ...(err instanceof ConfigFileError ? { file: err.file } : {}) });
      if (err instanceof ConfigFileError) throw new ConfigFileError(err.file, `${message} Nothing was reloaded: the policy in force stays.`, err);
      throw err;
    }
    this.#loaded = loaded;
    try {
      this.#holder.replace(loaded.config);
    } catch (err) {
      this.#log.error('a policy listener failed on reload', { error: err, stack: err instanceof Error ? err.stack : undefined });
    }
    this.#log.info('config reloaded', { reason, files: describeFiles(loaded) });
    const configured = loaded.config.concurrency.background;
    if (configured !== this.#backgroundInForce) {
      this.#log.warn('concurrency.background changed; it takes effect at the next start', { inForce: this.#backgroundInForce, configured });
    }
    return this.report();
  }
}

function describeFiles(loaded: LoadedConfig): string[] {
  return loaded.files.map((f) => `${f.path} (${f.role}, ${f.found ? 'read' : 'not found'})`);
}
