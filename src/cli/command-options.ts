import { flagOption, intOption, type OptionSpec, type ParsedArgs } from './args.js';
import {
  type CliContext,
  CliError,
  EXIT_OK,
  println,
  type ResolvedContext,
  redactUrl,
  resolveContext,
} from './io.js';
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from './retry.js';

/**
 * The option preamble the delivering commands (replay, put-events, redrive) share: how many attempts, how long
 * to wait, what to print. Each command adds its own options to these.
 */
export const DELIVERY_OPTIONS: OptionSpec = {
  'max-attempts': { type: 'string' },
  quiet: { type: 'boolean' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  'timeout-ms': { type: 'string' },
  'retry-base-ms': { type: 'string' },
};

export interface DeliveryFlags {
  /** No line per delivery, only the summary. */
  quiet: boolean;
  /** The summary as one JSON object on stdout; per-item lines go to stderr. */
  json: boolean;
  /** Client timeout per attempt. */
  timeoutMs: number;
  policy: RetryPolicy;
}

export function deliveryFlags(
  command: string,
  values: ParsedArgs['values'],
  defaultTimeoutMs: number,
): DeliveryFlags {
  return {
    quiet: flagOption(values, 'quiet'),
    json: flagOption(values, 'json'),
    timeoutMs: intOption(command, values, 'timeout-ms', defaultTimeoutMs, 1, 600_000),
    policy: {
      ...DEFAULT_RETRY_POLICY,
      maxAttempts: intOption(command, values, 'max-attempts', DEFAULT_RETRY_POLICY.maxAttempts, 1, 1000),
      baseDelayMs: intOption(command, values, 'retry-base-ms', DEFAULT_RETRY_POLICY.baseDelayMs, 0, 600_000),
    },
  };
}

/** The usage lines for DELIVERY_OPTIONS' `--max-attempts` … `--retry-base-ms`, aligned at `column`. */
export function deliveryOptionsUsage(
  column: number,
  defaultTimeoutMs: number,
  timeoutNote = '',
): {
  options: string;
  advanced: string;
} {
  const line = (flag: string, text: string) => `  ${flag.padEnd(column - 2)}${text}`;
  return {
    options: [
      line(
        '--max-attempts N',
        `attempts per delivery, the first included (default ${DEFAULT_RETRY_POLICY.maxAttempts})`,
      ),
      line('--quiet', 'no line per delivery, only the summary'),
      line('--json', 'print the summary as one JSON object on stdout (other lines go to stderr)'),
      line('-h, --help', 'this help'),
    ].join('\n'),
    advanced: [
      line('--timeout-ms MS', `client timeout per attempt (default ${defaultTimeoutMs}${timeoutNote})`),
      line(
        '--retry-base-ms MS',
        `backoff window before the 2nd attempt (default ${DEFAULT_RETRY_POLICY.baseDelayMs}; doubles each time)`,
      ),
    ].join('\n'),
  };
}

/** An http:// or https:// URL from an option or a variable (`name` says which, for the error line). */
export function httpUrl(command: string, name: string, raw: string): URL {
  // `127.0.0.1:3000/events` is not a URL, and `localhost:3000/events` is one of scheme `localhost:`: both
  // most likely lack `http://`.
  const hint = raw.includes('://') ? '' : ` (did you mean ${redactUrl(`http://${raw}`)}?)`;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new CliError(`ebdedup ${command}: ${name} "${redactUrl(raw)}" is not a URL${hint}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new CliError(`ebdedup ${command}: ${name} must be http:// or https://, got ${url.protocol}${hint}`);
  }
  return url;
}

/**
 * Resolves the context and parses a command's options: prints the usage for `--help` and one line for a
 * usage error (a CliError), returning the exit code in both cases; else the context and the options.
 */
export async function openCommand<T>(
  input: CliContext,
  usage: string,
  parse: (ctx: ResolvedContext) => T | 'help' | Promise<T | 'help'>,
): Promise<{ ctx: ResolvedContext; options: T } | number> {
  const ctx = resolveContext(input);
  try {
    const options = await parse(ctx);
    if (options === 'help') {
      println(ctx.stdout, usage);
      return EXIT_OK;
    }
    return { ctx, options };
  } catch (error) {
    if (error instanceof CliError) {
      println(ctx.stderr, error.message);
      return error.exitCode;
    }
    throw error;
  }
}
