import { freePort, sleep } from '../helpers/ports.js';
import { ServerProcess } from '../helpers/server-process.js';

/**
 * A receiver process (`node dist/main.js`) under a supervisor, as a process manager would run it: when it
 * dies (SIGKILLed by the chaos suite, or by its own sink), it is started again on the same port. Every
 * death is recorded with its pid, so a double processing can be traced to the crash that caused it.
 */

export interface Death {
  receiver: string;
  pid: number;
  signal: NodeJS.Signals | null;
  code: number | null;
  /** Killed by the chaos suite (true) or died by itself (its sink's SIGKILL, a crash). */
  injected: boolean;
  /** Epoch ms: when the suite sent SIGKILL, else when the exit was seen (the report prefers the sink's own line). */
  at: number;
}

/** Lines of the receiver's log worth counting in a report. */
const NOTABLE: Record<string, string> = {
  'could not record the event as processed': 'completeFailed',
  'claim was taken over by another delivery before completion': 'completeTakenOver',
  'lost a claim while its sink was still running': 'leaseLost',
  'could not renew a claim lease': 'renewFailed',
  'could not release the claim after a sink failure': 'releaseFailed',
  'settling a late sink failed': 'settleFailed',
};

export class SupervisedReceiver {
  readonly deaths: Death[] = [];
  readonly notable: Record<string, number> = {};
  readonly pids: number[] = [];
  restarts = 0;
  private current: ServerProcess | undefined;
  private stopping = false;
  /** When the suite sent its SIGKILL (the exit is only seen later, by a busy event loop). */
  private killSentAt: number | undefined;
  private nextDownMs: number;
  private restarting: Promise<void> | undefined;
  private log = '';

  private constructor(
    readonly name: string,
    readonly port: number,
    private readonly env: Record<string, string>,
    private readonly restartDelayMs: number,
  ) {
    this.nextDownMs = restartDelayMs;
  }

  static async start(
    name: string,
    env: Record<string, string>,
    options: { restartDelayMs?: number; port?: number } = {},
  ): Promise<SupervisedReceiver> {
    const receiver = new SupervisedReceiver(
      name,
      options.port ?? (await freePort()),
      env,
      options.restartDelayMs ?? 200,
    );
    await receiver.launch();
    return receiver;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.current?.child.pid;
  }

  /** Every receiver log line kept so far (warnings and errors: the suite runs it at LOG_LEVEL=warn). */
  get output(): string {
    return this.log + (this.current ? this.current.stdout + this.current.stderr : '');
  }

  private async launch(): Promise<void> {
    // The port was just freed by the dead process; a start that fails (rarely: port still held) is retried.
    for (let attempt = 1; ; attempt += 1) {
      try {
        const server = await ServerProcess.start({ ...this.env, PORT: String(this.port) });
        this.current = server;
        if (server.child.pid !== undefined) this.pids.push(server.child.pid);
        void server.exited.then((exit) => this.onExit(server, exit));
        return;
      } catch (error) {
        if (attempt >= 5 || this.stopping) throw error;
        await sleep(200);
      }
    }
  }

  private onExit(server: ServerProcess, exit: { code: number | null; signal: NodeJS.Signals | null }): void {
    const text = server.stdout + server.stderr;
    this.collect(text);
    // Keep only the tail of old processes' output: enough to diagnose, bounded in memory.
    this.log = (this.log + text).slice(-200_000);
    if (this.current === server) this.current = undefined;
    this.deaths.push({
      receiver: this.name,
      pid: server.child.pid ?? -1,
      signal: exit.signal,
      code: exit.code,
      injected: this.killSentAt !== undefined,
      at: this.killSentAt ?? Date.now(),
    });
    this.killSentAt = undefined;
    if (this.stopping) return;
    const down = this.nextDownMs;
    this.nextDownMs = this.restartDelayMs;
    this.restarting = sleep(down).then(async () => {
      if (this.stopping) return;
      this.restarts += 1;
      await this.launch();
    });
  }

  private collect(text: string): void {
    for (const [message, name] of Object.entries(NOTABLE)) {
      const count = text.split(message).length - 1;
      if (count > 0) this.notable[name] = (this.notable[name] ?? 0) + count;
    }
  }

  /** SIGKILLs the running process; the supervisor starts it again after `downMs`. */
  async kill(downMs = this.restartDelayMs): Promise<boolean> {
    const server = this.current;
    if (!server || this.stopping) return false;
    this.killSentAt = Date.now();
    this.nextDownMs = downMs;
    await server.stop('SIGKILL');
    return true;
  }

  /** Waits until a process is up again (after a kill or a sink's suicide). */
  async ready(timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.current === undefined && Date.now() < deadline) {
      await (this.restarting ?? sleep(50));
      if (this.current === undefined) await sleep(50);
    }
  }

  /** Stops for good: SIGTERM (in-flight requests and late sinks finish), SIGKILL after `graceMs`. */
  async stop(graceMs = 10_000): Promise<void> {
    this.stopping = true;
    await this.restarting?.catch(() => undefined);
    const server = this.current;
    if (!server) return;
    const timer = setTimeout(() => void server.stop('SIGKILL'), graceMs);
    await server.stop('SIGTERM');
    clearTimeout(timer);
  }
}
