import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { COMMANDS, main } from '../../src/cli/main.js';
import { captureContext } from './helpers/context.js';

const REPO = path.resolve(import.meta.dirname, '../..');

describe('ebdedup command dispatch', () => {
  it('lists every command in --help and exits 0', async () => {
    const run = captureContext(['--help']);

    const code = await main(run.ctx);

    expect(code).toBe(0);
    for (const name of Object.keys(COMMANDS)) expect(run.stdout()).toContain(`  ${name} `);
    expect(run.stdout()).toContain('help');
  });

  it('prints usage on stderr with exit code 2 when no command is given', async () => {
    const run = captureContext([]);

    const code = await main(run.ctx);

    expect(code).toBe(2);
    expect(run.stderr()).toContain('Usage: ebdedup COMMAND');
    expect(run.stdout()).toBe('');
  });

  it('shows a command help with "help COMMAND" and "COMMAND --help"', async () => {
    const viaHelp = captureContext(['help', 'replay']);
    const viaFlag = captureContext(['put-events', '--help']);

    const codes = [await main(viaHelp.ctx), await main(viaFlag.ctx)];

    expect(codes).toEqual([0, 0]);
    expect(viaHelp.stdout()).toContain('Usage: ebdedup replay PATH... --url URL');
    expect(viaFlag.stdout()).toContain('Usage: ebdedup put-events PATH... --bus NAME');
  });

  it('names an unknown command and exits 2', async () => {
    const run = captureContext(['consume-all']);

    const code = await main(run.ctx);

    expect(code).toBe(2);
    expect(run.stderr()).toBe(
      'ebdedup: unknown command "consume-all" (commands: replay, consume, put-events, redrive; see ebdedup --help)\n',
    );
  });

  it("prints package.json's version", async () => {
    const run = captureContext(['--version']);
    const { version } = JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8')) as {
      version: string;
    };

    const code = await main(run.ctx);

    expect(code).toBe(0);
    expect(run.stdout()).toBe(`${version}\n`);
  });
});

describe('the ebdedup bin', () => {
  it('starts with a node shebang', () => {
    const source = readFileSync(path.join(REPO, 'src', 'cli', 'index.ts'), 'utf8');

    expect(source.startsWith('#!/usr/bin/env node\n')).toBe(true);
  });

  it('runs as a process: help on stdout, usage errors as one line on stderr, exit codes passed through', () => {
    const run = (args: string[]) =>
      spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/index.ts', ...args], {
        cwd: REPO,
        encoding: 'utf8',
        env: { PATH: process.env.PATH },
        timeout: 20_000,
      });

    const help = run(['--help']);
    const bad = run(['replay', 'samples']);

    expect(help.status).toBe(0);
    expect(help.stdout).toContain('Usage: ebdedup COMMAND');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toBe('ebdedup replay: --url is required (see ebdedup replay --help)\n');
  });
});
