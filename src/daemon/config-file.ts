/**
 * Reads the daemon's config files (the I/O half of the config; the schema is src/policy/config.ts
 * and where the files are is resolveConfigFiles in ./config.ts). All of them are read and checked
 * before anything is used, so a bad file changes nothing: at start-up bitsd refuses to start, on
 * a reload the policy in force stays.
 */
import { open } from 'node:fs/promises';
import { BitsError } from '../shared/errors.js';
import { type BitsdConfig, type ConfigFile, mergeConfig, validateConfig } from '../policy/config.js';
import type { ConfigFileStatus } from '../policy/report.js';
import type { ConfigFileSpec } from './config.js';

/** A config file is a few hundred bytes; this bounds what a wrong path (a log, /dev/zero) costs. */
export const MAX_CONFIG_BYTES = 1024 * 1024;

export interface LoadedConfig {
  readonly config: BitsdConfig;
  readonly files: readonly ConfigFileStatus[];
  readonly loadedAt: Date;
}

/** A config file that cannot be used: E_INVALIDARG naming the file and, for a bad value, the key. */
export class ConfigFileError extends BitsError {
  readonly file: string;

  constructor(file: string, message: string, cause?: unknown) {
    super('E_INVALIDARG', message, cause === undefined ? {} : { cause });
    this.file = file;
  }
}

/** Reads, checks and merges `specs` (lowest first). Throws ConfigFileError for the first bad one. */
export async function loadConfigFiles(specs: readonly ConfigFileSpec[], now: () => Date = () => new Date()): Promise<LoadedConfig> {
  const layers: ConfigFile[] = [];
  const files: ConfigFileStatus[] = [];
  for (const spec of specs) {
    const text = await readConfigText(spec);
    files.push({ path: spec.path, role: spec.role, found: text !== null });
    if (text !== null) layers.push(parseConfigText(text, spec.path));
  }
  return { config: mergeConfig(...layers), files, loadedAt: now() };
}

/** The file's text, or null when an optional file does not exist. */
async function readConfigText(spec: ConfigFileSpec): Promise<string | null> {
  let handle;
  try {
    handle = await open(spec.path, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && !spec.required) return null;
    if (code === 'ENOENT') throw new ConfigFileError(spec.path, `${spec.path}: no such config file (named by --config or BITSD_CONFIG).`, err);
    throw new ConfigFileError(spec.path, `${spec.path}: the config file cannot be read (${code ?? (err as Error).message}); fix its permissions or its path.`, err);
  }
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw new ConfigFileError(spec.path, `${spec.path}: a config file must be a regular file.`);
    if (info.size > MAX_CONFIG_BYTES) throw new ConfigFileError(spec.path, `${spec.path}: the config file is ${info.size} bytes; at most ${MAX_CONFIG_BYTES} are allowed.`);
    const bytes = await handle.readFile();
    if (bytes.length > MAX_CONFIG_BYTES) throw new ConfigFileError(spec.path, `${spec.path}: the config file is over ${MAX_CONFIG_BYTES} bytes.`);
    return bytes.toString('utf8');
  } catch (err) {
    if (err instanceof ConfigFileError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigFileError(spec.path, `${spec.path}: the config file cannot be read (${code ?? (err as Error).message}).`, err);
  } finally {
    await handle.close();
  }
}

/** JSON text to what the file sets; an empty file sets nothing. */
export function parseConfigText(text: string, path: string): ConfigFile {
  const body = text.replace(/^\uFEFF/, '');
  if (body.trim() === '') return {};
  let raw: unknown;
  try {
    raw = JSON.parse(body);
  } catch (err) {
    throw new ConfigFileError(path, `${path}: not valid JSON (${jsonProblem(err, body)}).`, err);
  }
  try {
    return validateConfig(raw, path);
  } catch (err) {
    if (err instanceof BitsError) throw new ConfigFileError(path, err.message, err);
    throw err;
  }
}

/** The parser's message, with the line and column when it gives only a position. */
function jsonProblem(err: unknown, text: string): string {
  const message = err instanceof Error ? err.message : String(err);
  const m = /at position (\d+)/.exec(message);
  if (!m || /line \d+/.test(message)) return message;
  const before = text.slice(0, Number(m[1]));
  const line = before.split('\n').length;
  const column = before.length - before.lastIndexOf('\n');
  return `${message} (line ${line} column ${column})`;
}
