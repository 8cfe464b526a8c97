import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort, waitFor } from './ports.js';

/**
 * The one place tests start `redis-server`: a single server (RedisServer), the nodes of a Cluster or a replica
 * set, and Sentinels are each a RedisProcess with their own arguments.
 */

/**
 * A redis-server that exited before it answered: on a first start, most often because its port, free a moment
 * before, was taken meanwhile (by another test's connection or server).
 */
export class RedisExitedError extends Error {
  override name = 'RedisExitedError';
}

/** How many ports a first start tries before it gives up. */
const START_ATTEMPTS = 3;
/** The last bytes a redis-server wrote, kept for the error when it exits before answering. */
const OUTPUT_TAIL_BYTES = 2048;

/** Every redis-server started here, so a crashed test file still leaves none behind. */
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

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

/** One short-lived connection for a single command; never retries, never queues. */
export async function redisCommand(
  port: number,
  command: string,
  ...args: (string | number)[]
): Promise<unknown> {
  const probe = probeClient(port);
  try {
    await probe.connect();
    return await probe.call(command, ...args);
  } finally {
    probe.disconnect();
  }
}

/** `INFO`-style text (`key:value` lines) as a map. */
export function infoFields(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon > 0 && !line.startsWith('#')) fields.set(line.slice(0, colon), line.slice(colon + 1).trim());
  }
  return fields;
}

