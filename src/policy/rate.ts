/**
 * RATE, the bandwidth values of the config file (docs/config.md):
 *
 *   RATE := "unlimited" | 0 | "0" | NUMBER UNIT        NUMBER := digits [ "." digits ]
 *   UNIT := B/s | KB/s | KiB/s | MB/s | MiB/s | GB/s | GiB/s | kbit/s | Mbit/s | Gbit/s
 *           (kB/s and Kbit/s are accepted as spellings of KB/s and kbit/s)
 *
 * A rate is bytes per second (rounded to a whole byte), `null` for unlimited, and 0 holds the
 * jobs it applies to. A bare number other than 0 is refused: BITS's own policies are in Kbps
 * and network tools mix bits and bytes, so "1000" has no obvious unit; the unit is required.
 * Pure: no I/O.
 */
import { BitsError } from '../shared/errors.js';

/** Bytes per second; null: unlimited; 0: held. */
export type Rate = number | null;

/** The units, by their spelling; the value is bytes per second for 1 of the unit. */
const UNITS: ReadonlyMap<string, number> = new Map([
  ['B/s', 1],
  ['KB/s', 1000],
  ['kB/s', 1000],
  ['KiB/s', 1024],
  ['MB/s', 1000 ** 2],
  ['MiB/s', 1024 ** 2],
  ['GB/s', 1000 ** 3],
  ['GiB/s', 1024 ** 3],
  ['kbit/s', 1000 / 8],
  ['Kbit/s', 1000 / 8],
  ['Mbit/s', 1000 ** 2 / 8],
  ['Gbit/s', 1000 ** 3 / 8],
]);

/** The grammar, for error messages. */
export const RATE_SYNTAX =
  '"unlimited", 0, or a number with a unit: B/s, KB/s, KiB/s, MB/s, MiB/s, GB/s, GiB/s, kbit/s, Mbit/s or Gbit/s (e.g. "500 KB/s", "1.5 MiB/s", "8 Mbit/s")';

/** The largest rate accepted: 2^53 - 1 B/s (about 8 PiB/s), beyond which bytes stop being exact. */
const MAX_RATE = Number.MAX_SAFE_INTEGER;

const PATTERN = /^(\d+(?:\.\d+)?)\s*([A-Za-z]+\/s)$/;

function show(value: unknown): string {
  const text = JSON.stringify(value);
  if (text === undefined) return String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/**
 * Parses a RATE. `where` names the value in the message ("bandwidth.normal in /etc/bitsd/config.json").
 * Throws BitsError E_INVALIDARG naming what is allowed.
 */
export function parseRate(value: unknown, where = 'The rate'): Rate {
  const bad = (why: string): BitsError => new BitsError('E_INVALIDARG', `${where} ${why}; use ${RATE_SYNTAX}.`);
  if (value === 0 || value === '0') return 0;
  if (typeof value === 'number') {
    throw bad(Number.isFinite(value) && value > 0 ? `is ${show(value)} without a unit` : `is ${show(value)}`);
  }
  if (typeof value !== 'string') throw bad(`must be a string or 0; got ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value === 'object' ? 'an object' : show(value)}`);
  const text = value.trim();
  if (text === 'unlimited') return null;
  if (/^\d+(?:\.\d+)?$/.test(text)) throw bad(`is ${show(value)} without a unit`);
  const m = PATTERN.exec(text);
  const unit = m?.[2] === undefined ? undefined : UNITS.get(m[2]);
  if (!m || m[1] === undefined || unit === undefined) throw bad(`is ${show(value)}`);
  const bytes = Math.round(Number(m[1]) * unit);
  if (bytes === 0 && Number(m[1]) === 0) return 0;
  if (bytes < 1) throw bad(`is ${show(value)}, less than 1 B/s (0 holds the jobs)`);
  if (bytes > MAX_RATE) throw bad(`is ${show(value)}, more than ${MAX_RATE} B/s`);
  return bytes;
}

/** Display units, largest first; formatRate picks the largest that shows the rate exactly. */
const DISPLAY: ReadonlyArray<readonly [string, number]> = [
  ['GiB/s', 1024 ** 3],
  ['GB/s', 1000 ** 3],
  ['MiB/s', 1024 ** 2],
  ['MB/s', 1000 ** 2],
  ['KiB/s', 1024],
  ['KB/s', 1000],
];

/**
 * A rate as RATE text that parseRate reads back to the same value: "unlimited", "0", or the
 * largest unit that shows it exactly with at most three decimals ("1 MiB/s", "1.5 MB/s",
 * "125 KB/s", "1234.567 KB/s"); below 1 KB/s, bytes ("999 B/s").
 */
export function formatRate(rate: Rate): string {
  if (rate === null) return 'unlimited';
  if (rate === 0) return '0';
  for (const [name, size] of DISPLAY) {
    if (rate < size) continue;
    const thousandths = (rate * 1000) / size;
    if (Number.isInteger(thousandths)) return `${thousandths / 1000} ${name}`;
  }
  return `${rate} B/s`;
}
