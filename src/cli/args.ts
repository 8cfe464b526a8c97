import { type ParseArgsConfig, parseArgs } from 'node:util';
import { CliError, firstLine } from './io.js';

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;

export interface ParsedArgs {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}

/**
 * `node:util` parseArgs in strict mode, with its errors turned into one usage line. Every option is either a
 * boolean flag or a single string (no `multiple`), which keeps the values' type simple.
 */
export function parseCommandArgs(command: string, argv: readonly string[], options: OptionSpec): ParsedArgs {
  try {
    const { values, positionals } = parseArgs({
      args: [...argv],
      options,
      allowPositionals: true,
      strict: true,
    });
    const flat: Record<string, string | boolean | undefined> = {};
    for (const [name, value] of Object.entries(values)) {
      // Options are declared without `multiple`, so a value is never an array; keep the last if it were.
      flat[name] = Array.isArray(value) ? (value.at(-1) as string | boolean | undefined) : value;
    }
    return { values: flat, positionals };
  } catch (error) {
    throw new CliError(
      `ebdedup ${command}: ${describeParseError(argv, options, error)} (see ebdedup ${command} --help)`,
    );
  }
}

/**
 * parseArgs' message, except for an unknown option: Node's own adds advice on positionals that start with `-`
 * and leaves a quote unclosed (`as in '-- "--bogus"`), so that one is worded here.
 */
function describeParseError(argv: readonly string[], options: OptionSpec, error: unknown): string {
  if ((error as NodeJS.ErrnoException).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    const { tokens } = parseArgs({
      args: [...argv],
      options,
      allowPositionals: true,
      strict: false,
      tokens: true,
    });
    const unknown = tokens.find((token) => token.kind === 'option' && !Object.hasOwn(options, token.name));
    if (unknown?.kind === 'option') return `unknown option ${unknown.rawName}`;
  }
  // parseArgs' message, without the code errorMessage would add (ERR_PARSE_ARGS_…): it tells a user nothing.
  return firstLine(error instanceof Error ? error.message : error);
}

export function stringOption(values: ParsedArgs['values'], name: string): string | undefined {
  const value = values[name];
  return typeof value === 'string' ? value : undefined;
}

export function flagOption(values: ParsedArgs['values'], name: string): boolean {
  return values[name] === true;
}

/** An integer option within [min, max]; `fallback` when absent. */
export function intOption(
  command: string,
  values: ParsedArgs['values'],
  name: string,
  fallback: number,
  min: number,
  max: number = Number.MAX_SAFE_INTEGER,
): number {
  const raw = stringOption(values, name);
  if (raw === undefined) return fallback;
  const trimmed = raw.trim();
  const parsed = /^-?\d+$/.test(trimmed) ? Number(trimmed) : Number.NaN;
  if (!Number.isSafeInteger(parsed) || parsed < min || parsed > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `at least ${min}` : `from ${min} to ${max}`;
    throw new CliError(`ebdedup ${command}: --${name} must be an integer ${range}, got "${raw}"`);
  }
  return parsed;
}