/** The end of a node's or Sentinel's log file, where it logs instead of stdout. */
function readLogTail(dir: string): string {
  for (const name of ['redis.log', 'sentinel.log']) {
    try {
      return readFileSync(join(dir, name), 'utf8').trim().slice(-OUTPUT_TAIL_BYTES);
    } catch {
      // not this one
    }
  }
  return '';
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

/** The key a WAIT probe writes when the caller names none (any key will do outside a Cluster). */
const SYNC_PROBE_KEY = 'ebdedup-test:sync-probe';

/**
 * One redis-server process on a loopback port, in its own directory (which survives a restart, so a cluster
 * node keeps its nodes.conf and an append-only server its data). Stop, kill, freeze, thaw, restart, inspect.
 */
export class RedisProcess {
  private child: ChildProcess | undefined;

  protected constructor(
    readonly port: number,
    protected readonly dir: string,
    /** The whole argument list of `redis-server`. */
    private readonly args: readonly string[],
  ) {
    mkdirSync(dir, { recursive: true });
  }

  /**
   * Starts a new process on a port just found free (`make` builds it for that port), and on another port if it
   * exits before answering: the port was free when asked for, and may have been taken before redis-server bound it.
   */
  protected static async startOnFreePort<T extends RedisProcess>(
    make: (port: number) => Promise<T>,
  ): Promise<T> {
    for (let attempt = 1; ; attempt += 1) {
      const node = await make(await freePort());
      try {
        await node.startProcess();
        return node;
      } catch (error) {
        if (!(error instanceof RedisExitedError) || attempt >= START_ATTEMPTS) throw error;
        // A cluster node may have written its nodes.conf (with the ports that failed) before it exited.
        rmSync(join(node.dir, 'nodes.conf'), { force: true });
      }
    }
  }

  /**
   * A Cluster or replica-set node: the server defaults, a log file, immediate replica syncs, then `extraArgs`
   * (a function when they hold ports of their own, such as a Cluster bus port, chosen again on each attempt).
   */
  static async startNode(
    extraArgs: readonly string[] | (() => Promise<readonly string[]>) = [],
    dir?: string,
  ): Promise<RedisProcess> {
    const home = dir ?? mkdtempSync(join(tmpdir(), 'ebdedup-node-'));
    return RedisProcess.startOnFreePort(
      async (port) =>
        new RedisProcess(port, home, [
          ...serverArgs(port, home, false),
          '--logfile',
          join(home, 'redis.log'),
          // A replica's full sync starts at once instead of after the default 5 s (diskless) delay.
          '--repl-diskless-sync-delay',
          '0',
          ...(typeof extraArgs === 'function' ? await extraArgs() : extraArgs),
        ]),
    );
  }

  /**
   * A Sentinel: `redis-server sentinel.conf --sentinel` with `config` (the `sentinel …` lines) written once
   * into its directory, which Sentinel then rewrites as it learns the replicas, its peers and failovers.
   */
  static async startSentinel(config: readonly string[], dir?: string): Promise<RedisProcess> {
    const home = dir ?? mkdtempSync(join(tmpdir(), 'ebdedup-sentinel-'));
    mkdirSync(home, { recursive: true });
    const file = join(home, 'sentinel.conf');
    return RedisProcess.startOnFreePort(async (port) => {
      const lines = [
        `port ${port}`,
        'bind 127.0.0.1',
        'daemonize no',
        `dir ${home}`,
        `logfile ${join(home, 'sentinel.log')}`,
        ...config,
      ];
      writeFileSync(file, `${lines.join('\n')}\n`);
      return new RedisProcess(port, home, [file, '--sentinel']);
    });
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /**
   * Starts the process (again, after a stop) and waits until it answers PING; fails at once with
   * RedisExitedError, carrying what it wrote last, if it exits first.
   */
  async startProcess(): Promise<void> {
    const child = spawn('redis-server', this.args, { stdio: ['ignore', 'pipe', 'pipe'] });
    live.add(child);
    this.child = child;
    let output = '';
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString('utf8')).slice(-OUTPUT_TAIL_BYTES);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    let answered = false;
    const exitedFirst = new Promise<never>((_resolve, reject) => {
      child.once('exit', (code, signal) => {
        live.delete(child);
        if (!answered) {
          const why = output.trim() || readLogTail(this.dir) || 'no output';
          reject(
            new RedisExitedError(
              `redis-server on port ${this.port} exited (${signal ?? code}) before answering: ${why}`,
            ),
          );
        }
      });
    });
    exitedFirst.catch(() => undefined);
    await Promise.race([
      waitFor(
        async () => (await redisCommand(this.port, 'PING')) === 'PONG',
        10_000,
        `redis-server on port ${this.port}`,
      ),
      exitedFirst,
    ]);
    answered = true;
  }

  /** Stops the process (SIGKILL by default: nothing flushed beyond what append-only already wrote). */
  async stop(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGCONT');
    child.kill(signal);
    await exited;
  }

  /** SIGKILL: nothing is flushed, the peers see the node vanish. */
  kill(): Promise<void> {
    return this.stop('SIGKILL');
  }

  async restart(): Promise<void> {
    await this.kill();
    await this.startProcess();
  }

  freeze(): void {
    if (this.running) this.child?.kill('SIGSTOP');
  }

  thaw(): void {
    if (this.running) this.child?.kill('SIGCONT');
  }

  command(command: string, ...args: (string | number)[]): Promise<unknown> {
    return redisCommand(this.port, command, ...args);
  }

  /**
   * Writes a short-lived probe key (on a Cluster node: one of its own slots) and returns how many replicas
   * WAIT saw acknowledge it, over one connection for both.
   */
  async writeAndWait(replicas: number, timeoutMs: number, key = SYNC_PROBE_KEY): Promise<number> {
    const probe = probeClient(this.port, timeoutMs + 2000);
    try {
      await probe.connect();
      await probe.set(key, String(Date.now()), 'PX', 1000);
      return await probe.wait(replicas, timeoutMs);
    } finally {
      probe.disconnect();
    }
  }

  async info(section: string): Promise<Map<string, string>> {
    return infoFields(String(await this.command('INFO', section)));
  }

  /** The port of the master this node replicates from with its link up; undefined for a master or a broken link. */
  async replicatingFrom(): Promise<number | undefined> {
    const info = await this.info('replication');
    if (info.get('role') !== 'slave' || info.get('master_link_status') !== 'up') return undefined;
    return Number(info.get('master_port'));
  }

  async close(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
