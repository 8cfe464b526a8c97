import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { RedisProcess, serverArgs } from './redis-process.js';

export interface RedisServerOptions {
  /** Append-only persistence, so a SIGKILL and restart keeps what was acknowledged. */
  appendOnly?: boolean;
}

/**
 * A real redis-server of the test's own on a free loopback port, which tests can stop, kill, freeze,
 * restart and inspect. No mocks: the Lua scripts, TTLs and failure modes are Redis's own.
 */
export class RedisServer extends RedisProcess {
  private inspector: Redis | undefined;

  static async start(options: RedisServerOptions = {}): Promise<RedisServer> {
    const dir = mkdtempSync(join(tmpdir(), 'ebdedup-redis-'));
    return RedisProcess.startOnFreePort(async (port) => {
      const args = [...serverArgs(port, dir, options.appendOnly ?? false), '--appendfsync', 'always'];
      return new RedisServer(port, dir, args);
    });
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
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

  override async close(): Promise<void> {
    this.inspector?.disconnect();
    this.inspector = undefined;
    await super.close();
  }
}
