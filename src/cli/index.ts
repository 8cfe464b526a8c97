#!/usr/bin/env node
// The `ebdedup` bin: wires the process into main(), which owns everything else (and is tested in-process).
import { main } from './main.js';

process.exitCode = await main({
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
