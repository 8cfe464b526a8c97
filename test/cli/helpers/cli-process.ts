import { execFile } from 'node:child_process';
import path from 'node:path';

const REPO = path.resolve(import.meta.dirname, '../../..');

export interface Exit {
  /** The exit code (a string when the process could not be started). */
  code: number | string | null | undefined;
  stdout: string;
  stderr: string;
}

/**
 * Runs `ebdedup ARGS` from the sources (tsx, no build needed) as a process, as a user runs the bin: `env` is its
 * whole environment, on top of PATH, HOME = `home` and instance metadata off. Asynchronous, so stand-ins served
 * by the test's own process can answer it.
 */
export function runEbdedup(
  args: readonly string[],
  home: string,
  env: Record<string, string>,
): Promise<Exit> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'src/cli/index.ts', ...args],
      {
        cwd: REPO,
        env: {
          PATH: process.env.PATH ?? '',
          HOME: home,
          AWS_EC2_METADATA_DISABLED: 'true',
          // On Node.js < 22 the SDK's own clients (STS, SSO) print a multi-line NodeVersionSupportWarning with
          // process.emitWarning, past the logger credentials.ts gives the chain: off, so stderr is the CLI's.
          AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
          ...env,
        },
        timeout: 20_000,
      },
      (error, stdout, stderr) => resolve({ code: error === null ? 0 : error.code, stdout, stderr }),
    );
  });
}
