/**
 * Runs bitsadmin in process (runCli) against a real BackgroundCopyManager in a temp directory:
 * what the binary does, minus the socket. Each run gets the manager through a wrapper whose
 * close() leaves it open, as a client's close() leaves the daemon running.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { BackgroundCopyManager } from '../../src/api/manager.js';
import type { BackgroundCopyManagerApi } from '../../src/api/types.js';
import { runCli } from '../../src/cli/run.js';
import type { CliIo } from '../../src/cli/types.js';
import { tempDir } from '../helpers/temp.js';

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunOptions {
  readonly isTTY?: boolean;
  readonly signal?: AbortSignal;
  readonly columns?: number;
  readonly cwd?: string;
  /** Called with every stdout chunk as it is written (to react to live output). */
  readonly onStdout?: (chunk: string) => void;
}

function borrowed(mgr: BackgroundCopyManager): BackgroundCopyManagerApi {
  return {
    createJob: (name, type) => mgr.createJob(name, type),
    getJob: (id) => mgr.getJob(id),
    enumJobs: (options) => mgr.enumJobs(options),
    getErrorDescription: (hresult) => mgr.getErrorDescription(hresult),
    listPendingCancellations: () => mgr.listPendingCancellations(),
    on: (event, listener) => mgr.on(event, listener),
    close: async () => undefined,
  };
}

export class CliHarness {
  readonly dir: string;
  readonly out: string;
  readonly mgr: BackgroundCopyManager;
  /** The --socket value of each connect, in order. */
  readonly sockets: Array<string | undefined> = [];

  private constructor(dir: string, out: string, mgr: BackgroundCopyManager) {
    this.dir = dir;
    this.out = out;
    this.mgr = mgr;
  }

  static async open(): Promise<CliHarness> {
    const dir = await tempDir('bitsd-cli-');
    const out = join(dir, 'out');
    await mkdir(out);
    return new CliHarness(dir, out, await BackgroundCopyManager.open({ dataDir: join(dir, 'data') }));
  }

  async run(argv: readonly string[], options: RunOptions = {}): Promise<CliResult> {
    let stdout = '';
    let stderr = '';
    const io: CliIo = {
      stdout: {
        write: (chunk: string) => {
          stdout += chunk;
          options.onStdout?.(chunk);
          return true;
        },
      },
      stderr: { write: (chunk: string) => (stderr += chunk) },
      isTTY: options.isTTY ?? false,
      env: {},
      cwd: options.cwd ?? this.dir,
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.columns ? { columns: options.columns } : {}),
    };
    const code = await runCli(argv, io, async (socket) => {
      this.sockets.push(socket);
      return borrowed(this.mgr);
    });
    return { code, stdout, stderr };
  }

  /** Runs with --json and parses stdout (one document). */
  async json(argv: readonly string[]): Promise<{ code: number; doc: Record<string, unknown>; stderr: string }> {
    const r = await this.run(['--json', ...argv]);
    return { code: r.code, doc: JSON.parse(r.stdout) as Record<string, unknown>, stderr: r.stderr };
  }

  /** Runs and expects exit 0 with nothing on stderr; returns stdout. */
  async ok(argv: readonly string[]): Promise<string> {
    const r = await this.run(argv);
    if (r.code !== 0 || r.stderr !== '') throw new Error(`bitsadmin ${argv.join(' ')} -> ${r.code}\n${r.stderr}${r.stdout}`);
    return r.stdout;
  }

  /** Creates a job through the CLI and returns its GUID. */
  async create(name: string, ...flags: string[]): Promise<string> {
    return this.ok(['/rawreturn', '/create', ...flags, name]);
  }

  /** A source file under the temp dir, as a file:// URL. */
  async source(name: string, content: string | Buffer): Promise<string> {
    const path = join(this.dir, name);
    await writeFile(path, content);
    return pathToFileURL(path).href;
  }

  close(): Promise<void> {
    return this.mgr.close();
  }
}

export const GUID = /^\{[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}\}$/;
/** bitsadmin's time format. */
export const TIME = /^\d{1,2}\/\d{1,2}\/\d{4} \d{1,2}:\d{2}:\d{2} [AP]M$/;
