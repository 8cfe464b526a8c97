#!/usr/bin/env node
// The `ebdedup` bin: wires the process into main(), which owns everything else (and is tested in-process).
import { main } from './main.js';

// SIGTERM/SIGINT end a long-running command (consume) cleanly: it finishes the entry in hand, then returns.
const stop = new AbortController();
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => stop.abort());

process.exitCode = await main({
  signal: stop.signal,
  argv: process.argv.slice(2),
  env: process.env,
  stdout: (chunk) => {
    process.stdout.write(chunk);
  },
  stderr: (chunk) => {
    process.stderr.write(chunk);
  },
  stderrIsTTY: process.stderr.isTTY === true,
});
