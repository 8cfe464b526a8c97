import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freePort, waitFor } from './ports.js';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The built receiver as a real process (`npm start`), with the environment the test gives it. */
export class ServerProcess {
  stdout = '';
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  private constructor(
    readonly child: ChildProcess,
    readonly port: number,
  ) {
    child.stdout?.on('data', (chunk: Buffer) => {
      this.stdout += chunk.toString('utf8');
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      this.stderr += chunk.toString('utf8');
    });
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  }

  static async start(env: Record<string, string>, options: { waitReady?: boolean; command?: string[] } = {}) {
    const port = Number(env.PORT ?? (await freePort()));
    const [command, ...args] = options.command ?? ['node', 'dist/main.js'];
    const child = spawn(command as string, args, {
      cwd: REPO_ROOT,
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        HOST: '127.0.0.1',
        PORT: String(port),
        LOG_LEVEL: 'info',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group, so a signal reaches npm's child too, as Ctrl-C or a process manager sends it.
      detached: true,
    });
    const server = new ServerProcess(child, port);
    if (options.waitReady ?? true) {
      await waitFor(async () => (await fetch(`${server.url}/healthz`)).ok, 15_000, 'the receiver to listen');
    }
    return server;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Signals the whole process group (npm and the node process it runs) and waits for the exit. */
  async stop(signal: NodeJS.Signals = 'SIGTERM') {
    if (this.child.exitCode === null && this.child.signalCode === null && this.child.pid !== undefined) {
      try {
        process.kill(-this.child.pid, signal);
      } catch {
        // already gone
      }
    }
    return this.exited;
  }
}
