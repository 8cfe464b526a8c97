import { randomUUID } from 'node:crypto';
import { homedir } from 'node:os';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';

/** Writes a chunk of text somewhere (process.stdout in the bin, an array in tests). */
export type Writer = (chunk: string) => void;

export type Env = Readonly<Record<string, string | undefined>>;

/**
 * Everything a command touches outside itself. The bin passes `process.*`; tests pass their own, so every command
 * runs in-process and deterministically.
 */
export interface CliContext {
  /** The arguments after the command name. */
  argv: readonly string[];
  env: Env;
  stdout: Writer;
  stderr: Writer;
  /** Whether stderr is a terminal (enables the progress bar). Default false. */
  stderrIsTTY?: boolean;
  /** Folder relative paths are read from. Default `process.cwd()`. */
  cwd?: string;
  /** Home folder, for `~/.aws/credentials`. Default `os.homedir()`. */
  homedir?: string;
  /** Monotonic milliseconds, for latencies. */
  now?: () => number;
  /** Wall clock, for event `time` and SigV4 dates. */
  clock?: () => Date;
  /** Uniform random number in [0, 1), for jitter and --shuffle. */
  random?: () => number;
  sleep?: (ms: number) => Promise<void>;
  randomUUID?: () => string;
  /** Aborted on SIGTERM/SIGINT by the bin: long-running commands (consume) stop cleanly. */
  signal?: AbortSignal;
}

export type Command = (ctx: CliContext) => Promise<number>;

/** Exit codes shared by every command. */
export const EXIT_OK = 0;
/** Something was not delivered (a final 4xx, retries exhausted, an unreadable file, a failed entry). */
export const EXIT_FAILED = 1;
/** The command could not start: bad arguments, a missing setting, no events. */
export const EXIT_USAGE = 2;

/** A CliContext with every optional dependency filled in. */
export type ResolvedContext = Required<CliContext>;

export function resolveContext(ctx: CliContext): ResolvedContext {
  return {
    argv: ctx.argv,
    env: ctx.env,
    stdout: ctx.stdout,
    stderr: ctx.stderr,
    stderrIsTTY: ctx.stderrIsTTY ?? false,
    cwd: ctx.cwd ?? process.cwd(),
    homedir: ctx.homedir ?? homedir(),
    now: ctx.now ?? (() => performance.now()),
    clock: ctx.clock ?? (() => new Date()),
    random: ctx.random ?? Math.random,
    sleep: ctx.sleep ?? ((ms) => delay(ms).then(() => undefined)),
    randomUUID: ctx.randomUUID ?? (() => randomUUID()),
    signal: ctx.signal ?? new AbortController().signal,
  };
}

/** Writes `text` followed by a newline. */
export function println(writer: Writer, text: string): void {
  writer(`${text}\n`);
}

/** An error whose message is the one line to show the user; the command exits with `exitCode`. */
export class CliError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode: number = EXIT_USAGE) {
    super(message);
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}

/** The message of anything thrown, without a stack. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code && !error.message.includes(code) ? `${error.message} (${code})` : error.message;
  }
  return String(error);
}

/** The first line of anything thrown (or said), at most 300 characters: enough to act on, never a whole output. */
export function firstLine(error: unknown): string {
  const line = errorMessage(error).split(/\r?\n/, 1)[0] ?? '';
  return line.length > 300 ? `${line.slice(0, 300)}…` : line;
}

/**
 * A URL fit to print: everything between the scheme and the LAST `@` becomes `***`. A password may hold `/`, `?`
 * or `#` (a base64 one may hold `/`), which ends the authority early: `new URL()` then rejects the text or reads
 * the rest of the password as a port and a path (`redis://default:1234/pw@host`), and a mask stopping at the
 * first of them would print the password. Masking a path's own `@` too is the safe direction.
 */
export function redactUrl(url: URL | string): string {
  let text = url.toString();
  try {
    // Printed as the URL parser writes it (`http://host` as `http://host/`), when it is one.
    text = new URL(text).toString();
  } catch {
    // Not a URL (`127.0.0.1:3000/events`): shown as given, so the user sees what was wrong with it.
  }
  return text.replace(/^([a-z][a-z0-9+.-]*:\/\/)?.*@/is, '$1***@');
}
