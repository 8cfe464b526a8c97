import { readFileSync } from 'node:fs';
import { CONSUME_USAGE, runConsume } from './consume.js';
import { type CliContext, CliError, type Command, EXIT_OK, EXIT_USAGE, errorMessage, println } from './io.js';
import { PUT_EVENTS_USAGE, runPutEvents } from './put-events.js';
import { runRedrive } from './redrive.js';
import { REDRIVE_USAGE } from './redrive-options.js';
import { REPLAY_USAGE, runReplay } from './replay.js';

interface CommandEntry {
  run: Command;
  /** One line for `ebdedup --help`. */
  summary: string;
  usage: string;
}

/** The subcommands. Adding one is one line here. */
export const COMMANDS: Readonly<Record<string, CommandEntry>> = {
  replay: {
    run: runReplay,
    summary: 'post event files to a receiver as an API destination does',
    usage: REPLAY_USAGE,
  },
  consume: {
    run: runConsume,
    summary: 'read the redis-stream sink with a consumer group, ack after the handler succeeds',
    usage: CONSUME_USAGE,
  },
  'put-events': {
    run: runPutEvents,
    summary: 'send event files to an EventBridge bus (PutEvents, SigV4)',
    usage: PUT_EVENTS_USAGE,
  },
  redrive: {
    run: runRedrive,
    summary: "bring events back from a target's SQS dead-letter queue, deleting each once it is taken",
    usage: REDRIVE_USAGE,
  },
};

export function mainUsage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((name) => name.length));
  const lines = Object.entries(COMMANDS).map(([name, entry]) => `  ${name.padEnd(width)}  ${entry.summary}`);
  return `Usage: ebdedup COMMAND [options]

Commands:
${lines.join('\n')}
  ${'help'.padEnd(width)}  show this help, or a command's (ebdedup help replay)

Options:
  -h, --help     this help
  -v, --version  print the version

Run "ebdedup COMMAND --help" for a command's options.`;
}

export function packageVersion(): string {
  try {
    // src/cli/main.ts and dist/cli/main.js both sit two folders below package.json.
    const text = readFileSync(new URL('../../package.json', import.meta.url), 'utf8');
    const parsed: unknown = JSON.parse(text);
    const version =
      typeof parsed === 'object' && parsed !== null ? (parsed as { version?: unknown }).version : undefined;
    return typeof version === 'string' ? version : 'unknown';
  } catch {
    return 'unknown';
  }
}

/**
 * Runs `ebdedup` with `ctx.argv` holding every argument (the command name first); returns the exit code.
 * Never throws: an unexpected error becomes one line on stderr and exit code 1.
 */
export async function main(ctx: CliContext): Promise<number> {
  const [first, ...rest] = ctx.argv;
  if (first === undefined) {
    println(ctx.stderr, mainUsage());
    return EXIT_USAGE;
  }
  if (first === '-h' || first === '--help') {
    println(ctx.stdout, mainUsage());
    return EXIT_OK;
  }
  if (first === '-v' || first === '--version') {
    println(ctx.stdout, packageVersion());
    return EXIT_OK;
  }
  if (first === 'help') {
    const topic = rest[0];
    if (topic === undefined) {
      println(ctx.stdout, mainUsage());
      return EXIT_OK;
    }
    const entry = Object.hasOwn(COMMANDS, topic) ? COMMANDS[topic] : undefined;
    if (entry === undefined) {
      println(
        ctx.stderr,
        `ebdedup: unknown command "${topic}" (commands: ${Object.keys(COMMANDS).join(', ')})`,
      );
      return EXIT_USAGE;
    }
    println(ctx.stdout, entry.usage);
    return EXIT_OK;
  }
  const entry = Object.hasOwn(COMMANDS, first) ? COMMANDS[first] : undefined;
  if (entry === undefined) {
    println(
      ctx.stderr,
      `ebdedup: unknown command "${first}" (commands: ${Object.keys(COMMANDS).join(', ')}; see ebdedup --help)`,
    );
    return EXIT_USAGE;
  }
  try {
    return await entry.run({ ...ctx, argv: rest });
  } catch (error) {
    if (error instanceof CliError) {
      println(ctx.stderr, error.message);
      return error.exitCode;
    }
    const debug = ctx.env.EBDEDUP_DEBUG === '1' && error instanceof Error && error.stack;
    println(ctx.stderr, `ebdedup ${first}: unexpected error: ${debug || errorMessage(error)}`);
    return 1;
  }
}
