import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import ts from 'typescript';

/** The processes the benchmark runs: redis-server, the built receiver, the bare baseline; CPU pinning and /proc. */

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

// One copy of these, shared with the tests.
import { freePort, sleep } from '../../test/helpers/ports.js';

export { freePort, sleep };

export async function waitFor(
  probe: () => Promise<boolean> | boolean,
  timeoutMs: number,
  what: string,
  failed?: () => string | undefined,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const failure = failed?.();
    if (failure !== undefined) throw new Error(failure);
    try {
      if (await probe()) return;
    } catch {
      // not yet
    }
    await sleep(50);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/**
 * A bench server (bench/baseline.ts, bench/setnx.ts) compiled to plain JavaScript, so that it runs like the
 * built receiver: without tsx's loader thread (a second V8 isolate: more RSS, and CPU the receiver does not
 * pay). Written under node_modules/.cache so that its packages resolve from it; `../src/` imports point at
 * `dist/` (npm run bench builds first). Returns the path relative to the repository.
 */
export function compileBenchServer(name: 'baseline' | 'setnx'): string {
  const source = readFileSync(join(REPO_ROOT, `bench/${name}.ts`), 'utf8');
  const { outputText } = ts.transpileModule(source, {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
  });
  // The receiver's own modules (the yardstick's envelope schema) are imported from the build, as it runs them.
  const distUrl = pathToFileURL(join(REPO_ROOT, 'dist')).href;
  const output = outputText.replace(/(from\s+['"])\.\.\/src\//g, `$1${distUrl}/`);
  const relative = `node_modules/.cache/ebdedup-bench/${name}.mjs`;
  mkdirSync(join(REPO_ROOT, dirname(relative)), { recursive: true });
  writeFileSync(join(REPO_ROOT, relative), output);
  return relative;
}

/** Busy and total CPU time of the whole machine in ms, from /proc/stat (all CPUs). */
export function readMachineCpuMs(): { busyMs: number; totalMs: number } {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
    const ticks = line.trim().split(/\s+/).slice(1).map(Number);
    const idle = (ticks[3] ?? 0) + (ticks[4] ?? 0);
    const total = ticks.slice(0, 8).reduce((sum, value) => sum + value, 0);
    const perMs = 1000 / ticksPerSecond();
    return { busyMs: (total - idle) * perMs, totalMs: total * perMs };
  } catch {
    return { busyMs: Number.NaN, totalMs: Number.NaN };
  }
}

/**
 * Waits until the machine is quiet: less than `maxBusyPct` % of one CPU busy over a one-second window
 * (between scenarios the benchmark's own processes are idle, so what is busy is someone else's build or
 * tests). Gives up after `maxWaitS` seconds. Returns the seconds waited and the last busy share.
 */
export async function waitForQuiet(
  maxWaitS: number,
  maxBusyPct = 15,
): Promise<{ waitedS: number; busyPct: number }> {
  const started = Date.now();
  let busyPct = Number.NaN;
  do {
    const before = readMachineCpuMs();
    const wallBefore = performance.now();
    await sleep(1000);
    busyPct = ((readMachineCpuMs().busyMs - before.busyMs) / (performance.now() - wallBefore)) * 100;
    if (!(busyPct > maxBusyPct)) break;
  } while (Date.now() - started < maxWaitS * 1000);
  return { waitedS: (Date.now() - started) / 1000, busyPct };
}

let tasksetChecked: boolean | undefined;

/** Whether `taskset` (util-linux) is there and this machine has at least two CPUs to pin to. */
export function canPin(): boolean {
  if (tasksetChecked === undefined) {
    try {
      execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' });
      tasksetChecked = true;
    } catch {
      tasksetChecked = false;
    }
  }
  return tasksetChecked;
}

/** A command line, prefixed with `taskset -c CPU` when pinning is possible and asked for. */
export function pinned(cpu: number | undefined, command: string, args: string[]): [string, string[]] {
  if (cpu === undefined || !canPin()) return [command, args];
  return ['taskset', ['-c', String(cpu), command, ...args]];
}

/** Pins this process and all its threads (the load generator) to one CPU. */
export function pinSelf(cpu: number): boolean {
  if (!canPin()) return false;
  execFileSync('taskset', ['-a', '-c', '-p', String(cpu), String(process.pid)], { stdio: 'ignore' });
  return true;
}

/** VmRSS of a process in MB (1024²), or NaN when it is gone. */
export function readRssMb(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    return match ? Number(match[1]) / 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

let clockTicks: number | undefined;

/** USER_HZ: the unit of /proc's CPU times (100 nearly everywhere). */
function ticksPerSecond(): number {
  clockTicks ??= (() => {
    try {
      return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      return 100;
    }
  })();
  return clockTicks;
}

/** User + system CPU time of a process in ms, from /proc/<pid>/stat. */
export function readCpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    return ((utime + stime) * 1000) / ticksPerSecond();
  } catch {
    return Number.NaN;
  }
}

/** Samples a process's RSS every `intervalMs` while running. */
export class RssSampler {
  readonly samples: { t: number; mb: number }[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly started = Date.now();

  constructor(
    private readonly pid: number,
    private readonly intervalMs = 200,
  ) {}

  start(): this {
    this.sample();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    return this;
  }

  private sample(): void {
    const mb = readRssMb(this.pid);
    if (!Number.isNaN(mb)) this.samples.push({ t: (Date.now() - this.started) / 1000, mb });
  }

  stop(): { peakMb: number; lastMb: number } {
    if (this.timer) clearInterval(this.timer);
    this.sample();
    const values = this.samples.map((sample) => sample.mb);
    return {
      peakMb: values.length > 0 ? Math.max(...values) : Number.NaN,
      lastMb: values.at(-1) ?? Number.NaN,
    };
  }
}

/** Every bench child still running, and every redis-server's folder, for an interrupted run (`killChildren`). */
const liveChildren = new Set<ChildProcess>();
const liveDirs = new Set<string>();

/**
 * SIGKILLs every server and redis-server the bench started that is still running, and removes the
 * redis-servers' folders. For a SIGINT or SIGTERM sent to the bench process alone (a terminal's Ctrl-C reaches
 * the children too, `kill <pid>` does not), which would otherwise leave them running, pinned to the CPUs.
 */
export function killChildren(): void {
  for (const child of liveChildren) child.kill('SIGKILL');
  for (const dir of liveDirs) rmSync(dir, { recursive: true, force: true });
}

/** A child process whose output is kept (the last 64 KB) for error messages. */
class Child {
  stdout = '';
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(readonly process: ChildProcess) {
    process.stdout?.on('data', (chunk: Buffer) => {
      this.stdout = (this.stdout + chunk.toString('utf8')).slice(-65_536);
    });
    process.stderr?.on('data', (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString('utf8')).slice(-65_536);
    });
    liveChildren.add(process);
    this.exited = new Promise((resolve) =>
      process.once('exit', (code, signal) => {
        liveChildren.delete(process);
        resolve({ code, signal });
      }),
    );
  }

  get pid(): number {
    return this.process.pid as number;
  }

  get running(): boolean {
    return this.process.exitCode === null && this.process.signalCode === null;
  }

  exitText(): string | undefined {
    if (this.running) return undefined;
    const output = (this.stderr.trim() || this.stdout.trim()).split('\n').slice(-3).join(' / ');
    return `exited with ${this.process.exitCode ?? this.process.signalCode}${output ? `: ${output}` : ''}`;
  }

  async stop(timeoutMs = 15_000): Promise<void> {
    if (!this.running) return;
    this.process.kill('SIGTERM');
    const timer = setTimeout(() => this.process.kill('SIGKILL'), timeoutMs);
    await this.exited;
    clearTimeout(timer);
  }
}

export class RedisProcess {
  private constructor(
    private readonly child: Child,
    readonly port: number,
    private readonly dir: string,
    readonly client: Redis,
  ) {}

  /** A private redis-server on a free loopback port, without persistence (the receiver is measured, not disks). */
  static async start(cpu: number | undefined): Promise<RedisProcess> {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'ebdedup-bench-redis-'));
    liveDirs.add(dir);
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
    args.push('--dir', dir, '--daemonize', 'no', '--loglevel', 'warning');
    const [command, argv] = pinned(cpu, 'redis-server', args);
    const child = new Child(spawn(command, argv, { stdio: ['ignore', 'pipe', 'pipe'] }));
    child.process.on('error', () => {});
    const client = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 1 });
    client.on('error', () => {});
    const redis = new RedisProcess(child, port, dir, client);
    await waitFor(
      async () => {
        if (client.status === 'wait') await client.connect();
        return (await client.ping()) === 'PONG';
      },
      10_000,
      `redis-server on port ${port}`,
      () => child.exitText(),
    );
    return redis;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get pid(): number {
    return this.child.pid;
  }

  async version(): Promise<string> {
    const info = await this.client.info('server');
    return /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown';
  }

  async usedMemory(): Promise<number> {
    const info = await this.client.info('memory');
    return Number(/used_memory:(\d+)/.exec(info)?.[1]);
  }

  async dbsize(): Promise<number> {
    return this.client.dbsize();
  }

  async stop(): Promise<void> {
    this.client.disconnect();
    await this.child.stop();
    rmSync(this.dir, { recursive: true, force: true });
    liveDirs.delete(this.dir);
  }
}

