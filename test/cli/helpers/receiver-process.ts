import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { closedPort } from './http-server.js';

const REPO = path.resolve(import.meta.dirname, '../../..');

/** The built receiver. `npm test` builds first; run alone, the end-to-end tests need `npm run build`. */
export const BUILT_SERVER = path.join(REPO, 'dist', 'main.js');
export const hasBuiltServer = existsSync(BUILT_SERVER);

export interface ReceiverProcess {
  /** `http://127.0.0.1:PORT` */
  origin: string;
  stop: () => Promise<void>;
}

async function waitForHealthy(origin: string, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}: ${output()}`);
    try {
      const response = await fetch(`${origin}/healthz`);
      if (response.status === 200) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`server not healthy within 15 s: ${output()}`);
}

/** Starts dist/main.js on a free loopback port with the memory store and API key `apiKey`; resolves once healthy. */
export async function startReceiverProcess(apiKey: string): Promise<ReceiverProcess> {
  const port = await closedPort();
  const origin = `http://127.0.0.1:${port}`;
  let output = '';
  const child = spawn(process.execPath, [BUILT_SERVER], {
    cwd: REPO,
    env: {
      PATH: process.env.PATH,
      PORT: String(port),
      HOST: '127.0.0.1',
      STORE: 'memory',
      API_KEYS: apiKey,
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const stop = async () => {
    if (child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  };
  try {
    await waitForHealthy(origin, child, () => output);
  } catch (error) {
    await stop();
    throw error;
  }
  return { origin, stop };
}
