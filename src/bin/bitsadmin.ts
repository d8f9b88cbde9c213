#!/usr/bin/env node
/**
 * bitsadmin: the bitsadmin-compatible command line of bitsd, talking to the daemon over its
 * socket. All behaviour lives in src/cli (runCli); this file owns the process: streams, SIGINT
 * and the exit status. See docs/cli.md.
 */
import { daemonConnect } from '../cli/connect.js';
import { runCli } from '../cli/run.js';

const interrupt = new AbortController();
// The first Ctrl-C asks the running verb to stop (/transfer cancels its job, /monitor ends); a
// second one gives up at once.
process.on('SIGINT', () => {
  if (interrupt.signal.aborted) process.exit(130);
  interrupt.abort();
});

const code = await runCli(
  process.argv.slice(2),
  {
    stdout: process.stdout,
    stderr: process.stderr,
    isTTY: process.stdout.isTTY === true,
    env: process.env,
    signal: interrupt.signal,
    ...(process.stdout.columns ? { columns: process.stdout.columns } : {}),
  },
  daemonConnect(process.env),
);
process.exitCode = code;
// Node exits once stdout has drained and the daemon connection is closed; nothing else holds the loop
// except the SIGINT listener, which does not keep the process alive.
