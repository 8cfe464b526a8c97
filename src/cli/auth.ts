import { type ParsedArgs, stringOption } from './args.js';
import { CliError, type Env } from './io.js';

export interface AuthChoice {
  /** Headers to send; their values are secrets and never printed. */
  headers: Record<string, string>;
  /** What was chosen, fit to print: `api-key (x-api-key)`, `basic (user ops)`, `bearer`, `none`. */
  description: string;
  /** No credentials were given: no auth header is sent. */
  anonymous: boolean;
}

const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * The auth header an API destination connection sends: from `--api-key` / `--basic` / `--bearer`, else from
 * `EBDEDUP_API_KEY` / `EBDEDUP_BASIC` / `EBDEDUP_BEARER` (so secrets stay out of shell history). At most one kind.
 */
export function resolveAuth(command: string, values: ParsedArgs['values'], env: Env): AuthChoice {
  const fromFlags = {
    apiKey: stringOption(values, 'api-key'),
    basic: stringOption(values, 'basic'),
    bearer: stringOption(values, 'bearer'),
  };
  const flagCount = Object.values(fromFlags).filter((v) => v !== undefined).length;
  if (flagCount > 1) {
    throw new CliError(`ebdedup ${command}: give only one of --api-key, --basic and --bearer`);
  }
  const nonEmpty = (value: string | undefined) => (value === undefined || value === '' ? undefined : value);
  const fromEnv = {
    apiKey: nonEmpty(env.EBDEDUP_API_KEY),
    basic: nonEmpty(env.EBDEDUP_BASIC),
    bearer: nonEmpty(env.EBDEDUP_BEARER),
  };
  let chosen = fromFlags;
  let origin = 'option';
  if (flagCount === 0) {
    const envCount = Object.values(fromEnv).filter((v) => v !== undefined).length;
    if (envCount > 1) {
      throw new CliError(
        `ebdedup ${command}: set only one of EBDEDUP_API_KEY, EBDEDUP_BASIC and EBDEDUP_BEARER`,
      );
    }
    chosen = fromEnv;
    origin = 'environment';
  }

  if (chosen.apiKey !== undefined) {
    const header =
      stringOption(values, 'api-key-header') ?? nonEmpty(env.EBDEDUP_API_KEY_HEADER) ?? 'x-api-key';
    if (!HEADER_NAME.test(header)) {
      throw new CliError(`ebdedup ${command}: --api-key-header "${header}" is not a valid header name`);
    }
    if (chosen.apiKey === '') throw new CliError(`ebdedup ${command}: --api-key is empty`);
    return {
      headers: { [header.toLowerCase()]: chosen.apiKey },
      description: `api-key (${header}, ${origin})`,
      anonymous: false,
    };
  }
  if (chosen.basic !== undefined) {
    const colon = chosen.basic.indexOf(':');
    if (colon <= 0) {
      const name = origin === 'option' ? '--basic' : 'EBDEDUP_BASIC';
      throw new CliError(`ebdedup ${command}: ${name} must be USER:PASSWORD`);
    }
    const user = chosen.basic.slice(0, colon);
    return {
      headers: { authorization: `Basic ${Buffer.from(chosen.basic, 'utf8').toString('base64')}` },
      description: `basic (user ${user}, ${origin})`,
      anonymous: false,
    };
  }
  if (chosen.bearer !== undefined) {
    if (chosen.bearer === '') throw new CliError(`ebdedup ${command}: --bearer is empty`);
    return {
      headers: { authorization: `Bearer ${chosen.bearer}` },
      description: `bearer (${origin})`,
      anonymous: false,
    };
  }
  return { headers: {}, description: 'none', anonymous: true };
}
