import type { CliContext } from '../../../src/cli/io.js';

export interface CapturedContext {
  ctx: CliContext;
  stdout: () => string;
  stderr: () => string;
  /** stdout split into non-empty lines. */
  stdoutLines: () => string[];
}

/** A CliContext that records stdout/stderr, with no real environment, sleeping for real unless told otherwise. */
export function captureContext(
  argv: readonly string[],
  overrides: Partial<CliContext> = {},
): CapturedContext {
  const out: string[] = [];
  const err: string[] = [];
  const ctx: CliContext = {
    argv,
    env: {},
    stdout: (chunk) => {
      out.push(chunk);
    },
    stderr: (chunk) => {
      err.push(chunk);
    },
    ...overrides,
  };
  return {
    ctx,
    stdout: () => out.join(''),
    stderr: () => err.join(''),
    stdoutLines: () =>
      out
        .join('')
        .split('\n')
        .filter((line) => line !== ''),
  };
}
