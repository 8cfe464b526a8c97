import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort, waitFor } from './ports.js';

/**
 * A connection to one server that fails fast (no reconnection, no retries, no offline queue), for probes and
 * single commands; its errors are the caller's to read from the command's rejection.
 */
export function probeClient(port: number, commandTimeout = 2000): Redis {
  const probe = new Redis({
    port,
    host: '127.0.0.1',
    lazyConnect: true,
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    connectTimeout: 1000,
    commandTimeout,
  });
  probe.on('error', () => {});
  return probe;
}

/** The arguments of a test's own redis-server: loopback, its port, its directory, no RDB snapshots, quiet. */
export function serverArgs(port: number, dir: string, appendOnly: boolean): string[] {
  return [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    appendOnly ? 'yes' : 'no',
    '--dir',
    dir,
    '--daemonize',
    'no',
    '--loglevel',
    'warning',
  ];
}

export interface RedisServerOptions {
  /** Append-only persistence, so a SIGKILL and restart keeps what was acknowledged. */
  appendOnly?: boolean;
}

/**
 * A real redis-server of the test's own on a free loopback port, which tests can stop, kill, freeze,
 * restart and inspect. No mocks: the Lua scripts, TTLs and failure modes are Redis's own.
 */
export class RedisServer {
  private process: ChildProcess | undefined;
  private readonly dir = mkdtempSync(join(tmpdir(), 'ebdedup-redis-'));
  private inspector: Redis | undefined;

  private constructor(
    readonly port: number,
    private readonly options: RedisServerOptions,
  ) {}

  static async start(options: RedisServerOptions = {}): Promise<RedisServer> {
    const server = new RedisServer(await freePort(), options);
    await server.startProcess();
    return server;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.process !== undefined && this.process.exitCode === null && this.process.signalCode === null;
  }

  get pid(): number | undefined {
    return this.process?.pid;
  }

  private async startProcess(): Promise<void> {
    const args = [
      ...serverArgs(this.port, this.dir, this.options.appendOnly ?? false),
      '--appendfsync',
      'always',
    ];
    const child = spawn('redis-server', args, { stdio: 'ignore' });
    this.process = child;
    await waitFor(() => this.ping(), 10_000, `redis-server on port ${this.port}`);
  }

  private async ping(): Promise<boolean> {
    const probe = probeClient(this.port);
    try {
      await probe.connect();
      return (await probe.ping()) === 'PONG';
    } finally {
      probe.disconnect();
    }
  }

  /** A client for the test to look inside (keys, TTLs). Closed with the server. */
  client(): Redis {
    if (this.inspector === undefined) {
      this.inspector = new Redis({ port: this.port, host: '127.0.0.1', maxRetriesPerRequest: 1 });
      // The tests stop and restart the server under it: its reconnection errors are expected.
      this.inspector.on('error', () => {});
    }
    return this.inspector;
  }

  /** Stops the process (SIGKILL by default: nothing flushed beyond what append-only already wrote). */
  async stop(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.process;
    if (!child || !this.running) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGCONT');
    child.kill(signal);
    await exited;
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.startProcess();
  }

  freeze(): void {
    this.process?.kill('SIGSTOP');
  }

  thaw(): void {
    this.process?.kill('SIGCONT');
  }

  async close(): Promise<void> {
    this.inspector?.disconnect();
    this.inspector = undefined;
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
