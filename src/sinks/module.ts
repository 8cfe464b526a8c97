import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Sink, SinkContext } from './types.js';

/**
 * SINK=module: an ES module of the user's exporting `handle(event, context)` (named, or on its default
 * export), and optionally `close()`. `event` is the parsed body; `context` carries the body exactly as it was
 * sent (`rawBody`), the dedup key, the EventBridge id and an AbortSignal for the deadline.
 */
type Handle = (event: Record<string, unknown>, context: SinkContext) => unknown;

interface UserModule {
  handle?: Handle;
  close?: () => unknown;
  default?: { handle?: Handle; close?: () => unknown };
}

export class SinkModuleError extends Error {
  override readonly name = 'SinkModuleError';
}

export async function createModuleSink(path: string, cwd: string = process.cwd()): Promise<Sink> {
  let loaded: UserModule;
  try {
    loaded = (await import(pathToFileURL(resolve(cwd, path)).href)) as UserModule;
  } catch (error) {
    throw new SinkModuleError(`SINK_MODULE='${path}' cannot be loaded: ${(error as Error).message}`, {
      cause: error,
    });
  }
  const handle = loaded.handle ?? loaded.default?.handle;
  const close = loaded.close ?? loaded.default?.close;
  if (typeof handle !== 'function') {
    throw new SinkModuleError(`SINK_MODULE='${path}' exports no handle(event, context) function`);
  }
  return {
    name: 'module',
    async handle(event, context) {
      await handle(event, context);
    },
    async close() {
      if (typeof close === 'function') await close();
    },
  };
}
