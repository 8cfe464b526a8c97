import { readFileSync } from 'node:fs';
import type { Cluster, Redis } from 'ioredis';
import type { MissingReply } from './bucket-keys.js';

/**
 * The store's Lua scripts, kept as `.lua` files in ./scripts (each opens with a comment naming its KEYS and
 * ARGV), read once when this module loads and registered on a connection with ioredis `defineCommand`, which
 * sends EVALSHA and falls back to EVAL when Redis does not know the script yet (as BullMQ keeps its
 * `commands/*.lua`). Each state change is one script, so the check and the write cannot interleave with
 * another receiver's. The scripts that read or write a processed mark are marks.lua (the shared prelude:
 * the location's keys, Redis's clock, finding and adding a mark) followed by their own file. The build
 * copies ./scripts next to the compiled module (scripts/postbuild.mjs).
 *
 * The number of keys is the call's first argument (scripts take one event or a batch of them).
 */

const SCRIPTS_DIR = new URL('./scripts/', import.meta.url);

function readScript(name: string): string {
  return readFileSync(new URL(`${name}.lua`, SCRIPTS_DIR), 'utf8');
}

const MARKS = readScript('marks');
/** A script built on marks.lua. */
const onMarks = (name: string): string => `${MARKS}\n${readScript(name)}`;

export const SCRIPTS = {
  ebdedupClaim: onMarks('claim'),
  ebdedupComplete: onMarks('complete'),
  ebdedupTouch: onMarks('touch'),
  ebdedupInspect: onMarks('inspect'),
  ebdedupDelete: onMarks('delete'),
  ebdedupAppendOnce: onMarks('append-once'),
  ebdedupRelease: readScript('release'),
  ebdedupRenew: readScript('renew'),
} as const;

export type ScriptName = keyof typeof SCRIPTS;

/** A claim `['~owner', lease left]`, a mark `[first seen, TTL left]`, or poison `['!', failures]`. */
export type HeldReply = [string, number];
export type ClaimReply = 1 | HeldReply | MissingReply;
export type CompleteReply = 0 | 1 | MissingReply;
/** The redis-stream sink's: the entry id when appended, else what the location holds. */
export type AppendReply = string | HeldReply | MissingReply;

/** Keys count first, then the keys, then the arguments. */
type ScriptArgs = [numberOfKeys: number, ...keysAndArgs: (string | number)[]];

/** The commands `defineCommand` adds; ioredis cannot type them itself. */
export interface DedupCommands {
  ebdedupClaim(...args: ScriptArgs): Promise<ClaimReply[]>;
  ebdedupComplete(...args: ScriptArgs): Promise<CompleteReply[]>;
  ebdedupAppendOnce(...args: ScriptArgs): Promise<AppendReply[]>;
  ebdedupTouch(...args: ScriptArgs): Promise<string | null | MissingReply>;
  ebdedupInspect(...args: ScriptArgs): Promise<HeldReply | null | MissingReply>;
  ebdedupDelete(...args: ScriptArgs): Promise<HeldReply | null | MissingReply>;
  ebdedupRelease(claim: string, failures: string, owner: string, failuresTtlMs: number): Promise<number>;
  ebdedupRenew(claim: string, owner: string, leaseMs: number): Promise<number>;
}

export type RedisClient = Redis | Cluster;
export type DedupClient = RedisClient & DedupCommands;

const FIXED_KEYS: Partial<Record<ScriptName, number>> = { ebdedupRelease: 2, ebdedupRenew: 1 };

/**
 * The scripts whose first argument is their number of keys. ioredis's Cluster auto-pipelining picks a
 * command's node by its first argument, which for these is a number, not a key: they must be left out of it
 * (`autoPipeliningIgnoredCommands`). They need none: the store batches them itself (batcher.ts).
 */
export const KEY_COUNTED_SCRIPTS = (Object.keys(SCRIPTS) as ScriptName[]).filter(
  (name) => FIXED_KEYS[name] === undefined,
) as KeyCountedScript[];

export type KeyCountedScript = Exclude<ScriptName, 'ebdedupRelease' | 'ebdedupRenew'>;

/** Registers every script on `client` (once per client: a second call is a no-op). */
export function defineDedupCommands(client: RedisClient): DedupClient {
  const defined = client as DedupClient;
  if (typeof defined.ebdedupClaim === 'function') return defined;
  for (const [name, lua] of Object.entries(SCRIPTS) as [ScriptName, string][]) {
    const numberOfKeys = FIXED_KEYS[name];
    client.defineCommand(name, numberOfKeys === undefined ? { lua } : { lua, numberOfKeys });
  }
  return defined;
}