export interface ServerOptions {
  cpu: number | undefined;
  env?: Record<string, string>;
  /** Node flags before the script (`--cpu-prof` …). */
  nodeArgs?: string[];
}

/** An HTTP server process under test: the built receiver or the bare baseline. */
export class ServerProcess {
  private constructor(
    private readonly child: Child,
    readonly port: number,
  ) {}

  static async start(script: string, readyPath: string, options: ServerOptions): Promise<ServerProcess> {
    const port = await freePort();
    const [command, argv] = pinned(options.cpu, process.execPath, [...(options.nodeArgs ?? []), script]);
    const child = new Child(
      spawn(command, argv, {
        cwd: REPO_ROOT,
        env: {
          PATH: process.env.PATH ?? '/usr/bin:/bin',
          HOME: process.env.HOME ?? '/tmp',
          HOST: '127.0.0.1',
          PORT: String(port),
          ...options.env,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
    );
    const server = new ServerProcess(child, port);
    try {
      await waitFor(
        async () => (await fetch(`${server.url}${readyPath}`)).status < 500,
        20_000,
        `${script} to listen`,
        () => child.exitText(),
      );
    } catch (error) {
      await child.stop(2000);
      throw error;
    }
    return server;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get pid(): number {
    return this.child.pid;
  }

  get running(): boolean {
    return this.child.running;
  }

  get stderr(): string {
    return this.child.stderr;
  }

  /** Why it stopped (exit code and its last lines of output), or undefined while it runs. */
  exitText(): string | undefined {
    return this.child.exitText();
  }

  async stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    await this.child.stop();
    return this.child.exited;
  }
}
