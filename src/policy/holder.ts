/**
 * The configuration in force, shared: the daemon replaces it on a reload, and whoever applies it
 * (the queue, the bandwidth limiter) reads it and hears of every replacement. Pure: no I/O, no
 * timers (a schedule edge is not a change of config; effectivePolicy() says when one comes).
 */
import type { BitsdConfig } from './config.js';

export interface PolicySource {
  /** The configuration in force now. */
  current(): BitsdConfig;
  /** Calls `listener` after every replacement; returns the function that stops it. */
  onChange(listener: (config: BitsdConfig) => void): () => void;
}

export class PolicyHolder implements PolicySource {
  #config: BitsdConfig;
  readonly #listeners = new Set<(config: BitsdConfig) => void>();

  constructor(config: BitsdConfig) {
    this.#config = config;
  }

  current(): BitsdConfig {
    return this.#config;
  }

  onChange(listener: (config: BitsdConfig) => void): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  /**
   * Puts `config` in force and tells every listener. A listener that throws does not stop the
   * others or undo the replacement; the first error is rethrown once all were called.
   */
  replace(config: BitsdConfig): void {
    this.#config = config;
    let failure: { error: unknown } | null = null;
    for (const listener of [...this.#listeners]) {
      try {
        listener(config);
      } catch (error) {
        failure ??= { error };
      }
    }
    if (failure) throw failure.error;
  }
}
